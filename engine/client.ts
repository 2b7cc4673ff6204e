// A dockerode client for a DialTarget. How the bytes reach dockerd is decided here, by the
// http(s).Agent handed to docker-modem: a unix socket, plain tcp, or TLS with the material
// common/tls.ts read (CA, client pair, verify or not, the name to check). docker-modem
// itself passes only ca/cert/key to node:https, not `rejectUnauthorized` or `servername`,
// so the TLS settings travel in the agent, whose options node merges into every connect.
//
// dockerode and docker-modem are loaded on the first call, not with this module: they take
// a good part of a second to load, and commands that never call dockerd (convert, --help,
// a build without --push) must not pay for them.
import type Modem from 'docker-modem';
import type Docker from 'dockerode';
import { Agent as HttpAgent, type ClientRequestArgs } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { Duplex } from 'node:stream';
import { describeTarget, dialSsh, tlsConnectOptions, type SshTarget } from '../common/index.js';
import { EngineError } from './errors.js';
import type { EngineTarget } from './target.js';

/** Dials each connection through `ssh ... docker system dial-stdio` (common/ssh-dial.ts). */
class SshAgent extends HttpAgent {
  constructor(private readonly target: SshTarget) {
    super({ keepAlive: false });
  }
  // node:http waits for the callback when this returns nothing
  override createConnection(_options: ClientRequestArgs, callback?: (err: Error | null, stream: Duplex) => void): undefined {
    const failed = callback as ((err: Error) => void) | undefined;
    dialSsh(this.target, describeTarget(this.target)).then(
      (socket) => callback?.(null, socket),
      (err: unknown) => failed?.(err instanceof Error ? err : new Error(String(err))),
    );
    return undefined;
  }
}

/** The agent that dials the target. No keep-alive: a pooled socket would outlive the call. */
function agentFor(target: EngineTarget): HttpAgent {
  if (target.kind === 'ssh') return new SshAgent(target);
  if (target.kind === 'tcp' && target.tls !== undefined) {
    return new HttpsAgent({ ...tlsConnectOptions(target.tls, target.host), keepAlive: false });
  }
  return new HttpAgent({ keepAlive: false });
}

/**
 * A dockerode client that dials `target`. Every connection option is given explicitly:
 * docker-modem also reads DOCKER_HOST and DOCKER_CERT_PATH from process.env for its
 * defaults, and the target (from the environment the command was given) must win.
 */
export async function engineClient(target: EngineTarget): Promise<Docker> {
  const [{ default: ModemClass }, { default: DockerClass }] = await Promise.all([import('docker-modem'), import('dockerode')]);
  const agent = agentFor(target);
  const secure = target.kind === 'tcp' && target.tls !== undefined;
  let modem: Modem;
  try {
    modem = new ModemClass({
      // for ssh, the host only names the request: the agent dials
      ...(target.kind === 'unix' ? { socketPath: target.path, host: undefined, port: undefined } : { socketPath: undefined, host: target.host, port: target.port ?? 80 }),
      protocol: secure ? 'https' : 'http',
      ca: undefined,
      cert: undefined,
      key: undefined,
      agent,
    });
  } catch (cause) {
    // docker-modem reads DOCKER_CERT_PATH's files while it builds its defaults
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new EngineError('unsupported-docker-host', describeTarget(target), `cannot set up the Docker client for ${describeTarget(target)}: ${why}`, { cause });
  }
  // dockerode takes a ready modem (its typings omit the option); it then builds none itself
  return new DockerClass({ modem } as Docker.DockerOptions);
}

/** An error docker-modem reports: the HTTP status and dockerd's JSON body, or a socket error. */
export interface ModemError extends Error {
  statusCode?: number;
  json?: unknown;
  code?: string;
}

/** dockerd's own words in an HTTP error (its `{"message": ...}` body), else modem's message. */
export function dockerdMessage(err: ModemError): string {
  const json = err.json;
  if (typeof json === 'object' && json !== null && typeof (json as { message?: unknown }).message === 'string') {
    return (json as { message: string }).message;
  }
  if (Buffer.isBuffer(json) && json.length > 0) return json.toString('utf8').trim();
  if (typeof json === 'string' && json.trim() !== '') return json.trim();
  // a streamed call's error carries the body only inside modem's message: `(HTTP code N) reason - BODY `
  return err.message.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
}

/** Socket errors that mean nothing answers at the address. */
const UNREACHABLE = new Set(['ESSHDIAL', 'ENOENT', 'ECONNREFUSED', 'EACCES', 'ENOTSOCK', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/** Whether a modem error means dockerd could not be reached at all. */
export function isUnreachable(err: ModemError): boolean {
  return err.statusCode === undefined && UNREACHABLE.has(err.code ?? '');
}
