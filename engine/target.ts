// Where dockerd's Engine API is, from DOCKER_HOST (with TLS as the docker client sets it up:
// common/tls.ts), and the little HTTP every call shares.
import { request as httpRequest, type ClientRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { TlsConfigError, dockerHostFromEnv, dockerHostTarget, tlsConnectOptions, type DialTarget } from '../common/index.js';
import { EngineError } from './errors.js';

export type EngineTarget = DialTarget;

/**
 * Where dockerd listens: DOCKER_HOST (`unix:///path`, `tcp://host[:port]`) or the default
 * socket; over tcp:// with TLS when DOCKER_TLS_VERIFY (or DOCKER_TLS) is set, with the
 * certificates of DOCKER_CERT_PATH.
 */
export function engineTarget(env: NodeJS.ProcessEnv): EngineTarget {
  const address = dockerHostFromEnv(env);
  try {
    return dockerHostTarget(env);
  } catch (cause) {
    if (cause instanceof TlsConfigError) throw cause;
    throw new EngineError('unsupported-docker-host', address, `cannot use DOCKER_HOST=${address}: use unix:///path or tcp://host:port`, { cause });
  }
}

/** node:http(s) request options that reach the target. */
export function connectOptions(target: EngineTarget): RequestOptions {
  if (target.kind === 'unix') return { socketPath: target.path };
  if (target.tls === undefined) return { host: target.host, port: target.port };
  return { port: target.port, ...tlsConnectOptions(target.tls, target.host) } as RequestOptions;
}

/** An HTTP request to dockerd: node:https for a TLS target, node:http otherwise. */
export function engineRequest(target: EngineTarget, options: RequestOptions, onResponse: (res: IncomingMessage) => void): ClientRequest {
  const request = target.kind === 'tcp' && target.tls !== undefined ? httpsRequest : httpRequest;
  // no agent: a TLS agent would keep connections (and the process) alive after the call
  return request({ ...connectOptions(target), ...options, agent: false }, onResponse);
}

export function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
  });
}
