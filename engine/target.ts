// Where dockerd's Engine API is, from DOCKER_HOST, and the little HTTP every call shares.
import type { IncomingMessage } from 'node:http';
import { DEFAULT_DOCKER_TCP_PORT, dockerHostFromEnv, parseDaemonAddress, type DialTarget } from '../common/index.js';
import { EngineError } from './errors.js';

export type EngineTarget = DialTarget;

/** Where dockerd listens: DOCKER_HOST (`unix:///path`, `tcp://host[:port]`) or the default socket. */
export function engineTarget(env: NodeJS.ProcessEnv): EngineTarget {
  const address = dockerHostFromEnv(env);
  if (address.startsWith('tcp://') && env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '') {
    throw new EngineError('unsupported-docker-host', address, `DOCKER_HOST=${address} with DOCKER_TLS_VERIFY: TLS to dockerd is not supported; use its unix socket`);
  }
  try {
    return parseDaemonAddress(address, { defaultTcpPort: DEFAULT_DOCKER_TCP_PORT });
  } catch (cause) {
    throw new EngineError('unsupported-docker-host', address, `cannot use DOCKER_HOST=${address}: use unix:///path or tcp://host:port`, { cause });
  }
}

/** node:http request options that reach the target. */
export function connectOptions(target: EngineTarget): { socketPath: string } | { host: string; port: number } {
  return target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port };
}

export function readAll(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
  });
}
