// Which BuildKit to talk to, from the environment, and how to reach its address.
// BUILDKIT_HOST names a standalone buildkitd (gRPC spoken directly on the socket);
// otherwise DOCKER_HOST (default the local socket) names a dockerd whose embedded
// BuildKit is reached by upgrading `POST /grpc` to h2c.
import type { Endpoint } from './types.js';
import { BuildKitConnectionError } from './errors.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';

export function endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint {
  const buildkitHost = env.BUILDKIT_HOST?.trim();
  if (buildkitHost) return { kind: 'buildkitd', address: buildkitHost };
  const dockerHost = env.DOCKER_HOST?.trim();
  return { kind: 'docker', address: dockerHost || DEFAULT_DOCKER_HOST };
}

/** A parsed address: what node:net can dial. */
export type DialTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Parses `unix:///path`, `unix:/path`, `tcp://host:port`; anything else is unsupported. */
export function parseAddress(address: string): DialTarget {
  if (address.startsWith('unix://')) {
    const path = address.slice('unix://'.length);
    if (path.startsWith('/')) return { kind: 'unix', path };
  } else if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (path.startsWith('/')) return { kind: 'unix', path };
  } else if (address.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${address.slice('tcp://'.length)}`);
    } catch {
      throw new BuildKitConnectionError('unsupported-address', address, 'malformed tcp:// address');
    }
    const port = Number(url.port);
    if (!url.hostname || !Number.isInteger(port) || port <= 0) {
      throw new BuildKitConnectionError('unsupported-address', address, 'tcp:// address needs host:port');
    }
    // URL keeps IPv6 brackets; node:net wants them off.
    return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  }
  throw new BuildKitConnectionError(
    'unsupported-address',
    address,
    'unsupported address (use unix:///path or tcp://host:port)',
  );
}
