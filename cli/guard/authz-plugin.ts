// The Docker authorization plugin (dockerd's legacy plugin protocol, "authz"): HTTP with
// JSON bodies on a unix socket that dockerd finds by name under /run/docker/plugins/.
//
//   POST /Plugin.Activate        -> {"Implements": ["authz"]}
//   POST /AuthZPlugin.AuthZReq   -> {"Allow": bool, "Msg": "..."} before dockerd handles a call
//   POST /AuthZPlugin.AuthZRes   -> {"Allow": true}: responses are never filtered
//   GET  /tracebuild/status      -> the guard's counters (for scripts/env.sh and tests)
//
// dockerd shows a refusal as "Error response from daemon: authorization denied by plugin
// NAME: MSG" and answers HTTP 403.
//
// Fail closed: a create or start the guard cannot judge (no body, dockerd unreachable, an
// exception) is refused with the reason; everything else (see docker-request.ts) is allowed
// without any lookup, so that builds, pushes and the guard's own queries never wait.

import { mkdirSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { inspectContainer, inspectImage, type EngineTarget } from '../../engine/index.js';
import { GuardError, listening } from './guard-error.js';
import { classifyRequest, type AuthzRequest, type DockerAction } from './docker-request.js';
import { refusalMessage, type ImageGate, type Verdict } from './image-gate.js';

const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
/** dockerd passes request bodies up to 1 MiB, base64-encoded inside the JSON. */
const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

export interface AuthzPluginOptions {
  socketPath: string;
  gate: ImageGate;
  /** The dockerd the guard asks about images and containers. */
  engine: EngineTarget;
  log: (line: string) => void;
}

export interface GuardCounters {
  requests: number;
  judged: number;
  allowed: number;
  refused: number;
}

export interface AuthzDecision {
  allow: boolean;
  msg: string;
}

/** The answer to one AuthZReq. Exported for tests; never throws. */
export async function decide(request: AuthzRequest | undefined, options: Pick<AuthzPluginOptions, 'gate' | 'engine' | 'log'>): Promise<AuthzDecision & { judged: boolean }> {
  if (request === undefined) {
    // dockerd re-sends a call with an empty body when it retries after a failed
    // connection (a guard that was restarted): what it was for is unknown.
    return { allow: false, judged: true, msg: 'tracebuild guard received an empty authorization request (dockerd retried after the guard restarted); run the command again' };
  }
  const action = classifyRequest(request);
  if (action.kind === 'other') return { allow: true, judged: false, msg: '' };
  try {
    return { ...(await judge(action, options)), judged: true };
  } catch (err) {
    const msg = `tracebuild guard could not judge ${request.RequestMethod ?? ''} ${action.path}: ${err instanceof Error ? err.message : String(err)}`;
    options.log(`refuse: ${msg}`);
    return { allow: false, judged: true, msg };
  }
}

async function judge(action: Exclude<DockerAction, { kind: 'other' }>, options: Pick<AuthzPluginOptions, 'gate' | 'engine' | 'log'>): Promise<AuthzDecision> {
  const asDecision = (v: Verdict): AuthzDecision => ({ allow: v.allowed, msg: v.allowed ? '' : refusalMessage(v) });
  switch (action.kind) {
    case 'refuse': {
      const msg = `tracebuild guard refused POST ${action.path}: ${action.problem}`;
      options.log(`refuse: ${msg}`);
      return { allow: false, msg };
    }
    case 'create-container': {
      const image = await inspectImage(options.engine, action.image);
      if (image === undefined) {
        // dockerd will answer 404 and `docker run` pulls the image, then asks again. The
        // start check covers a pull that lands in between.
        options.log(`pass create of ${action.image}: not present locally (dockerd answers 404)`);
        return { allow: true, msg: '' };
      }
      return asDecision(await options.gate.checkDigests(action.image, image.repoDigests));
    }
    case 'start-container': {
      // Refused when not found: dockerd would answer 404 anyway, and a guard asking the
      // wrong daemon (DOCKER_HOST) must not wave every start through.
      const container = await inspectContainer(options.engine, action.container);
      if (container === undefined) return refuseStart(action.container, `dockerd at ${engineName(options.engine)} has no container ${action.container}`, options);
      const image = await inspectImage(options.engine, container.imageId);
      if (image === undefined) return refuseStart(action.container, `its image ${container.imageId} is gone`, options);
      return asDecision(await options.gate.checkDigests(container.imageName, image.repoDigests));
    }
    case 'service':
      // Swarm pulls and starts the tasks itself: judge the reference, as for a Pod.
      return asDecision(await options.gate.checkReference(action.image));
  }
}

export function engineName(engine: EngineTarget): string {
  return engine.kind === 'unix' ? `unix://${engine.path}` : `tcp://${engine.host}:${engine.port}`;
}

function refuseStart(container: string, why: string, options: Pick<AuthzPluginOptions, 'log'>): AuthzDecision {
  const msg = `tracebuild guard refused to start container ${container}: ${why}`;
  options.log(`refuse: ${msg}`);
  return { allow: false, msg };
}

function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size <= limit) parts.push(b);
    });
    req.on('end', () => (size > limit ? reject(new Error(`request body over ${limit} bytes`)) : resolve(Buffer.concat(parts))));
    req.on('error', reject);
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** A socket file nobody answers on is left over from a guard that died: safe to replace. */
async function claimSocket(path: string): Promise<void> {
  let exists = false;
  try {
    exists = statSync(path).isSocket();
  } catch {
    exists = false;
  }
  if (exists) {
    const answered = await new Promise<boolean>((resolve) => {
      const probe = connect(path);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (answered) throw new GuardError(`${path} is in use by another running plugin; stop it first (scripts/env.sh guard-off)`);
    rmSync(path, { force: true });
  }
  mkdirSync(dirname(path), { recursive: true });
}

export interface RunningPlugin {
  counters: GuardCounters;
  close(): Promise<void>;
}

export async function startAuthzPlugin(options: AuthzPluginOptions): Promise<RunningPlugin> {
  const counters: GuardCounters = { requests: 0, judged: 0, allowed: 0, refused: 0 };
  const startedAt = new Date().toISOString();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/tracebuild/status') {
      return reply(res, 200, { pid: process.pid, startedAt, ...counters, cachedDigests: options.gate.cachedDigests });
    }
    if (req.method !== 'POST') return reply(res, 405, { Err: `${req.method ?? ''} ${url}: not a plugin call` });
    if (url === '/Plugin.Activate') {
      await readBody(req, 1024 * 1024);
      return reply(res, 200, { Implements: ['authz'] });
    }
    if (url === '/AuthZPlugin.AuthZRes') {
      // The response side is never filtered: drain whatever dockerd sends and allow.
      req.resume();
      await new Promise((resolve) => req.once('end', resolve));
      return reply(res, 200, { Allow: true });
    }
    if (url !== '/AuthZPlugin.AuthZReq') return reply(res, 404, { Err: `${url}: unknown plugin method` });
    counters.requests++;
    let request: AuthzRequest | undefined;
    const body = await readBody(req, MAX_REQUEST_BYTES);
    if (body.length > 0) request = JSON.parse(body.toString('utf8')) as AuthzRequest;
    const decision = await decide(request, options);
    if (decision.judged) {
      counters.judged++;
      if (decision.allow) counters.allowed++;
      else counters.refused++;
    }
    return reply(res, 200, { Allow: decision.allow, Msg: decision.msg });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // A request we cannot even read (bad JSON, too big) is refused with the reason:
      // dockerd then refuses the call it was about.
      const msg = `tracebuild guard could not read the authorization request: ${err instanceof Error ? err.message : String(err)}`;
      options.log(`refuse: ${msg}`);
      if (!res.headersSent) reply(res, 200, { Allow: false, Msg: msg });
    });
  });
  await listening(`the authorization plugin on ${options.socketPath}`, async () => {
    await claimSocket(options.socketPath);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socketPath, () => resolve());
    });
  });
  return {
    counters,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(options.socketPath, { force: true });
      }),
  };
}
