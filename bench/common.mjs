// What the benchmarks share: running a command, the median, getting the machine ready.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Runs a command from the repository root; resolves with its exit code, wall time and
 * stdout and stderr together (never rejects). With `cpu`, the command runs under
 * /usr/bin/time and `cpuMs` is its user+sys CPU, its waited-for children included (the
 * buildx plugin under `docker`): a figure the machine's load changes far less than wall time. */
export function run(cmd, args, env = {}, { cpu = false } = {}) {
  return new Promise((resolve) => {
    const timeFile = cpu ? path.join(mkdtempSync(path.join(os.tmpdir(), 'bench-time-')), 'cpu') : undefined;
    const [file, argv] = timeFile ? ['/usr/bin/time', ['-o', timeFile, '-f', '%U %S', cmd, ...args]] : [cmd, args];
    const started = performance.now();
    const child = spawn(file, argv, { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('error', (e) => (output += `\n${e.message}`));
    child.on('close', (code) => {
      const ms = performance.now() - started;
      let cpuMs;
      if (timeFile) {
        // the last line: /usr/bin/time puts "Command exited with non-zero status" before it
        const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
        const [user, sys] = last.split(' ').map(Number);
        if (Number.isFinite(user) && Number.isFinite(sys)) cpuMs = (user + sys) * 1000;
        rmSync(path.dirname(timeFile), { recursive: true, force: true });
      }
      resolve({ code: code ?? -1, ms, cpuMs, output });
    });
  });
}

export function median(xs) {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** scripts/env.sh (dockerd, busybox:local, the probe, strace), then `npm run build` when
 * `cli` is given and missing. On a failure: says what failed and exits 1. */
export async function prepareMachine(cli) {
  const env = await run('bash', [path.join(repoRoot, 'scripts', 'env.sh')]);
  if (env.code !== 0) {
    console.error(`bench: scripts/env.sh failed (exit ${env.code}):\n${env.output.trim()}`);
    process.exit(1);
  }
  if (cli === undefined || existsSync(cli)) return;
  console.error(`bench: ${path.relative(repoRoot, cli)} is missing, running npm run build`);
  const b = await run('npm', ['run', 'build']);
  if (b.code !== 0 || !existsSync(cli)) {
    console.error(`bench: npm run build failed:\n${b.output.trim().split('\n').slice(-30).join('\n')}`);
    process.exit(1);
  }
}
