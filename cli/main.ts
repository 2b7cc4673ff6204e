#!/usr/bin/env node
// The executable: the only place that touches process (argv, env, signals, exit code).

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './app.js';
import { intervalTicker, systemClock, type CliIo } from './io.js';

/** The version of the package this file belongs to (works from `cli/` and `dist/cli/`). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'tracebuild' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: look one level up
    }
    dir = dirname(dir);
  }
  return 'unknown';
}

// A reader that stops early (`tracebuild convert | head`) closes the pipe: stop quietly,
// as other command-line tools do, instead of crashing on EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
});

const controller = new AbortController();
const cancel = (): void => controller.abort();
process.once('SIGINT', cancel);
process.once('SIGTERM', cancel);

const io: CliIo = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  clock: systemClock,
  ticker: intervalTicker,
  signal: controller.signal,
  self: { command: process.execPath, args: [...process.execArgv, process.argv[1] ?? ''] },
  pid: process.pid,
};

try {
  process.exitCode = await runCli(process.argv.slice(2), io, {
    version: packageVersion(),
    loadToolchain: async () => (await import('./modules.js')).toolchain,
    // show/diff of an image: its runtime-trace attestation, verified as `verify` does.
    fetchImageTrace: async (reference, options) => (await import('../verify/index.js')).fetchVerifiedImageTrace(reference, options),
  });
} finally {
  process.off('SIGINT', cancel);
  process.off('SIGTERM', cancel);
}
