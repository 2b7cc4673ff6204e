// Running a command and collecting what it printed, without a shell.
import { spawn } from 'node:child_process';

export interface RunOptions {
  cwd?: string;
  /** Variables added to (or, with undefined, removed from) the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Kill the command (SIGKILL) after this long; the result then has timedOut: true. */
  timeoutMs?: number;
}

export interface RunResult {
  /** The exit code; -1 when the command could not start or was killed by a signal. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** The command line, for messages. */
  command: string;
}

export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const command = [cmd, ...args].map(quoteArg).join(' ');
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: Error | undefined;
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => {
      spawnError = e;
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      let stderr = Buffer.concat(err).toString('utf8');
      if (spawnError) stderr += `${stderr ? '\n' : ''}${command}: ${spawnError.message}`;
      if (timedOut) stderr += `${stderr ? '\n' : ''}${command}: killed after ${options.timeoutMs} ms`;
      resolve({
        exitCode: code ?? -1,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr,
        timedOut,
        durationMs: performance.now() - started,
        command,
      });
    });
  });
}

function quoteArg(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}
