// Helpers for the signing integration tests: running any tracebuild command, key pairs made
// by `tracebuild keygen`, and reading attestations out of a registry with nothing but
// fetch and node:crypto (no oci client, no sigstore library), so that those tests check
// the layout and the signatures independently of the code under test.
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { preAuthEncoding } from '../../attest/index.js';
import { repoRoot, tracebuildCli } from './environment.js';
import { run, type RunResult } from './process.js';

export const BUNDLE_MEDIA_TYPE = 'application/vnd.dev.sigstore.bundle.v0.3+json';
export const PREDICATE_ANNOTATION = 'dev.sigstore.bundle.predicateType';
export const RUNTIME_TRACE_PREDICATE = 'https://in-toto.io/attestation/runtime-trace/v0.1';
export const SLSA_PREDICATE = 'https://slsa.dev/provenance/v1';
export const EMPTY_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

/** `node dist/cli/main.js ARGS...` (no shell). */
export function tracebuild(
  args: readonly string[],
  options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {},
): Promise<RunResult> {
  return run(process.execPath, [tracebuildCli, ...args], {
    cwd: options.cwd ?? repoRoot,
    ...(options.env === undefined ? {} : { env: options.env }),
    timeoutMs: options.timeoutMs ?? 300_000,
  });
}

export function writeFiles(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Key id as tracebuild defines it: hex sha256 of the public key's SPKI DER. */
export function keyIdOfPem(publicPem: string): string {
  return sha256Hex(createPublicKey(publicPem).export({ type: 'spki', format: 'der' }));
}

// ---- plain-fetch registry reading ------------------------------------------------------

export interface PlainManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  json: Record<string, unknown>;
}

export async function fetchManifest(host: string, repo: string, reference: string, accept: string[] = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
]): Promise<PlainManifest | undefined> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${reference}`, { headers: { accept: accept.join(', ') } });
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw new Error(`GET manifest ${repo}:${reference}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    digest: `sha256:${sha256Hex(bytes)}`,
    mediaType: (res.headers.get('content-type') ?? '').split(';')[0] ?? '',
    bytes,
    json: JSON.parse(bytes.toString('utf8')) as Record<string, unknown>,
  };
}

export async function fetchBlob(host: string, repo: string, digest: string): Promise<Buffer> {
  const res = await fetch(`http://${host}/v2/${repo}/blobs/${digest}`);
  if (res.status !== 200) throw new Error(`GET blob ${repo}@${digest}: HTTP ${res.status}`);
  const bytes = Buffer.from(await res.arrayBuffer());
  if (`sha256:${sha256Hex(bytes)}` !== digest) throw new Error(`blob ${digest} does not hash to its digest`);
  return bytes;
}

export interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/** The referrers of a digest: the referrers API when `api`, else the sha256-<hex> tag index. */
export async function plainReferrers(host: string, repo: string, digest: string, api: boolean): Promise<IndexEntry[]> {
  if (api) {
    const res = await fetch(`http://${host}/v2/${repo}/referrers/${digest}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
    if (res.status !== 200) throw new Error(`GET referrers ${repo}@${digest}: HTTP ${res.status}`);
    return ((await res.json()) as { manifests: IndexEntry[] }).manifests;
  }
  const index = await fetchManifest(host, repo, digest.replace(':', '-'), ['application/vnd.oci.image.index.v1+json']);
  return (index?.json.manifests as IndexEntry[] | undefined) ?? [];
}

export interface DsseCheck {
  payloadType: string;
  statement: { subject: { name: string; digest: { sha256: string } }[]; predicateType: string; predicate: Record<string, unknown> };
  keyHint: string;
}

/**
 * Checks a v0.3 bundle's DSSE signature with node:crypto over the pre-authentication
 * encoding, with the given public key; throws when it does not verify.
 */
export function checkDsseWithNodeCrypto(bundleBytes: Uint8Array, publicPem: string): DsseCheck {
  const bundle = JSON.parse(Buffer.from(bundleBytes).toString('utf8')) as {
    mediaType: string;
    verificationMaterial: { publicKey: { hint: string } };
    dsseEnvelope: { payload: string; payloadType: string; signatures: { sig: string; keyid?: string }[] };
  };
  if (bundle.mediaType !== BUNDLE_MEDIA_TYPE) throw new Error(`bundle media type ${bundle.mediaType}`);
  const env = bundle.dsseEnvelope;
  const payload = Buffer.from(env.payload, 'base64');
  const sig = env.signatures[0];
  if (sig === undefined) throw new Error('no signature');
  const ok = cryptoVerify('sha256', preAuthEncoding(env.payloadType, payload), createPublicKey(publicPem), Buffer.from(sig.sig, 'base64'));
  if (!ok) throw new Error('DSSE signature does not verify with node:crypto');
  return {
    payloadType: env.payloadType,
    statement: JSON.parse(payload.toString('utf8')) as DsseCheck['statement'],
    keyHint: bundle.verificationMaterial.publicKey.hint,
  };
}

/** The cosign layout of a bundle referrer, written out by hand (for tamper uploads). */
export function cosignStyleReferrer(subject: { mediaType: string; digest: string; size: number }, bundle: { digest: string; size: number }, predicateType: string): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', size: 2, digest: EMPTY_DIGEST, artifactType: BUNDLE_MEDIA_TYPE },
    layers: [{ mediaType: BUNDLE_MEDIA_TYPE, size: bundle.size, digest: bundle.digest }],
    annotations: {
      'dev.sigstore.bundle.content': 'dsse-envelope',
      [PREDICATE_ANNOTATION]: predicateType,
      'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    },
    subject,
    artifactType: BUNDLE_MEDIA_TYPE,
  };
}
