// Who a connection is: the client certificate it presented (mutual TLS; the agent accepts
// only certificates its client CA signed). A client's identity is its certificate's sha256
// fingerprint: two certificates are two clients, whatever their names. The subject's CN is
// for people (messages, logs) and for the --trace-reader list.
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { readUserFile, UserFileError } from '../common/index.js';
import { AgentError } from './errors.js';

export interface ClientIdentity {
  /** sha256 of the certificate (DER), lower-case hex. */
  fingerprint: string;
  /** The subject's common name ('' when it has none). */
  name: string;
  /** The peer address, for logs. */
  peer: string;
}

/** The identity of an authorized TLS connection; undefined without a verified certificate. */
export function identityOf(socket: TLSSocket): ClientIdentity | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert || cert.raw === undefined) return undefined;
  const cn = cert.subject?.CN;
  return {
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    name: Array.isArray(cn) ? cn.join(',') : (cn ?? ''),
    peer: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
  };
}

/** How a client is named in messages: its CN and the start of its fingerprint. */
export function describeIdentity(id: ClientIdentity): string {
  return `${id.name === '' ? '(no CN)' : `CN=${id.name}`} [${id.fingerprint.slice(0, 12)}]`;
}

export interface ServerTlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile: string;
  /** A certificate revocation list of the client CA. */
  crlFile?: string;
}

export interface ServerTlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca: Buffer;
  crl?: Buffer;
}

function read(file: string, what: string, flag: string): Buffer {
  try {
    return readUserFile(file, { what: `the agent's ${what} ${file} (${flag})`, maxBytes: 1 << 20 });
  } catch (err) {
    if (err instanceof UserFileError) throw new AgentError('tls-config', err.message, { cause: err });
    throw err;
  }
}

export function loadServerTls(files: ServerTlsFiles): ServerTlsMaterial {
  const material: ServerTlsMaterial = {
    cert: read(files.certFile, 'certificate', '--tls-cert'),
    key: read(files.keyFile, 'private key', '--tls-key'),
    ca: read(files.clientCaFile, 'client CA', '--client-ca'),
  };
  if (files.crlFile !== undefined) material.crl = read(files.crlFile, 'client CRL', '--client-crl');
  return material;
}
