// `tracebuild guard`: refuse to run images whose attestations do not verify or whose trace
// breaks the policy, where containers start.
//
//   Docker:      an authorization plugin on /run/docker/plugins/NAME.sock; dockerd uses it
//                when started with --authorization-plugin=NAME (scripts/env.sh guard-on);
//   Kubernetes:  --webhook HOST:PORT serves a validating admission webhook for Pods (HTTPS).
//
// The process given on the command line supervises a worker that does the serving (see
// cli/guard/supervisor.ts), unless --no-supervise. It runs until SIGTERM or Ctrl-C.

import type { Command } from 'commander';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';
import type { RunningWebhook } from '../guard/admission.js';
import type { RunningPlugin } from '../guard/authz-plugin.js';
import { engineTarget } from '../../engine/index.js';
import { hasAnyTrust, loadTrust, registryClient, type TrustOptions } from '../../verify/index.js';
import { addTrustOptions, trustArgs, trustOptions, type TrustFlags } from './trust-flags.js';
import { loadPolicy } from './verify-policy.js';

export const DEFAULT_PLUGIN_DIR = '/run/docker/plugins';
export const DEFAULT_GUARD_NAME = 'tracebuild-guard';

export interface GuardRequest {
  keys: string[];
  /** Every trust flag (--key and the certificate ones). */
  trust: TrustOptions;
  policy: string;
  name: string;
  pluginDir: string;
  dockerPlugin: boolean;
  webhook?: { host: string; port: number; certFile: string; keyFile: string };
  allowUnattested: boolean;
  cacheTtlMs: number;
  cacheSize: number;
  timeoutMs: number;
  supervise: boolean;
}

interface GuardFlags extends TrustFlags {
  policy?: string;
  name: string;
  pluginDir: string;
  dockerPlugin: boolean;
  webhook?: string;
  tlsCert?: string;
  tlsKey?: string;
  allowUnattested?: boolean;
  cacheTtl: string;
  cacheSize: string;
  timeout: string;
  supervise: boolean;
}

/** `500ms`, `20s`, `10m`, `1h`, or a number of seconds. */
export function parseDuration(text: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (m === null) throw new UsageError('bad-flag', `${flag}: "${text}" is not a duration (e.g. 500ms, 20s, 10m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

function parseHostPort(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('bad-flag', `--webhook: "${text}" is not HOST:PORT (e.g. 127.0.0.1:8443)`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function guardRequest(flags: GuardFlags): GuardRequest {
  const keys = flags.key ?? [];
  const trust = trustOptions(flags);
  if (!hasAnyTrust(trust)) throw new UsageError('bad-flag', "required option '--key <PUB>' (or --certificate-identity with --trusted-root or --ca-roots) not specified");
  if (flags.policy === undefined) throw new UsageError('bad-flag', "required option '--policy <FILE>' not specified");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(flags.name)) throw new UsageError('bad-flag', `--name: "${flags.name}" is not a plugin name (letters, digits, . _ -)`);
  const cacheSize = Number(flags.cacheSize);
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new UsageError('bad-flag', `--cache-size: "${flags.cacheSize}" is not a positive integer`);
  let webhook: GuardRequest['webhook'];
  if (flags.webhook !== undefined) {
    if (flags.tlsCert === undefined || flags.tlsKey === undefined) throw new UsageError('bad-flag', '--webhook needs --tls-cert FILE and --tls-key FILE (the API server calls webhooks over HTTPS only)');
    webhook = { ...parseHostPort(flags.webhook), certFile: flags.tlsCert, keyFile: flags.tlsKey };
  } else if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) {
    throw new UsageError('bad-flag', '--tls-cert and --tls-key are for --webhook');
  }
  if (!flags.dockerPlugin && webhook === undefined) throw new UsageError('bad-flag', '--no-docker-plugin leaves nothing to serve: give --webhook HOST:PORT');
  return {
    keys,
    trust,
    policy: flags.policy,
    name: flags.name,
    pluginDir: flags.pluginDir,
    dockerPlugin: flags.dockerPlugin,
    ...(webhook === undefined ? {} : { webhook }),
    allowUnattested: flags.allowUnattested === true,
    cacheTtlMs: parseDuration(flags.cacheTtl, '--cache-ttl'),
    cacheSize,
    timeoutMs: parseDuration(flags.timeout, '--timeout'),
    supervise: flags.supervise,
  };
}

/** The worker's command line: the same request, served in-process. */
function workerArgs(r: GuardRequest): string[] {
  const args = ['guard', '--no-supervise', '--policy', r.policy, '--name', r.name, '--plugin-dir', r.pluginDir];
  args.push(...trustArgs(r.trust));
  if (!r.dockerPlugin) args.push('--no-docker-plugin');
  if (r.webhook !== undefined) args.push('--webhook', `${r.webhook.host.includes(':') ? `[${r.webhook.host}]` : r.webhook.host}:${r.webhook.port}`, '--tls-cert', r.webhook.certFile, '--tls-key', r.webhook.keyFile);
  if (r.allowUnattested) args.push('--allow-unattested');
  args.push('--cache-ttl', `${r.cacheTtlMs}ms`, '--cache-size', String(r.cacheSize), '--timeout', `${r.timeoutMs}ms`);
  return args;
}

export function pluginSocketPath(r: Pick<GuardRequest, 'pluginDir' | 'name'>): string {
  return join(r.pluginDir, `${r.name}.sock`);
}

/** Answers when the worker's event loop does: its status endpoint, else the webhook's /healthz. */
function healthProbe(r: GuardRequest): () => Promise<void> {
  return () =>
    new Promise<void>((resolve, reject) => {
      const done = (res: import('node:http').IncomingMessage): void => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new Error(`HTTP ${res.statusCode ?? '?'}`));
      };
      const req = r.dockerPlugin
        ? httpRequest({ socketPath: pluginSocketPath(r), path: '/tracebuild/status', method: 'GET' }, done)
        : httpsRequest({ host: r.webhook?.host, port: r.webhook?.port, path: '/healthz', method: 'GET', rejectUnauthorized: false }, done);
      req.on('error', reject);
      req.end();
    });
}

function logger(io: CliIo): (line: string) => void {
  return (line) => io.stderr.write(`${new Date(io.clock.now()).toISOString()} guard: ${line}\n`);
}

function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return; // runs until the process is killed
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

export async function runGuard(request: GuardRequest, io: CliIo): Promise<void> {
  const log = logger(io);
  // Bad keys or a bad policy fail here, before anything is served or supervised.
  const policy = await loadPolicy(request.policy, io.cwd);
  const trusted = await loadTrust(request.trust, io.cwd);
  const signal = io.signal ?? new AbortController().signal;

  if (request.supervise) {
    if (io.self === undefined) throw new UsageError('bad-flag', 'guard: cannot find its own executable to supervise; run with --no-supervise');
    log(`supervising a worker (policy ${policy.name ?? request.policy}, trusting ${trusted.summary.join('; ')}); stop with SIGTERM`);
    const { superviseWorker } = await import('../guard/supervisor.js');
    await superviseWorker({ command: io.self.command, args: [...io.self.args, ...workerArgs(request)], env: io.env, probe: healthProbe(request), log, signal });
    log('stopped');
    return;
  }

  // Loaded here, not at start-up: no other command needs the guard's servers.
  const [{ ImageGate }, { startAuthzPlugin, engineName }, { startAdmissionWebhook }] = await Promise.all([
    import('../guard/image-gate.js'),
    import('../guard/authz-plugin.js'),
    import('../guard/admission.js'),
  ]);
  const gate = new ImageGate({
    client: registryClient(io.env, { timeoutMs: request.timeoutMs }),
    trusted,
    policy,
    allowUnattested: request.allowUnattested,
    cacheTtlMs: request.cacheTtlMs,
    cacheSize: request.cacheSize,
    timeoutMs: request.timeoutMs,
    log,
  });
  if (request.allowUnattested) log('WARNING: --allow-unattested: images without a registry digest or attestations, or whose registry cannot be reached, WILL RUN');
  let plugin: RunningPlugin | undefined;
  let webhook: RunningWebhook | undefined;
  try {
    if (request.dockerPlugin) {
      const socketPath = pluginSocketPath(request);
      const engine = engineTarget(io.env);
      plugin = await startAuthzPlugin({ socketPath, gate, engine, log });
      log(`authorization plugin ${request.name} listening on ${socketPath} (pid ${io.pid ?? '?'}), asking dockerd at ${engineName(engine)} about images`);
    }
    if (request.webhook !== undefined) {
      webhook = await startAdmissionWebhook({ ...request.webhook, gate, log });
      log(`admission webhook listening on https://${request.webhook.host}:${webhook.port}/validate`);
    }
    await untilAborted(signal);
  } finally {
    await plugin?.close();
    await webhook?.close();
  }
}

export const guardCommand: CliCommand = {
  register(program: Command, { io }) {
    const command = program
      .command('guard')
      .description('refuse to run images whose attestations do not verify or whose trace breaks a policy: a Docker authorization plugin and/or a Kubernetes admission webhook');
    addTrustOptions(command, 'trusted public key file (repeatable; at least one, or --certificate-identity)')
      .option('--policy <FILE>', 'trace policy (YAML, see attest/POLICY.md) every image must pass')
      .option('--name <NAME>', 'plugin name: dockerd runs with --authorization-plugin=NAME', DEFAULT_GUARD_NAME)
      .option('--plugin-dir <DIR>', "where dockerd looks for plugin sockets", DEFAULT_PLUGIN_DIR)
      .option('--no-docker-plugin', 'do not serve the Docker authorization plugin (webhook only)')
      .option('--webhook <HOST:PORT>', 'also serve the Kubernetes validating admission webhook (HTTPS) on HOST:PORT')
      .option('--tls-cert <FILE>', "the webhook's certificate (PEM)")
      .option('--tls-key <FILE>', "the webhook's private key (PEM)")
      .option('--allow-unattested', 'let images with no registry digest or no attestations, or whose registry is unreachable, run (logged as a warning each time); failed verification and policy violations are still refused')
      .option('--cache-ttl <DURATION>', 'how long a verified digest is trusted before it is checked again', '10m')
      .option('--cache-size <N>', 'how many verified digests are remembered', '1000')
      .option('--timeout <DURATION>', 'a verification that takes longer is refused as unreachable', '20s')
      .option('--no-supervise', 'serve in this process, without the watchdog that restarts a crashed or hung worker')
      .action(async (flags: GuardFlags) => {
        await runGuard(guardRequest(flags), io);
      });
  },
};
