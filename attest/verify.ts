// Verification (pure: no file, network or clock access; trust material is an argument).
// Must not import sign.ts.
//
// Steps, each with its own error code:
//   1. parse the bundle JSON and validate it as a Sigstore bundle  -> malformed-bundle
//   2. require v0.3, DSSE content, public-key verification material -> unsupported-bundle
//   3. @sigstore/verify with offline trust material (no CAs, logs or TSAs; thresholds 0):
//      the bundle's publicKey.hint must be the keyId of a trusted key -> unknown-key
//      the DSSE signature must verify with that key                    -> signature-invalid
//   4. payloadType application/vnd.in-toto+json                         -> payload-type
//   5. payload is a JSON object / `_type` is Statement v1    -> malformed-statement / statement-type
//   6. some subject has digest.sha256 = expected image digest          -> subject-mismatch
//   7. predicateType is accepted                                        -> unsupported-predicate
//
// Wrong key: a bundle signed by a key that is not trusted names that key's id in its hint,
// which matches no trusted key, so the result is `unknown-key` (the key is looked up before
// any signature check). A bundle whose hint names a trusted key but whose signature was made
// by another key gives `signature-invalid`.

import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  BUNDLE_V03_MEDIA_TYPE,
  assertBundleLatest,
  bundleFromJSON,
  type Bundle,
} from '@sigstore/bundle';
import {
  Verifier,
  VerificationError,
  toSignedEntity,
  type SignedEntity,
  type TrustMaterial,
} from '@sigstore/verify';
import { AttestationError } from './errors.js';
import { assertP256, keyId, toPublicKey } from './keyid.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  KNOWN_PREDICATE_TYPES,
  STATEMENT_TYPE_V1,
  sha256Hex,
  type Statement,
} from './statement.js';

export interface VerifyBundleOptions {
  /** Trusted public keys (KeyObjects or SPKI PEM strings), ECDSA P-256. */
  publicKeys: ReadonlyArray<KeyObject | string>;
  /** The image manifest digest the statement must be about: "sha256:<hex>". */
  expectedSubjectDigest: string;
  /** Accepted predicate types; defaults to KNOWN_PREDICATE_TYPES. */
  predicateTypes?: readonly string[];
}

export interface VerifiedAttestation {
  statement: Statement;
  /** keyId of the trusted key that signed it. */
  keyId: string;
  predicateType: string;
}

/** Verifies a bundle (JSON text, bytes, or parsed object) and returns its statement. */
export function verifyBundle(bundleJson: string | Uint8Array | unknown, options: VerifyBundleOptions): VerifiedAttestation {
  const expectedHex = sha256Hex(options.expectedSubjectDigest, 'expected subject digest');
  const trusted = trustedKeys(options.publicKeys);

  const bundle = parseBundle(bundleJson);
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new AttestationError('unsupported-bundle', `expected a ${BUNDLE_V03_MEDIA_TYPE} bundle, got ${bundle.mediaType}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw new AttestationError('unsupported-bundle', 'bundle does not hold a DSSE envelope');
  }
  if (bundle.verificationMaterial.content.$case !== 'publicKey') {
    throw new AttestationError('unsupported-bundle', 'bundle is certificate-based; only public-key bundles are verified');
  }
  const hint = bundle.verificationMaterial.content.publicKey.hint;

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle);
  } catch (cause) {
    throw new AttestationError('malformed-bundle', 'bundle content cannot be read', { cause });
  }

  const trustMaterial: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (h: string) => {
      const key = trusted.get(h);
      if (key === undefined) {
        throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: `key not trusted: ${h || '(no key hint)'}` });
      }
      return { publicKey: key, validFor: () => true };
    },
  };
  try {
    new Verifier(trustMaterial, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity);
  } catch (cause) {
    if (cause instanceof VerificationError && cause.code === 'PUBLIC_KEY_ERROR') {
      throw new AttestationError('unknown-key', `bundle is signed by key ${hint || '(no key hint)'}, which is not among the trusted keys`, { cause });
    }
    if (cause instanceof VerificationError && cause.code === 'SIGNATURE_ERROR') {
      throw new AttestationError('signature-invalid', `signature does not verify with key ${hint}`, { cause });
    }
    throw new AttestationError('verification-failed', `verification failed: ${String((cause as Error)?.message ?? cause)}`, { cause });
  }

  // Only now, with the envelope authenticated, look at what it says.
  const envelope = bundle.content.dsseEnvelope;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new AttestationError('payload-type', `payloadType is ${JSON.stringify(envelope.payloadType)}, expected ${IN_TOTO_PAYLOAD_TYPE}`);
  }
  const statement = parseStatement(envelope.payload);

  const subjects = statement.subject;
  const matches = subjects.some((s) => typeof s?.digest?.sha256 === 'string' && s.digest.sha256.toLowerCase() === expectedHex);
  if (!matches) {
    const got = subjects.map((s) => (typeof s?.digest?.sha256 === 'string' ? `sha256:${s.digest.sha256}` : '(no sha256)')).join(', ');
    throw new AttestationError('subject-mismatch', `statement is about ${got || 'no subject'}, not sha256:${expectedHex}`);
  }

  const accepted = options.predicateTypes ?? KNOWN_PREDICATE_TYPES;
  if (!accepted.includes(statement.predicateType)) {
    throw new AttestationError('unsupported-predicate', `predicateType ${JSON.stringify(statement.predicateType)} is not one of ${accepted.join(', ')}`);
  }
  return { statement, keyId: hint, predicateType: statement.predicateType };
}

function trustedKeys(keys: ReadonlyArray<KeyObject | string>): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const k of keys) {
    const pub = typeof k === 'string' ? toPublicKey(k) : k.type === 'public' ? k : createPublicKey(k);
    assertP256(pub);
    out.set(keyId(pub), pub);
  }
  return out;
}

function parseBundle(input: unknown): Bundle {
  let obj: unknown = input;
  if (typeof input === 'string' || input instanceof Uint8Array) {
    const text = typeof input === 'string' ? input : Buffer.from(input).toString('utf8');
    try {
      obj = JSON.parse(text);
    } catch (cause) {
      throw new AttestationError('malformed-bundle', 'bundle is not valid JSON', { cause });
    }
  }
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    throw new AttestationError('malformed-bundle', 'bundle is not a JSON object');
  }
  try {
    const bundle = bundleFromJSON(obj);
    assertBundleLatest(bundle);
    return bundle;
  } catch (cause) {
    throw new AttestationError('malformed-bundle', `not a valid Sigstore bundle: ${describe(cause)}`, { cause });
  }
}

function parseStatement(payload: Buffer): Statement {
  let value: unknown;
  try {
    value = JSON.parse(payload.toString('utf8'));
  } catch (cause) {
    throw new AttestationError('malformed-statement', 'payload is not JSON', { cause });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AttestationError('malformed-statement', 'payload is not a JSON object');
  }
  const s = value as Partial<Statement>;
  if (s._type !== STATEMENT_TYPE_V1) {
    throw new AttestationError('statement-type', `_type is ${JSON.stringify(s._type)}, expected ${STATEMENT_TYPE_V1}`);
  }
  if (!Array.isArray(s.subject) || typeof s.predicateType !== 'string') {
    throw new AttestationError('malformed-statement', 'statement lacks subject or predicateType');
  }
  return s as Statement;
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const fields = (err as Error & { fields?: unknown }).fields;
    return Array.isArray(fields) && fields.length > 0 ? `${err.message} (${fields.join(', ')})` : err.message;
  }
  return String(err);
}
