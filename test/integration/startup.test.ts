// What the CLI loads before it does anything: every command pays for it, `tracebuild build`
// included. sigstore (through attest's index) cost ~0.3 s of every start while a command
// module imported it; the commands that need it, like the build toolchain (gRPC,
// protobuf), load it when they run. An untraced build loads gRPC and protobuf but not the
// agent's server side (sigstore, its HTTP stack, yaml: most of a cached build's CPU, #17.7). Node's module debug log names every CommonJS file
// loaded, and its ESM debug log every ES module (commander is one).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { writeFiles } from '../helpers/attest.js';
import { ensureCliBuilt, integrationGate, removeImage, run, tracebuildCli, uniqueTag } from '../helpers/index.js';
import { currentDaemon } from '../helpers/daemons.js';

const gate = await integrationGate();

/** The packages under node_modules the CLI loaded for these arguments (from NODE_DEBUG=module,esm). */
async function packagesLoaded(args: string[]): Promise<string[]> {
  const r = await run(process.execPath, [tracebuildCli, ...args], { env: { NODE_DEBUG: 'module,esm' }, timeoutMs: 180_000 });
  expect(r.exitCode, r.stderr.slice(-2000)).toBe(0);
  const names = new Set<string>();
  for (const m of r.stderr.matchAll(/node_modules\/((?:@[\w.-]+\/)?[\w.-]+)/g)) names.add(m[1] as string);
  return [...names].sort();
}

describe('startup', () => {
  beforeAll(async () => {
    await ensureCliBuilt();
  });

  test('--version and build --help load no signing, gRPC or protobuf library', async () => {
    for (const args of [['--version'], ['build', '--help']]) {
      const loaded = await packagesLoaded(args);
      expect(loaded, args.join(' ')).toContain('commander'); // the log is read: it names what was loaded
      expect(loaded.filter((n) => /sigstore|grpc|protobuf|tuf/.test(n)), args.join(' ')).toEqual([]);
    }
  });

  test.skipIf(gate.skip)('an untraced build loads gRPC and protobuf, and no signing, TUF or YAML library', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-startup-'));
    const tag = uniqueTag('startup', currentDaemon().id);
    try {
      writeFiles(dir, { Dockerfile: 'FROM busybox:local\nCOPY a.txt /a.txt\n', 'a.txt': 'a\n' });
      const loaded = await packagesLoaded(['build', '--no-trace', '-t', tag, dir]);
      expect(loaded).toEqual(expect.arrayContaining(['@grpc/grpc-js', 'protobufjs']));
      expect(loaded.filter((n) => /sigstore|tuf|^yaml$|make-fetch-happen|cacache/.test(n))).toEqual([]);
    } finally {
      await removeImage(tag);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
