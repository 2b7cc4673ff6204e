// TLS to a daemon over tcp://, configured the way its own clients configure it:
//
// - DOCKER_HOST=tcp://...: the docker client's variables. DOCKER_TLS_VERIFY (any non-empty
//   value) turns TLS on and verifies the daemon's certificate against ca.pem; DOCKER_TLS
//   turns TLS on without verifying it. DOCKER_CERT_PATH (default: the docker config
//   directory, $DOCKER_CONFIG or ~/.docker) holds ca.pem, cert.pem and key.pem; the client
//   certificate is sent when cert.pem and key.pem are there. The default port is then 2376.
// - BUILDKIT_HOST=tcp://...: BUILDKIT_TLS_DIR names a directory laid out like buildctl's
//   --tlsdir (ca.pem, cert.pem, key.pem); the server is always verified.
//   BUILDKIT_TLS_SERVER_NAME overrides the name checked in its certificate.
//
// What is read here is what a TLS client needs in memory (the PEM bytes); the dialers
// (frontend/buildkit, engine) pass it to node:tls. ssh:// is a transport of its own in
// DialTarget (ssh-dial.ts), not a TLS setting.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type ConnectionOptions } from 'node:tls';
import { TracebuildError, type ExitKind } from './errors.js';
import { readUserFile, UserFileError } from './user-file.js';

/** The docker client's default port for tcp:// with TLS. */
export const DEFAULT_DOCKER_TLS_PORT = 2376;

/** Where the TLS settings are, before anything is read. */
export interface TlsClientFiles {
  /** Verify the server's certificate (against caFile). */
  verify: boolean;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** The name the server's certificate must carry, when not the host dialed. */
  serverName?: string;
  /** Where these settings came from, for messages (e.g. `DOCKER_CERT_PATH=/home/me/.docker`). */
  source: string;
}

/** The same, read: what node:tls is given. */
export interface TlsClientMaterial {
  verify: boolean;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  serverName?: string;
  files: TlsClientFiles;
}

export type TlsConfigErrorCode = 'tls-file-missing' | 'tls-file-unreadable' | 'tls-incomplete';

/** A TLS setting names a file that cannot be used; the message names the file and the setting. */
export class TlsConfigError extends TracebuildError<TlsConfigErrorCode> {
  override readonly name = 'TlsConfigError';
  readonly exit: ExitKind = 'input';
  constructor(code: TlsConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

function set(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

/** The docker config directory: $DOCKER_CONFIG, else ~/.docker. */
function dockerConfigDir(env: NodeJS.ProcessEnv): string {
  return set(env.DOCKER_CONFIG) ? env.DOCKER_CONFIG : join(env.HOME ?? homedir(), '.docker');
}

/** The TLS settings of DOCKER_HOST, or undefined when TLS is off (unix sockets never use it). */
export function dockerTlsFromEnv(env: NodeJS.ProcessEnv): TlsClientFiles | undefined {
  const verify = set(env.DOCKER_TLS_VERIFY);
  if (!verify && !set(env.DOCKER_TLS)) return undefined;
  const dir = set(env.DOCKER_CERT_PATH) ? env.DOCKER_CERT_PATH : dockerConfigDir(env);
  const source = set(env.DOCKER_CERT_PATH) ? `DOCKER_CERT_PATH=${dir}` : `the docker config directory ${dir}`;
  const files: TlsClientFiles = { verify, source };
  const ca = join(dir, 'ca.pem');
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  // As the docker client: the CA is needed to verify; the client pair is sent when present.
  if (verify || existsSync(ca)) files.caFile = ca;
  if (existsSync(cert) || existsSync(key)) {
    files.certFile = cert;
    files.keyFile = key;
  }
  return files;
}

/** The TLS settings of BUILDKIT_HOST (BUILDKIT_TLS_DIR), or undefined when TLS is off. */
export function buildkitTlsFromEnv(env: NodeJS.ProcessEnv): TlsClientFiles | undefined {
  if (!set(env.BUILDKIT_TLS_DIR)) return undefined;
  const dir = env.BUILDKIT_TLS_DIR;
  const files: TlsClientFiles = {
    verify: true,
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'cert.pem'),
    keyFile: join(dir, 'key.pem'),
    source: `BUILDKIT_TLS_DIR=${dir}`,
  };
  if (set(env.BUILDKIT_TLS_SERVER_NAME)) files.serverName = env.BUILDKIT_TLS_SERVER_NAME.trim();
  return files;
}

/** A PEM file is far smaller than this. */
const MAX_PEM_BYTES = 1 << 20;

function readPem(path: string, what: string, files: TlsClientFiles): Buffer {
  try {
    return readUserFile(path, { what: `the TLS ${what} ${path} (${files.source})`, maxBytes: MAX_PEM_BYTES });
  } catch (err) {
    if (err instanceof UserFileError) {
      throw new TlsConfigError(err.code === 'not-found' ? 'tls-file-missing' : 'tls-file-unreadable', err.message, { cause: err });
    }
    throw err;
  }
}

/** Reads the files; errors name the file and where the setting came from. */
export function loadTlsClientMaterial(files: TlsClientFiles): TlsClientMaterial {
  if ((files.certFile === undefined) !== (files.keyFile === undefined)) {
    throw new TlsConfigError('tls-incomplete', `a TLS client certificate needs both cert.pem and key.pem (${files.source})`);
  }
  const material: TlsClientMaterial = { verify: files.verify, files };
  if (files.caFile !== undefined) material.ca = readPem(files.caFile, 'CA certificate', files);
  if (files.certFile !== undefined && files.keyFile !== undefined) {
    if (!existsSync(files.certFile) || !existsSync(files.keyFile)) {
      const missing = existsSync(files.certFile) ? files.keyFile : files.certFile;
      throw new TlsConfigError('tls-file-missing', `the TLS client ${missing === files.keyFile ? 'key' : 'certificate'} ${missing} (${files.source}): no such file; a client certificate needs both cert.pem and key.pem`);
    }
    material.cert = readPem(files.certFile, 'client certificate', files);
    material.key = readPem(files.keyFile, 'client key', files);
  }
  if (files.serverName !== undefined) material.serverName = files.serverName;
  return material;
}

/** node:tls connect options for this material, to `host`. */
export function tlsConnectOptions(material: TlsClientMaterial, host: string): ConnectionOptions {
  const options: ConnectionOptions = { host, rejectUnauthorized: material.verify };
  if (material.ca !== undefined) options.ca = material.ca;
  if (material.cert !== undefined) options.cert = material.cert;
  if (material.key !== undefined) options.key = material.key;
  // SNI carries names only; an IP address is checked against the certificate's IP SANs.
  const name = material.serverName ?? host;
  if (!/^[\d.]+$/.test(name) && !name.includes(':')) options.servername = name;
  if (material.serverName !== undefined) {
    const expected = material.serverName;
    // node:tls's own check, against that name instead of the host dialed
    options.checkServerIdentity = (_host, cert) => checkServerIdentity(expected, cert);
  }
  return options;
}

/** What a failed TLS handshake means, in a few words (a node:tls / OpenSSL error). */
export function describeTlsError(err: unknown): string | undefined {
  const e = err as NodeJS.ErrnoException & { reason?: string };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = err instanceof Error ? err.message : String(err);
  if (/ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|ACCESS_DENIED|CERTIFICATE_REVOKED)/.test(code) || /alert (unknown ca|bad certificate|certificate required|certificate unknown|access denied|certificate revoked)/i.test(message)) {
    return `the server refused this client's certificate (${e.reason ?? message})`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the server's certificate is not for this host (${e.reason ?? message})`;
  if (/UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT|DEPTH_ZERO_SELF_SIGNED|UNABLE_TO_GET_ISSUER_CERT|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE/.test(code)) {
    return `the server's certificate is not signed by the trusted CA (${code})`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `the server's certificate is not valid now (${code})`;
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /ssl|tls/i.test(code)) return `TLS handshake failed (${e.reason ?? message})`;
  return undefined;
}
