import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic-write.js';
import { jsonPieces } from './json-text.js';

describe('writeFileAtomic', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tb-atomic-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes text given in pieces one after the other, and leaves no temporary file', async () => {
    const value = { steps: Array.from({ length: 500 }, (_, i) => ({ pid: i, argv: ['sh', '-c', `echo ${i}`], exitCode: i % 3 === 0 ? null : 0 })) };
    const file = join(dir, 'trace.json');
    await writeFileAtomic(file, jsonPieces(value, 1000));
    expect(await readFile(file, 'utf8')).toBe(JSON.stringify(value, null, 2));
    expect(await readdir(dir)).toEqual(['trace.json']);
  });

  it('leaves the old file whole when the pieces fail midway', async () => {
    const file = join(dir, 'trace.json');
    await writeFileAtomic(file, 'old');
    function* failing(): Generator<string> {
      yield 'new, half';
      throw new Error('stringify failed');
    }
    await expect(writeFileAtomic(file, failing())).rejects.toThrow('stringify failed');
    expect(await readFile(file, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['trace.json']);
  });
});
