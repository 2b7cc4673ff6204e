// Which BuildKit to talk to, from the environment, and how to reach its address.
// BUILDKIT_HOST names a standalone buildkitd (gRPC spoken directly on the socket);
// otherwise DOCKER_HOST (default the local socket) names a dockerd whose embedded
// BuildKit is reached by upgrading `POST /grpc` to h2c.
import { UnsupportedAddressError, dockerHostFromEnv, parseDaemonAddress, type DialTarget } from '../../common/index.js';
import type { Endpoint } from './types.js';
import { BuildKitConnectionError } from './errors.js';

export type { DialTarget };

export function endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint {
  const buildkitHost = env.BUILDKIT_HOST?.trim();
  if (buildkitHost) return { kind: 'buildkitd', address: buildkitHost };
  return { kind: 'docker', address: dockerHostFromEnv(env) };
}

/** Parses `unix:///path`, `unix:/path`, `tcp://host:port`; anything else is unsupported. */
export function parseAddress(address: string): DialTarget {
  try {
    return parseDaemonAddress(address);
  } catch (err) {
    if (err instanceof UnsupportedAddressError) throw new BuildKitConnectionError('unsupported-address', address, err.reason, { cause: err });
    throw err;
  }
}
