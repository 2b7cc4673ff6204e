// The Sigstore services of @sigstore/mock (Fulcio with a CT log, Rekor, a timestamp
// authority) served over HTTP on 127.0.0.1, and the trusted root a verifier needs for them.
// The mock computes certificates, SCTs, log entries (signed entry timestamps, checkpoints,
// inclusion proofs) and RFC 3161 timestamps with real keys; this file only routes requests
// to its handlers. One thing is adapted: the real Rekor stores a DSSE entry as hashes and
// signatures (rekor's pkg/types/dsse/v0.0.1: envelopeHash, payloadHash, signatures with
// their verifier), while the mock logs the proposed entry as it came; the server stores
// what Rekor stores, so that the entry a verifier checks is shaped as in production.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler } from '@sigstore/mock';

type Handler = ReturnType<typeof fulcioHandler>;

export interface SigstoreServices {
  url: string;
  /** The trusted root (trusted_root.json) for these services. */
  trustedRoot: Record<string, unknown>;
  /** The TSA's certificate chain, signing certificate first (PEM). */
  tsaChainPem: string;
  /** Requests served, by path. */
  requests: string[];
  /** Bodies of the log entries Rekor stored (canonical JSON text). */
  logged: string[];
  close(): Promise<void>;
}

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

const view = (v: ArrayBufferView): Buffer => Buffer.from(v.buffer, v.byteOffset, v.byteLength);
const b64 = (bytes: ArrayBufferView): string => view(bytes).toString('base64');
const sha256hex = (bytes: Uint8Array | string): string => createHash('sha256').update(bytes).digest('hex');

function pem(der: ArrayBufferView): string {
  const body = b64(der).replace(/(.{64})/g, '$1\n').trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${body}\n-----END CERTIFICATE-----\n`;
}

/** A proposed `dsse` entry as Rekor stores it; any other entry unchanged. */
function asRekorStores(body: string): string {
  const entry = JSON.parse(body) as { kind?: string; apiVersion?: string; spec?: { proposedContent?: { envelope: string; verifiers: string[] } } };
  const proposed = entry.spec?.proposedContent;
  if (entry.kind !== 'dsse' || proposed === undefined) return body;
  const envelope = JSON.parse(proposed.envelope) as { payload: string; signatures: { sig: string }[] };
  return JSON.stringify({
    apiVersion: entry.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: sha256hex(proposed.envelope) },
      payloadHash: { algorithm: 'sha256', value: sha256hex(Buffer.from(envelope.payload, 'base64')) },
      signatures: envelope.signatures.map((s) => ({ signature: s.sig, verifier: proposed.verifiers[0] })),
    },
  });
}

/** Starts Fulcio (+ CT log), Rekor and a TSA on one port of 127.0.0.1. `tsaClock` fixes the TSA's time. */
export async function startSigstoreServices(options: { tsaClock?: Date } = {}): Promise<SigstoreServices> {
  const requests: string[] = [];
  const logged: string[] = [];
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const ctKeys = keyPair();
  const ctlog = await initializeCTLog(ctKeys);
  const ca = await initializeCA(keyPair(), ctlog);
  const tlogKeys = keyPair();
  const tlog = await initializeTLog(url, tlogKeys);
  // The TSA reads its time from this Date object; it is set to the current whole second
  // before each request. @sigstore/core 4 parses a GeneralizedTime's fraction only when it
  // has exactly three digits, and DER drops trailing zeros (.5, not .500): one request in
  // ten would fail to parse otherwise.
  const tsaTime = new Date(options.tsaClock ?? Date.now());
  const tsa = await initializeTSA(keyPair(), tsaTime);
  const routes = new Map<string, Handler>();
  for (const h of [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)]) routes.set(h.path, h);

  server.on('request', (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = new URL(req.url ?? '/', url).pathname;
      requests.push(`${req.method ?? '?'} ${path}`);
      const handler = req.method === 'POST' ? routes.get(path) : undefined;
      if (handler === undefined) {
        res.writeHead(404).end('not found');
        return;
      }
      let body = Buffer.concat(chunks).toString('utf8');
      if (path === '/api/v1/timestamp' && options.tsaClock === undefined) tsaTime.setTime(Math.floor(Date.now() / 1000) * 1000);
      if (path === '/api/v1/log/entries') {
        body = asRekorStores(body);
        logged.push(body);
      }
      handler
        .fn(body)
        .then(({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
          res.end(typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength));
        })
        .catch((err: unknown) => res.writeHead(500).end(String(err)));
    });
  });

  const since = new Date(Date.now() - 3_600_000).toISOString();
  const tlogDer = tlogKeys.publicKey.export({ type: 'spki', format: 'der' });
  const ctDer = ctKeys.publicKey.export({ type: 'spki', format: 'der' });
  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(tlogDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: since } },
        logId: { keyId: b64(createHash('sha256').update(tlogDer).digest()) },
      },
    ],
    certificateAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
        validFor: { start: since },
      },
    ],
    ctlogs: [
      {
        baseUrl: url,
        hashAlgorithm: 'SHA2_256',
        publicKey: { rawBytes: b64(ctDer), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: since } },
        logId: { keyId: b64(ctlog.logID) },
      },
    ],
    timestampAuthorities: [
      {
        subject: { organization: 'sigstore.mock', commonName: 'tsa' },
        uri: url,
        certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
        validFor: { start: since },
      },
    ],
  };
  return {
    url,
    trustedRoot,
    tsaChainPem: pem(tsa.intCertificate) + pem(tsa.rootCertificate),
    requests,
    logged,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** An unsigned OIDC identity token (the mock Fulcio reads its claims without checking a signature). */
export function identityToken(claims: { iss: string; sub: string; email?: string }): string {
  const part = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: 'none', typ: 'JWT' })}.${part({ aud: 'sigstore', iat: now, exp: now + 600, ...claims })}.`;
}
