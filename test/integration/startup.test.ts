// What the CLI loads before it does anything: every command pays for it, `tracebuild build`
// included. sigstore (through attest's index) cost ~0.3 s of every start while a command
// module imported it; the commands that need it, like the build toolchain (gRPC,
// protobuf), load it when they run. Node's module debug log names every CommonJS file
// loaded, and its ESM debug log every ES module (commander is one).
import { beforeAll, describe, expect, test } from 'vitest';
import { ensureCliBuilt, run, tracebuildCli } from '../helpers/index.js';

/** The packages under node_modules the CLI loaded for these arguments (from NODE_DEBUG=module,esm). */
async function packagesLoaded(args: string[]): Promise<string[]> {
  const r = await run(process.execPath, [tracebuildCli, ...args], { env: { NODE_DEBUG: 'module,esm' }, timeoutMs: 30_000 });
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
});
