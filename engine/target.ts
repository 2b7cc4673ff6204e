// Where dockerd's Engine API is, from DOCKER_HOST (with TLS as the docker client sets it up:
// common/tls.ts). The calls themselves go through dockerode (client.ts).
import { TlsConfigError, UnsupportedAddressError, dockerHostFromEnv, dockerHostTarget, type DialTarget } from '../common/index.js';
import { EngineError } from './errors.js';

export type EngineTarget = DialTarget;

/**
 * Where dockerd listens: DOCKER_HOST (`unix:///path`, `tcp://host[:port]`) or the default
 * socket; over tcp:// with TLS when DOCKER_TLS_VERIFY (or DOCKER_TLS) is set, with the
 * certificates of DOCKER_CERT_PATH; `ssh://[user@]host[:port]` through the ssh client.
 */
export function engineTarget(env: NodeJS.ProcessEnv): EngineTarget {
  const address = dockerHostFromEnv(env);
  try {
    return dockerHostTarget(env);
  } catch (cause) {
    if (cause instanceof TlsConfigError) throw cause;
    const reason = cause instanceof UnsupportedAddressError && cause.reason !== 'use unix:///path or tcp://host:port' ? `${cause.reason}; ` : '';
    throw new EngineError('unsupported-docker-host', address, `cannot use DOCKER_HOST=${address}: ${reason}use unix:///path, tcp://host:port or ssh://[user@]host[:port]`, { cause });
  }
}
