// A rebuild of an unchanged context reuses the daemon's copy of it (#17.7, #24.10): the
// session's shared key is the same for every untraced build of one directory, so BuildKit
// diffs the file list against what it kept and asks for no file; the COPY's content
// checksum is unchanged, so the COPY is CACHED. Then one file changes: only that file is
// sent and the COPY runs again with the new content (the reuse never serves stale files).
// Everything asserted is what BuildKit itself reports in its progress: the vertex's CACHED
// state and the bytes of "transferring context" (received by the daemon).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();

const FILES = 300;
const FILE_SIZE = 4000;
/** What the context's files hold in all: the first build must send at least this much. */
const CONTENT_BYTES = FILES * FILE_SIZE;

/** A vertex's progress lines (`#N ...`) in `--progress plain` output, found by its name. */
function vertexLines(output: string, name: string): string[] {
  const lines = output.split('\n');
  const head = lines.find((l) => /^#\d+ /.test(l) && l.slice(l.indexOf(' ') + 1) === name);
  if (head === undefined) throw new Error(`no vertex "${name}" in:\n${lastLines(output, 40)}`);
  const id = head.slice(0, head.indexOf(' ') + 1);
  return lines.filter((l) => l.startsWith(id)).map((l) => l.slice(id.length));
}

/** The bytes BuildKit reports for "transferring context" (go-units' decimal sizes). */
function transferredBytes(output: string): number {
  const sizes = [...output.matchAll(/transferring context: ([\d.]+)(B|kB|MB|GB)/g)];
  const last = sizes.at(-1);
  if (last === undefined) throw new Error(`no context transfer reported in:\n${lastLines(output, 40)}`);
  const unit = { B: 1, kB: 1e3, MB: 1e6, GB: 1e9 }[last[2] as 'B' | 'kB' | 'MB' | 'GB'];
  return Number(last[1]) * unit;
}

describe.skipIf(gate.skip)(`a rebuild of an unchanged context (${currentDaemon().name})`, () => {
  let work = '';
  const tag = uniqueTag('context-reuse', 'tracebuild');
  // A base of this test's own: a --no-cache build of busybox:local elsewhere on the daemon
  // shares that vertex and would make every step of ours run again.
  const base = `tracebuild-test/context-reuse-base:${runId}`;
  const copyStep = '[2/2] COPY ctx/ /ctx/';

  beforeAll(async () => {
    await ensureCliBuilt();
    const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    work = mkdtempSync(path.join(tmpdir(), 'tb-context-reuse-'));
    const files: Record<string, string> = { Dockerfile: `FROM ${base}\nCOPY ctx/ /ctx/\n` };
    // runId in every file: no earlier run's COPY can be in the cache.
    for (let i = 0; i < FILES; i++) {
      const first = `${runId} file ${i}\n`;
      files[`ctx/d${i % 10}/f${String(i).padStart(3, '0')}.txt`] = first + 'x'.repeat(FILE_SIZE - first.length);
    }
    writeFiles(work, files);
  });

  afterAll(async () => {
    await removeImage(tag);
    await removeImage(base);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = async (): Promise<string> => {
    const r = await tracebuild(['build', '--no-trace', '--progress', 'plain', '-t', tag, work], { timeoutMs: 240_000 });
    const output = r.stdout + r.stderr;
    expect(r.exitCode, lastLines(output, 40)).toBe(0);
    return output;
  };

  test('the second build sends no file and its COPY is CACHED; a changed file is sent alone and copied', async () => {
    const first = await build();
    expect(vertexLines(first, copyStep)).not.toContain('CACHED');
    expect(transferredBytes(first)).toBeGreaterThanOrEqual(CONTENT_BYTES);

    const second = await build();
    expect(vertexLines(second, copyStep), lastLines(second, 40)).toContain('CACHED');
    // Only the file list crosses (a few dozen bytes per entry), none of the contents.
    expect(transferredBytes(second), lastLines(second, 40)).toBeLessThan(CONTENT_BYTES / 10);

    const changed = `${runId} changed\n`;
    writeFileSync(path.join(work, 'ctx/d7/f007.txt'), changed);
    const third = await build();
    expect(vertexLines(third, copyStep)).not.toContain('CACHED');
    expect(transferredBytes(third), lastLines(third, 40)).toBeLessThan(CONTENT_BYTES / 10);
    const copied = await run(dockerCli, ['run', '--rm', '--network', 'none', tag, 'cat', '/ctx/d7/f007.txt', '/ctx/d8/f008.txt']);
    expect(copied.exitCode, copied.stderr).toBe(0);
    expect(copied.stdout.startsWith(changed + `${runId} file 8\n`)).toBe(true);
  });
});
