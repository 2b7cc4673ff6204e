// Keeps the guard answering. dockerd calls the authorization plugin for every API request
// and waits for it without a timeout: a guard that hangs would hang every `docker` command
// for ever, and one that is gone makes every command fail after dockerd's 30 s of retries.
// So `tracebuild guard` runs the plugin in a worker process and watches it:
//
//   - the worker exits (a crash): it is started again at once (with a growing pause if it
//     keeps dying right after starting);
//   - the worker stops answering its health probe (a hang): after `failuresBeforeKill`
//     probes in a row it is killed with SIGKILL and started again. dockerd sees the
//     connection drop and retries; its retry carries an empty body, which the new worker
//     refuses with a message saying to run the command again (authz-plugin.ts).
//
// The supervisor does no work of its own that could hang it: it only spawns, probes and
// signals.

import { spawn, type ChildProcess } from 'node:child_process';
import { GuardError } from './guard-error.js';

export interface SupervisorOptions {
  /** The worker's command: node, its flags, the CLI script and the worker's arguments. */
  command: string;
  args: readonly string[];
  env: NodeJS.ProcessEnv;
  /** Resolves when the worker answers; rejects (or never settles) when it does not. */
  probe: () => Promise<void>;
  log: (line: string) => void;
  signal: AbortSignal;
  probeIntervalMs?: number;
  probeTimeoutMs?: number;
  failuresBeforeKill?: number;
  /** How long a newly started worker has to answer its first probe. */
  startupGraceMs?: number;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

function withTimeout(work: Promise<void>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    work.then(
      () => {
        clearTimeout(timer);
        resolve(true);
      },
      () => {
        clearTimeout(timer);
        resolve(false);
      },
    );
  });
}

/**
 * Runs the worker until `signal` aborts; then stops it (SIGTERM, SIGKILL after 5 s).
 * Throws GuardError when the very first worker ends without ever answering: that is a
 * configuration that cannot work (a socket in use, a certificate missing), not a crash.
 */
export async function superviseWorker(options: SupervisorOptions): Promise<void> {
  const interval = options.probeIntervalMs ?? 2_000;
  const probeTimeout = options.probeTimeoutMs ?? 2_000;
  const failuresBeforeKill = options.failuresBeforeKill ?? 3;
  const startupGrace = options.startupGraceMs ?? 10_000;
  let quickDeaths = 0;
  let everAnswered = false;

  while (!options.signal.aborted) {
    const startedAt = Date.now();
    const child: ChildProcess = spawn(options.command, options.args, { env: options.env, stdio: ['ignore', 'inherit', 'inherit'] });
    const exited = new Promise<string>((resolve) => {
      child.once('exit', (code, sig) => resolve(sig === null ? `exit code ${code ?? '?'}` : `signal ${sig}`));
      child.once('error', (err) => resolve(`could not start: ${err.message}`));
    });
    let gone: string | undefined;
    void exited.then((why) => (gone = why));
    options.log(`guard worker started (pid ${child.pid ?? '?'})`);

    let answeredOnce = false;
    let failures = 0;
    while (!options.signal.aborted && gone === undefined) {
      // A crash is noticed at once, not at the next probe.
      await Promise.race([sleep(interval, options.signal), exited]);
      if (options.signal.aborted || gone !== undefined) break;
      if (await withTimeout(options.probe(), probeTimeout)) {
        answeredOnce = true;
        everAnswered = true;
        failures = 0;
        continue;
      }
      if (!answeredOnce && Date.now() - startedAt < startupGrace) continue;
      failures++;
      if (failures >= failuresBeforeKill) {
        options.log(`guard worker (pid ${child.pid ?? '?'}) did not answer ${failures} health probes in a row: killing it and starting another`);
        child.kill('SIGKILL');
        break;
      }
    }

    if (options.signal.aborted) {
      child.kill('SIGTERM');
      const stopped = await Promise.race([exited.then(() => true), sleep(5_000, new AbortController().signal).then(() => false)]);
      if (!stopped) child.kill('SIGKILL');
      await exited;
      return;
    }
    const why = await exited;
    if (!everAnswered) throw new GuardError(`the guard worker ended before it served anything (${why}); see its error above`);
    if (Date.now() - startedAt < 10_000) quickDeaths++;
    else quickDeaths = 0;
    // A worker that dies right after starting (a port taken, a socket in use) would spin:
    // pause longer each time, up to 30 s.
    const pause = quickDeaths <= 1 ? 100 : Math.min(30_000, 500 * 2 ** Math.min(quickDeaths - 2, 6));
    options.log(`guard worker (pid ${child.pid ?? '?'}) ended (${why}); starting another in ${pause} ms`);
    await sleep(pause, options.signal);
  }
}
