// Where a Docker daemon (or a standalone buildkitd) listens, from the address forms the
// docker client accepts: `unix:///path` (or `unix:/path`) and `tcp://host[:port]`, the
// latter with TLS when the environment asks for it (tls.ts), and, for dockerd only,
// `ssh://[user@]host[:port]` (dialed through the ssh client: ssh-dial.ts).
import { DEFAULT_DOCKER_TLS_PORT, dockerTlsFromEnv, loadTlsClientMaterial, type TlsClientMaterial } from './tls.js';

export const DEFAULT_DOCKER_HOST = 'unix:///var/run/docker.sock';
/** The docker client's default port for tcp:// without one (2376 when TLS is used). */
export const DEFAULT_DOCKER_TCP_PORT = 2375;

/** A dockerd reached as the docker client does for ssh://: `ssh ... docker system dial-stdio`. */
export interface SshTarget {
  kind: 'ssh';
  host: string;
  user?: string;
  port?: number;
}

/** What node:net and node:http can dial; a tcp target with `tls` is dialed with node:tls,
 * an ssh target through the ssh client (ssh-dial.ts). */
export type DialTarget = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number; tls?: TlsClientMaterial } | SshTarget;

/** The address is not one we can dial; `reason` says why, in a few words. */
export class UnsupportedAddressError extends Error {
  override readonly name = 'UnsupportedAddressError';
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`unsupported address ${address}: ${reason}`);
  }
}

/** DOCKER_HOST, trimmed, or the local socket. */
export function dockerHostFromEnv(env: NodeJS.ProcessEnv): string {
  return env.DOCKER_HOST?.trim() || DEFAULT_DOCKER_HOST;
}

/**
 * Parses a daemon address. A tcp:// address without a port takes `defaultTcpPort` (the
 * docker client's rule for DOCKER_HOST); without one given, a port is required (buildkitd
 * has no default).
 */
export function parseDaemonAddress(address: string, options: { defaultTcpPort?: number } = {}): DialTarget {
  for (const prefix of ['unix://', 'unix:']) {
    if (address.startsWith(prefix)) {
      const path = address.slice(prefix.length);
      if (path.startsWith('/')) return { kind: 'unix', path };
      throw new UnsupportedAddressError(address, 'a unix socket address needs an absolute path');
    }
  }
  if (address.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${address.slice('tcp://'.length)}`);
    } catch {
      throw new UnsupportedAddressError(address, 'malformed tcp:// address');
    }
    const port = url.port === '' ? options.defaultTcpPort : Number(url.port);
    if (!url.hostname || port === undefined || !Number.isInteger(port) || port <= 0) {
      throw new UnsupportedAddressError(address, 'a tcp:// address needs host:port');
    }
    // URL keeps IPv6 brackets; node:net wants them off.
    return { kind: 'tcp', host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
  }
  throw new UnsupportedAddressError(address, 'use unix:///path or tcp://host:port');
}

/** `ssh://[user@]host[:port]`, as the docker client reads it: nothing after the host. */
export function parseSshAddress(address: string): SshTarget {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    throw new UnsupportedAddressError(address, 'malformed ssh:// address');
  }
  if (url.password !== '') throw new UnsupportedAddressError(address, 'an ssh:// address cannot carry a password (use a key or the ssh agent)');
  if (url.hostname === '') throw new UnsupportedAddressError(address, 'an ssh:// address needs a host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new UnsupportedAddressError(address, 'an ssh:// address is ssh://[user@]host[:port], with nothing after the host');
  }
  const target: SshTarget = { kind: 'ssh', host: url.hostname.replace(/^\[(.*)\]$/, '$1') };
  if (url.username !== '') target.user = decodeURIComponent(url.username);
  if (url.port !== '') target.port = Number(url.port);
  return target;
}

/**
 * DOCKER_HOST as the docker client dials it: the address (default port 2375, 2376 with
 * TLS) and, for tcp://, the TLS settings of DOCKER_TLS_VERIFY / DOCKER_TLS /
 * DOCKER_CERT_PATH, read. Throws UnsupportedAddressError or common's TlsConfigError.
 */
export function dockerHostTarget(env: NodeJS.ProcessEnv): DialTarget {
  const address = dockerHostFromEnv(env);
  if (address.startsWith('ssh://')) return parseSshAddress(address);
  const tls = dockerTlsFromEnv(env);
  const target = parseDaemonAddress(address, { defaultTcpPort: tls === undefined ? DEFAULT_DOCKER_TCP_PORT : DEFAULT_DOCKER_TLS_PORT });
  if (target.kind === 'tcp' && tls !== undefined) target.tls = loadTlsClientMaterial(tls);
  return target;
}

/** The address as a user would write it, for messages. */
export function describeTarget(target: DialTarget): string {
  if (target.kind === 'unix') return `unix://${target.path}`;
  const host = target.host.includes(':') ? `[${target.host}]` : target.host;
  if (target.kind === 'ssh') return `ssh://${target.user === undefined ? '' : `${target.user}@`}${host}${target.port === undefined ? '' : `:${target.port}`}`;
  return `tcp://${target.host}:${target.port}`;
}
