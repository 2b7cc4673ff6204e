// Signing (no file or environment access: keys, certificates and tokens are passed in): DSSE
// over an in-toto statement, packaged by @sigstore/sign's DSSEBundleBuilder into a Sigstore
// bundle v0.3. Three ways to sign, and two witnesses any of them may add:
//
//   key          a local ECDSA P-256 key; the bundle carries the key hint (offline)
//   certificate  a local key with its X.509 certificate (an enterprise CA's, e.g. a SPIFFE
//                identity); the bundle carries the leaf certificate (v0.3 has no chain: the
//                verifier is given the CA roots and intermediates)
//   keyless      @sigstore/sign's FulcioSigner: an ephemeral key, certified by Fulcio for
//                the OIDC identity token's subject
//   rekorUrl     @sigstore/sign's RekorWitness: a transparency-log entry (dsse), whose
//                inclusion proof and promise are embedded
//   tsaUrl       @sigstore/sign's TSAWitness: an RFC 3161 timestamp of the signature from a
//                timestamp authority speaking the Sigstore TSA API
//
// The DSSE signature's `keyid` is left empty (cosign's DSSE verifier skips signatures whose
// keyid differs from its own, which is empty); the key hint is where the bundle format puts
// it, in verificationMaterial.publicKey.hint.
// Must not import verify.ts (sigstore-js habit: signing and verification stay apart).

import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { BUNDLE_V03_MEDIA_TYPE, bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import {
  CIContextProvider,
  DSSEBundleBuilder,
  FulcioSigner,
  RekorWitness,
  TSAWitness,
  type Artifact,
  type IdentityProvider,
  type Signature,
  type Signer,
  type Witness,
} from '@sigstore/sign';
import { AttestationError } from './errors.js';
import { assertP256, keyId, toPublicKey } from './keyid.js';
import { IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE_V1, type Statement } from './statement.js';

export const DEFAULT_FULCIO_URL = 'https://fulcio.sigstore.dev';
export const DEFAULT_REKOR_URL = 'https://rekor.sigstore.dev';

export type SigningMethod =
  | { kind: 'key'; privateKey: KeyObject }
  | { kind: 'certificate'; privateKey: KeyObject; certificatePem: string }
  | {
      kind: 'keyless';
      fulcioUrl: string;
      /** The OIDC identity token; absent: the ambient CI token (SIGSTORE_ID_TOKEN, GitHub Actions, Buildkite), found by @sigstore/sign. */
      identityToken?: string;
    };

export interface SignOptions {
  /** The legacy form: sign with this local key. */
  privateKey?: KeyObject;
  method?: SigningMethod;
  /** A transparency log to record the signature in (keyless: required, default DEFAULT_REKOR_URL). */
  rekorUrl?: string;
  /** A Sigstore-API timestamp authority to timestamp the signature. */
  tsaUrl?: string;
  /** Per request to Fulcio, Rekor, the TSA. */
  timeoutMs?: number;
}

/**
 * A @sigstore/sign Signer backed by a local private key. Signatures are ECDSA P-256 over
 * SHA-256, DER-encoded (what DSSE and Sigstore expect); the key material it reports is the
 * SPKI PEM public key with hint = keyId (sha256 hex of the SPKI DER), or the certificate.
 */
export function createLocalSigner(privateKey: KeyObject, certificatePem?: string): Signer {
  if (privateKey.type !== 'private') throw new AttestationError('invalid-argument', 'signing needs a private key');
  assertP256(privateKey);
  const publicKeyPem = toPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
  const hint = keyId(privateKey);
  const key: Signature['key'] =
    certificatePem === undefined ? { $case: 'publicKey', publicKey: publicKeyPem, hint } : { $case: 'x509Certificate', certificate: certificatePem };
  return { sign: async (data: Buffer): Promise<Signature> => ({ signature: cryptoSign('sha256', data, privateKey), key }) };
}

/**
 * The leaf of a PEM certificate chain, checked against the private key and the time: the
 * certificate must be for this key and valid now (a signature made outside its validity
 * never verifies). Returns the leaf as PEM.
 */
export function signingCertificate(chainPem: string, privateKey: KeyObject, now: Date, source = 'certificate'): { pem: string; certificate: X509Certificate } {
  const first = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/.exec(chainPem)?.[0];
  if (first === undefined) throw new AttestationError('certificate-mismatch', `${source}: no PEM certificate in it`);
  let certificate: X509Certificate;
  try {
    certificate = X509Certificate.parse(first);
  } catch (cause) {
    throw new AttestationError('certificate-mismatch', `${source}: its first certificate cannot be parsed`, { cause });
  }
  const certKey = createPublicKey({ key: certificate.publicKey, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' });
  const ownKey = toPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!Buffer.from(certKey).equals(Buffer.from(ownKey))) {
    throw new AttestationError('certificate-mismatch', `${source}: its first certificate is not for the signing key (--key)`);
  }
  if (!certificate.validForDate(now)) {
    throw new AttestationError(
      'certificate-mismatch',
      `${source}: the certificate is valid from ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}, not now (${now.toISOString()})`,
    );
  }
  return { pem: `${first}\n`, certificate };
}

/** DSSEBundleBuilder whose DSSE signatures carry no keyid (see the top of this file). */
class BlankKeyIdBundleBuilder extends DSSEBundleBuilder {
  protected override async package(artifact: Artifact, signature: Signature): ReturnType<DSSEBundleBuilder['package']> {
    const bundle = await super.package(artifact, signature);
    for (const s of bundle.content.dsseEnvelope.signatures) s.keyid = '';
    return bundle;
  }
}

function identityProvider(token: string | undefined): IdentityProvider {
  if (token !== undefined) return { getToken: () => Promise.resolve(token) };
  return new CIContextProvider('sigstore');
}

/** A message that never carries the identity token (@sigstore/sign puts a token it cannot parse in its error). */
function redacted(message: string, secret: string | undefined): string {
  return secret === undefined || secret === '' ? message : message.split(secret).join('[identity token]');
}

function errorText(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e !== undefined && depth < 4; depth++) {
    if (e instanceof Error) {
      if (!parts.includes(e.message)) parts.push(e.message);
      e = (e as { cause?: unknown }).cause;
    } else {
      parts.push(String(e));
      break;
    }
  }
  return parts.join(': ');
}

/** The builder for a signing method and its witnesses. */
export function bundleBuilder(options: SignOptions): DSSEBundleBuilder {
  const method: SigningMethod | undefined = options.method ?? (options.privateKey === undefined ? undefined : { kind: 'key', privateKey: options.privateKey });
  if (method === undefined) throw new AttestationError('invalid-argument', 'signing needs a key, a certificate or keyless signing');
  const timeout = options.timeoutMs ?? 30_000;
  let signer: Signer;
  switch (method.kind) {
    case 'key':
      signer = createLocalSigner(method.privateKey);
      break;
    case 'certificate':
      signer = createLocalSigner(method.privateKey, method.certificatePem);
      break;
    case 'keyless':
      signer = new FulcioSigner({ fulcioBaseURL: method.fulcioUrl, identityProvider: identityProvider(method.identityToken), timeout, retry: 0 });
      break;
  }
  const witnesses: Witness[] = [];
  const rekorUrl = options.rekorUrl ?? (method.kind === 'keyless' ? DEFAULT_REKOR_URL : undefined);
  if (rekorUrl !== undefined) witnesses.push(new RekorWitness({ rekorBaseURL: rekorUrl, timeout, retry: 0 }));
  if (options.tsaUrl !== undefined) witnesses.push(new TSAWitness({ tsaBaseURL: options.tsaUrl, timeout, retry: 0 }));
  return new BlankKeyIdBundleBuilder({ signer, witnesses });
}

/** Signs any payload as a DSSE envelope in a v0.3 bundle (JSON form). */
export async function signPayload(payload: Uint8Array, payloadType: string, options: SignOptions, builder = bundleBuilder(options)): Promise<SerializedBundle> {
  const token = options.method?.kind === 'keyless' ? options.method.identityToken : undefined;
  let json: SerializedBundle;
  try {
    const bundle = await builder.create({ data: Buffer.from(payload), type: payloadType });
    json = bundleToJSON(bundle);
  } catch (cause) {
    const code = (cause as { code?: unknown }).code;
    const message = redacted(errorText(cause), token);
    if (code === 'IDENTITY_TOKEN_READ_ERROR' || code === 'IDENTITY_TOKEN_PARSE_ERROR') {
      throw new AttestationError('identity-token', `no usable identity token: ${message} (give --identity-token, or run where @sigstore/sign finds an ambient CI token)`);
    }
    if (typeof code === 'string' && /^(CA_|TLOG_|TSA_)/.test(code)) {
      throw new AttestationError('signing-service', `signing failed: ${message}`);
    }
    throw new AttestationError('signing-failed', `signing failed: ${message}`);
  }
  if (json.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new AttestationError('signing-failed', `expected a ${BUNDLE_V03_MEDIA_TYPE} bundle, got ${json.mediaType}`);
  }
  return json;
}

/**
 * Serializes the statement (JSON.stringify, key order as built) and signs it with
 * payloadType application/vnd.in-toto+json. Returns the bundle as JSON-ready object.
 */
export async function signStatement(statement: Statement, options: SignOptions, builder?: DSSEBundleBuilder): Promise<SerializedBundle> {
  if (statement._type !== STATEMENT_TYPE_V1 || !Array.isArray(statement.subject) || statement.subject.length === 0) {
    throw new AttestationError('invalid-argument', 'not an in-toto Statement v1 with at least one subject');
  }
  const payload = Buffer.from(JSON.stringify(statement), 'utf8');
  return signPayload(payload, IN_TOTO_PAYLOAD_TYPE, options, builder);
}
