import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readUserFile, UserFileError } from './user-file.js';

const dir = mkdtempSync(join(tmpdir(), 'tb-user-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ctx = join(dir, 'ctx');
mkdirSync(join(ctx, 'sub'), { recursive: true });
writeFileSync(join(ctx, 'Dockerfile'), 'FROM x\n');
writeFileSync(join(dir, 'outside.txt'), 'root:secret-hash:19000:0:99999:7:::\n');
symlinkSync('Dockerfile', join(ctx, 'inside-link'));
symlinkSync(join(dir, 'outside.txt'), join(ctx, 'outside-link'));
symlinkSync('../../outside.txt', join(ctx, 'sub', 'relative-outside-link'));
symlinkSync('/dev/zero', join(ctx, 'zero'));
execFileSync('mkfifo', [join(ctx, 'fifo')]);

const read = (name: string, maxBytes = 1 << 20) => readUserFile(join(ctx, name), { what: name, maxBytes, within: ctx });
const failure = (f: () => unknown): UserFileError => {
  try {
    f();
  } catch (err) {
    if (err instanceof UserFileError) return err;
    throw err;
  }
  throw new Error('expected a UserFileError');
};

describe('readUserFile', () => {
  it('reads a regular file, and one reached by a link that stays inside', () => {
    expect(read('Dockerfile').toString()).toBe('FROM x\n');
    expect(read('inside-link').toString()).toBe('FROM x\n');
  });

  it('refuses a link out of the directory, without reading (or showing) the target', () => {
    for (const name of ['outside-link', 'sub/relative-outside-link']) {
      const err = failure(() => read(name));
      expect(err.code).toBe('outside-context');
      expect(err.message).toBe(`${name} is a symbolic link to a file outside the build context: refused`);
      expect(err.message).not.toContain('secret-hash');
    }
    // without `within` (a --secret the user named), the link is followed
    expect(readUserFile(join(ctx, 'outside-link'), { what: 's', maxBytes: 100 }).toString()).toContain('secret-hash');
  });

  it('refuses what is not a regular file at once: a FIFO does not block, a device does not run for ever', () => {
    expect(failure(() => read('fifo')).message).toBe('fifo is a FIFO, not a regular file: refused');
    const zero = failure(() => readUserFile(join(ctx, 'zero'), { what: 'zero', maxBytes: 100 }));
    expect([zero.code, zero.message]).toEqual(['not-regular', 'zero is a character device, not a regular file: refused']);
    expect(failure(() => read('sub')).code).toBe('not-regular');
  });

  it('refuses a file over the limit, and names a missing one', () => {
    expect(failure(() => read('Dockerfile', 3)).message).toBe('Dockerfile is 7 bytes; the limit is 3');
    expect(failure(() => read('missing')).code).toBe('not-found');
  });
});
