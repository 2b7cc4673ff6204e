// `tracebuild agent`: runs on a builder host, as root, in front of its daemon. Clients point
// DOCKER_HOST (with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH) or BUILDKIT_HOST (with
// BUILDKIT_TLS_DIR) at it; every build that passes through is traced by the agent's one
// probe, each tracebuild client gets its own build's events, and the agent keeps (and with
// --key signs, and attaches to pushed images) a trace of every build. Runs until SIGTERM or
// Ctrl-C. See agent/ and docs/ARCHITECTURE.md "The tracebuild agent".
import type { Command } from 'commander';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { collect, type CliCommand } from './command.js';

export const DEFAULT_AGENT_STATE_DIR = '/var/lib/tracebuild/agent';

interface AgentFlags {
  listen?: string;
  tlsCert?: string;
  tlsKey?: string;
  clientCa?: string;
  clientCrl?: string;
  upstream: string;
  upstreamKind: string;
  engineApi: string;
  stateDir: string;
  keep: string;
  traceReader?: string[];
  key?: string;
  builderId?: string;
  cgroupPrefix?: string[];
  allowUntracedBuilds?: boolean;
}

export interface AgentRequest {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  crlFile?: string;
  upstream: string;
  upstreamKind: 'auto' | 'docker' | 'buildkitd';
  engineApi: 'build' | 'all';
  stateDir: string;
  keep: number;
  traceReaders: string[];
  signingKey?: string;
  builderId: string;
  cgroupPrefixes?: string[];
  allowUntraced: boolean;
}

export function parseListen(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:\s]+):(\d+)$/.exec(text.trim());
  const port = Number(m?.[2]);
  if (m?.[1] === undefined || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError('bad-flag', `--listen: "${text}" is not HOST:PORT (e.g. 0.0.0.0:8443)`);
  }
  return { host: m[1].replace(/^\[(.*)\]$/, '$1'), port };
}

export function agentRequest(flags: AgentFlags, cwd: string): AgentRequest {
  for (const [flag, value] of [
    ['--listen <HOST:PORT>', flags.listen],
    ['--tls-cert <FILE>', flags.tlsCert],
    ['--tls-key <FILE>', flags.tlsKey],
    ['--client-ca <FILE>', flags.clientCa],
  ] as const) {
    if (value === undefined) throw new UsageError('bad-flag', `required option '${flag}' not specified (the agent serves mutual TLS only)`);
  }
  const { host, port } = parseListen(flags.listen as string);
  if (!['auto', 'docker', 'buildkitd'].includes(flags.upstreamKind)) throw new UsageError('bad-flag', `--upstream-kind: "${flags.upstreamKind}" is not auto, docker or buildkitd`);
  if (!['build', 'all'].includes(flags.engineApi)) throw new UsageError('bad-flag', `--engine-api: "${flags.engineApi}" is not build or all`);
  const keep = Number(flags.keep);
  if (!Number.isInteger(keep) || keep < 1) throw new UsageError('bad-flag', `--keep: "${flags.keep}" is not a positive integer`);
  if (!/^(unix|tcp):/.test(flags.upstream)) throw new UsageError('bad-flag', `--upstream: "${flags.upstream}" is not unix:///path or tcp://host:port`);
  for (const p of flags.cgroupPrefix ?? []) {
    if (!p.startsWith('/') || p.includes('\n')) throw new UsageError('bad-flag', `--cgroup-prefix: "${p}" is not a cgroup path (it starts with /)`);
  }
  let builderId = flags.builderId ?? `https://tracebuild.dev/builders/${encodeURIComponent(hostname())}`;
  try {
    builderId = new URL(builderId).toString();
  } catch {
    throw new UsageError('bad-flag', `--builder-id: "${flags.builderId ?? ''}" is not a URI`);
  }
  const request: AgentRequest = {
    host,
    port,
    certFile: resolve(cwd, flags.tlsCert as string),
    keyFile: resolve(cwd, flags.tlsKey as string),
    clientCaFile: resolve(cwd, flags.clientCa as string),
    upstream: flags.upstream,
    upstreamKind: flags.upstreamKind as AgentRequest['upstreamKind'],
    engineApi: flags.engineApi as AgentRequest['engineApi'],
    stateDir: resolve(cwd, flags.stateDir),
    keep,
    traceReaders: flags.traceReader ?? [],
    builderId,
    allowUntraced: flags.allowUntracedBuilds === true,
  };
  if (flags.clientCrl !== undefined) request.crlFile = resolve(cwd, flags.clientCrl);
  if (flags.key !== undefined) request.signingKey = resolve(cwd, flags.key);
  if (flags.cgroupPrefix !== undefined) request.cgroupPrefixes = flags.cgroupPrefix;
  return request;
}

function logger(io: CliIo): (line: string) => void {
  return (line) => io.stderr.write(`${new Date(io.clock.now()).toISOString()} agent: ${line}\n`);
}

function untilAborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((done) => {
    if (signal === undefined) return;
    if (signal.aborted) return done();
    signal.addEventListener('abort', () => done(), { once: true });
  });
}

export async function runAgent(request: AgentRequest, io: CliIo, version: string): Promise<void> {
  const log = logger(io);
  let signer: { privateKey: import('node:crypto').KeyObject; keyId: string } | undefined;
  if (request.signingKey !== undefined) {
    const { keyId, loadPrivateKey } = await import('../../attest/index.js');
    const password = io.env.TRACEBUILD_KEY_PASSWORD;
    const privateKey = await loadPrivateKey(request.signingKey, password === '' ? undefined : password);
    signer = { privateKey, keyId: keyId(privateKey) };
  }
  const { startAgent } = await import('../../agent/index.js');
  const agent = await startAgent({
    host: request.host,
    port: request.port,
    tls: { certFile: request.certFile, keyFile: request.keyFile, clientCaFile: request.clientCaFile, ...(request.crlFile === undefined ? {} : { crlFile: request.crlFile }) },
    upstream: request.upstream,
    upstreamKind: request.upstreamKind,
    engineApi: request.engineApi,
    stateDir: request.stateDir,
    keep: request.keep,
    traceReaders: request.traceReaders,
    builderId: request.builderId,
    ...(signer === undefined ? {} : { signer }),
    env: io.env,
    cgroupPrefixes: request.cgroupPrefixes ?? (request.upstreamKind === 'buildkitd' ? ['/buildkit/'] : ['/docker/buildkit/']),
    allowUntraced: request.allowUntraced,
    probe: {
      ...(io.env.TRACEBUILD_PROBE ? { loaderPath: io.env.TRACEBUILD_PROBE } : {}),
      ...(io.env.TRACEBUILD_PROBE_STALL_TIMEOUT_MS ? { stallTimeoutMs: Number(io.env.TRACEBUILD_PROBE_STALL_TIMEOUT_MS) } : {}),
    },
    version,
    log,
  });
  try {
    await untilAborted(io.signal);
  } finally {
    log('stopping');
    await agent.close();
  }
}

export const agentCommand: CliCommand = {
  register(program: Command, { io, app }) {
    program
      .command('agent')
      .description('run on a builder host, as root, in front of its daemon: every build through it is traced by one probe; clients use DOCKER_HOST or BUILDKIT_HOST=tcp://HOST:PORT with TLS')
      .option('--listen <HOST:PORT>', 'where clients connect (TCP, mutual TLS)')
      .option('--tls-cert <FILE>', "the agent's certificate (PEM)")
      .option('--tls-key <FILE>', "the agent's private key (PEM)")
      .option('--client-ca <FILE>', 'the CA whose client certificates are accepted (PEM); each certificate is one client')
      .option('--client-crl <FILE>', 'revoked client certificates (PEM CRL of the client CA)')
      .option('--upstream <ADDR>', 'the daemon to front: dockerd, or a buildkitd socket', 'unix:///var/run/docker.sock')
      .option('--upstream-kind <KIND>', 'auto (dockerd answers GET /_ping), docker or buildkitd', 'auto')
      .option('--engine-api <MODE>', 'build: forward only the Engine API calls builds need; all: everything (a client can then run containers on the builder)', 'build')
      .option('--state-dir <DIR>', 'where the traces are kept', DEFAULT_AGENT_STATE_DIR)
      .option('--keep <N>', 'how many traces are kept (the newest)', '1000')
      .option('--trace-reader <CN>', 'a client certificate CN that may read every build\'s trace (repeatable); a build\'s own client always may', collect)
      .option('--key <FILE>', "the builder's signing key (tracebuild keygen; password from TRACEBUILD_KEY_PASSWORD): every trace is signed, and attached to pushed images")
      .option('--builder-id <URI>', 'names this builder in what it signs (default https://tracebuild.dev/builders/HOSTNAME)')
      .option('--cgroup-prefix <PATH>', "cgroup v2 path prefix of the daemon's RUN containers (repeatable; default /docker/buildkit/ for dockerd, /buildkit/ for buildkitd)", collect)
      .option('--allow-untraced-builds', 'when the probe cannot run, let builds through untraced instead of refusing them')
      .action(async (flags: AgentFlags) => {
        await runAgent(agentRequest(flags, io.cwd), io, app.version);
      });
  },
};
