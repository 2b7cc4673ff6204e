// Which BuildKit to talk to, from the environment, and how to reach its address.
// BUILDKIT_HOST names a standalone buildkitd (gRPC spoken directly on the socket; over
// tcp:// with TLS when BUILDKIT_TLS_DIR is set); otherwise DOCKER_HOST (default the local
// socket) names a dockerd whose embedded BuildKit is reached by upgrading `POST /grpc` to
// h2c (over tcp:// with TLS as the docker client does: DOCKER_TLS_VERIFY, DOCKER_CERT_PATH;
// over ssh:// through `ssh ... docker system dial-stdio`, common/ssh-dial.ts).
import {
  DEFAULT_DOCKER_TCP_PORT,
  DEFAULT_DOCKER_TLS_PORT,
  UnsupportedAddressError,
  buildkitTlsFromEnv,
  dockerHostFromEnv,
  dockerTlsFromEnv,
  loadTlsClientMaterial,
  parseDaemonAddress,
  parseSshAddress,
  type DialTarget,
} from '../../common/index.js';
import type { Endpoint } from './types.js';
import { BuildKitConnectionError } from './errors.js';

export type { DialTarget };

export function endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint {
  const buildkitHost = env.BUILDKIT_HOST?.trim();
  if (buildkitHost) {
    const tls = buildkitHost.startsWith('tcp://') ? buildkitTlsFromEnv(env) : undefined;
    return { kind: 'buildkitd', address: buildkitHost, ...(tls === undefined ? {} : { tls }) };
  }
  const address = dockerHostFromEnv(env);
  const tls = address.startsWith('tcp://') ? dockerTlsFromEnv(env) : undefined;
  return { kind: 'docker', address, ...(tls === undefined ? {} : { tls }) };
}

/** Parses `unix:///path`, `unix:/path`, `tcp://host:port`; anything else is unsupported. */
export function parseAddress(address: string, options: { defaultTcpPort?: number } = {}): DialTarget {
  try {
    return parseDaemonAddress(address, options);
  } catch (err) {
    if (err instanceof UnsupportedAddressError) throw new BuildKitConnectionError('unsupported-address', address, err.reason, { cause: err });
    throw err;
  }
}

/** Where the endpoint is, with its TLS settings read (a TlsConfigError names a bad file).
 * A dockerd address without a port takes the docker client's default (2375, 2376 with TLS). */
export function endpointTarget(endpoint: Endpoint): DialTarget {
  if (endpoint.kind === 'docker' && endpoint.address.startsWith('ssh://')) {
    try {
      return parseSshAddress(endpoint.address);
    } catch (err) {
      if (err instanceof UnsupportedAddressError) throw new BuildKitConnectionError('unsupported-address', endpoint.address, err.reason, { cause: err });
      throw err;
    }
  }
  const defaultTcpPort = endpoint.kind === 'docker' ? (endpoint.tls === undefined ? DEFAULT_DOCKER_TCP_PORT : DEFAULT_DOCKER_TLS_PORT) : undefined;
  const target = parseAddress(endpoint.address, defaultTcpPort === undefined ? {} : { defaultTcpPort });
  if (target.kind === 'tcp' && endpoint.tls !== undefined) target.tls = loadTlsClientMaterial(endpoint.tls);
  return target;
}
