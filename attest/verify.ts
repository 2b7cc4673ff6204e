// Verification (pure: no file, network or clock access; trust material and the time are
// arguments). Must not import sign.ts.
//
// Steps, each with its own error code:
//   1. parse the bundle JSON and validate it as a Sigstore bundle  -> malformed-bundle
//   2. require v0.3 and DSSE content                                -> unsupported-bundle
//   3. @sigstore/verify, by the kind of verification material:
//      public key:  each trusted key is tried (the key hint, ours hex or cosign's base64 of
//                   the same sha256, only orders them); none verifies -> signature-invalid
//                   when the hint names a trusted key, else unknown-key
//      certificate: the chain must lead to a trusted CA (a Sigstore trusted root's Fulcio
//                   CAs, or --ca-roots) at the signing time    -> untrusted-certificate,
//                   certificate-expired; Fulcio certificates need an SCT (ct log) and a
//                   transparency-log entry unless told otherwise -> sct-failed, tlog-failed;
//                   the identity must match the policy          -> untrusted-identity
//      transparency-log entries are checked against the trusted logs (inclusion proof or
//      promise, and that the entry is this signature)           -> tlog-failed
//      RFC 3161 timestamps are checked against the trusted TSAs -> timestamp-failed
//   4. payloadType application/vnd.in-toto+json                         -> payload-type
//   5. payload is a JSON object / `_type` is an in-toto Statement (v1, or v0.1 as cosign
//      writes it)                                       -> malformed-statement / statement-type
//   6. some subject has digest.sha256 = expected image digest          -> subject-mismatch
//   7. predicateType is accepted                                        -> unsupported-predicate
//
// The signing time: a certificate must be valid when the signature was made. That time is
// what a verified RFC 3161 timestamp or transparency-log entry says; without either, it is
// `now` (as cosign does), so a bundle signed with a certificate that has since expired
// verifies only with a timestamp. Timestamps and log entries that nothing trusted can check
// (no TSA, no log in the trust) are not used, and the result says so.

import { createPublicKey, type KeyObject } from 'node:crypto';
import {
  BUNDLE_V03_MEDIA_TYPE,
  assertBundleLatest,
  bundleFromJSON,
  type Bundle,
  type TransparencyLogEntry,
} from '@sigstore/bundle';
import { X509Certificate } from '@sigstore/core';
import {
  Verifier,
  VerificationError,
  toSignedEntity,
  type SignedEntity,
  type TrustMaterial,
} from '@sigstore/verify';
import { AttestationError, type AttestationErrorCode } from './errors.js';
import { assertP256, keyId, keyIdOfHint, toPublicKey } from './keyid.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  KNOWN_PREDICATE_TYPES,
  STATEMENT_TYPES,
  sha256Hex,
  type Statement,
} from './statement.js';
import { emptyBundleTrust, hasIdentity, identityMismatch, oidcIssuer, subjectAlternativeNames, type BundleTrust } from './trust.js';

export interface VerifyBundleOptions {
  /** Trusted public keys (KeyObjects or SPKI PEM strings), ECDSA P-256. */
  publicKeys?: ReadonlyArray<KeyObject | string>;
  /** Certificate, log and timestamp trust (attest/trust.ts). */
  trust?: BundleTrust;
  /** The image manifest digest the statement must be about: "sha256:<hex>". */
  expectedSubjectDigest: string;
  /** Accepted predicate types; defaults to KNOWN_PREDICATE_TYPES; `'any'` accepts every type. */
  predicateTypes?: readonly string[] | 'any';
  /** The time a certificate must be valid at when nothing trusted timestamped the signature. */
  now?: Date;
}

export type VerifiedSigner =
  | { kind: 'key'; keyId: string }
  | {
      kind: 'certificate';
      /** Which trust the chain led to: a Sigstore trusted root's Fulcio CA, or --ca-roots. */
      authority: 'sigstore' | 'ca';
      subjectAlternativeNames: string[];
      issuer?: string;
      notBefore: string;
      notAfter: string;
    };

export interface VerifiedTime {
  source: 'timestamp-authority' | 'transparency-log' | 'verification-time';
  time: string;
}

export interface VerifiedAttestation {
  statement: Statement;
  /** keyId of the trusted key that signed it; for a certificate, its identity (first SAN). */
  keyId: string;
  predicateType: string;
  signer: VerifiedSigner;
  /** The times the signing key was checked at: verified timestamps, else the verification time. */
  times: VerifiedTime[];
  /** Transparency-log entries: how many the bundle has, and whether they were checked. */
  tlog: { entries: number; checked: boolean };
  /** RFC 3161 timestamps: how many the bundle has, and whether they were checked. */
  timestamps: { count: number; checked: boolean };
}

/** A one-line description of who signed, for reports. */
export function describeSigner(signer: VerifiedSigner): string {
  if (signer.kind === 'key') return `key ${signer.keyId}`;
  const who = signer.subjectAlternativeNames.join(', ') || '(no SAN)';
  return `certificate for ${who}${signer.issuer === undefined ? '' : ` (issuer ${signer.issuer})`}, ${signer.authority === 'sigstore' ? 'Fulcio' : 'CA'}-issued`;
}

/** Verifies a bundle (JSON text, bytes, or parsed object) and returns its statement. */
export function verifyBundle(bundleJson: string | Uint8Array | unknown, options: VerifyBundleOptions): VerifiedAttestation {
  const expectedHex = sha256Hex(options.expectedSubjectDigest, 'expected subject digest');
  const keys = trustedKeys(options.publicKeys ?? []);
  const trust = options.trust ?? emptyBundleTrust();
  const now = options.now ?? new Date();

  const bundle = parseBundle(bundleJson);
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new AttestationError('unsupported-bundle', `expected a ${BUNDLE_V03_MEDIA_TYPE} bundle, got ${bundle.mediaType}`);
  }
  if (bundle.content.$case !== 'dsseEnvelope') {
    throw new AttestationError('unsupported-bundle', 'bundle does not hold a DSSE envelope');
  }

  let entity: SignedEntity;
  try {
    entity = toSignedEntity(bundle);
  } catch (cause) {
    throw new AttestationError('malformed-bundle', `bundle content cannot be read: ${describe(cause)}`, { cause });
  }
  const prepared = prepareEntity(entity, trust, now);

  const material = bundle.verificationMaterial.content;
  let signer: VerifiedSigner;
  let checked: CheckedEntity;
  if (material.$case === 'publicKey') {
    ({ signer, checked } = verifyWithKeys(prepared, material.publicKey.hint, keys, trust));
  } else {
    ({ signer, checked } = verifyWithCertificate(prepared, trust));
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
  if (accepted !== 'any' && !accepted.includes(statement.predicateType)) {
    throw new AttestationError('unsupported-predicate', `predicateType ${JSON.stringify(statement.predicateType)} is not one of ${accepted.join(', ')}`);
  }
  return {
    statement,
    keyId: signer.kind === 'key' ? signer.keyId : (signer.subjectAlternativeNames[0] ?? ''),
    predicateType: statement.predicateType,
    signer,
    times: checked.times,
    tlog: { entries: prepared.tlogEntries, checked: prepared.tlogChecked },
    timestamps: { count: prepared.tsaTimestamps, checked: prepared.tsaChecked },
  };
}

// ---- the signed entity --------------------------------------------------------------------

interface PreparedEntity {
  entity: SignedEntity;
  tlogEntries: number;
  tlogChecked: boolean;
  tsaTimestamps: number;
  tsaChecked: boolean;
  /** The verification time was added: nothing trusted timestamped the signature. */
  usesNow: boolean;
  now: Date;
}

interface CheckedEntity {
  times: VerifiedTime[];
}

/**
 * Drops what the trust cannot check (log entries without a trusted log, or with
 * --insecure-ignore-tlog; RFC 3161 timestamps without a trusted TSA), and adds the
 * verification time when no timestamp is left: @sigstore/verify checks the signing key at
 * each timestamp it is given, and needs at least one.
 */
function prepareEntity(entity: SignedEntity, trust: BundleTrust, now: Date): PreparedEntity {
  const tlogEntries = entity.tlogEntries.length;
  const tsaTimestamps = entity.timestamps.filter((t) => t.$case === 'timestamp-authority').length;
  const tlogChecked = tlogEntries > 0 && trust.tlogs.length > 0 && trust.ignoreTlog !== true;
  const tsaChecked = tsaTimestamps > 0 && trust.timestampAuthorities.length > 0;
  const timestamps = entity.timestamps.filter((t) => (t.$case === 'transparency-log' ? tlogChecked : tsaChecked));
  const usesNow = timestamps.length === 0;
  if (usesNow) {
    // A timestamp source that @sigstore/verify takes as it is (an entry with an inclusion
    // promise, in `timestamps` only, never in `tlogEntries`): the verification time.
    const nowEntry = {
      logIndex: '0',
      logId: { keyId: Buffer.from('verification-time') },
      kindVersion: { kind: 'verification-time', version: '0' },
      integratedTime: String(Math.floor(now.getTime() / 1000)),
      inclusionPromise: { signedEntryTimestamp: Buffer.alloc(0) },
      canonicalizedBody: Buffer.alloc(0),
    } as unknown as TransparencyLogEntry;
    timestamps.push({ $case: 'transparency-log', tlogEntry: nowEntry });
  }
  return {
    entity: { ...entity, tlogEntries: tlogChecked ? entity.tlogEntries : [], timestamps },
    tlogEntries,
    tlogChecked,
    tsaTimestamps,
    tsaChecked,
    usesNow,
    now,
  };
}

function timesOf(prepared: PreparedEntity): VerifiedTime[] {
  const out: VerifiedTime[] = [];
  for (const t of prepared.entity.timestamps) {
    if (t.$case === 'timestamp-authority') out.push({ source: 'timestamp-authority', time: t.timestamp.signingTime.toISOString() });
    else if (prepared.usesNow) out.push({ source: 'verification-time', time: prepared.now.toISOString() });
    else out.push({ source: 'transparency-log', time: new Date(Number(t.tlogEntry.integratedTime) * 1000).toISOString() });
  }
  return out;
}

function material(trust: BundleTrust, cas: TrustMaterial['certificateAuthorities'], key?: KeyObject): TrustMaterial {
  return {
    certificateAuthorities: cas,
    timestampAuthorities: trust.timestampAuthorities,
    tlogs: trust.tlogs,
    ctlogs: trust.ctlogs,
    publicKey: (h: string) => {
      if (key === undefined) throw new VerificationError({ code: 'PUBLIC_KEY_ERROR', message: `key not trusted: ${h || '(no key hint)'}` });
      return { publicKey: key, validFor: () => true };
    },
  };
}

/** The AttestationError for a @sigstore/verify failure that is not about who signed. */
function mapped(cause: unknown, fallback: AttestationErrorCode = 'verification-failed'): AttestationError {
  if (cause instanceof AttestationError) return cause;
  const code = cause instanceof VerificationError ? cause.code : undefined;
  const message = describe(cause);
  switch (code) {
    case 'SIGNATURE_ERROR':
      return new AttestationError('signature-invalid', `signature does not verify: ${message}`, { cause });
    case 'TLOG_ERROR':
    case 'TLOG_BODY_ERROR':
    case 'TLOG_INCLUSION_PROOF_ERROR':
    case 'TLOG_INCLUSION_PROMISE_ERROR':
    case 'TLOG_MISSING_INCLUSION_ERROR':
      return new AttestationError('tlog-failed', `transparency log: ${message}`, { cause });
    case 'TIMESTAMP_ERROR':
      return new AttestationError('timestamp-failed', `timestamp: ${message}`, { cause });
    default:
      return new AttestationError(fallback, `verification failed: ${message}`, { cause });
  }
}

function verifyWithKeys(
  prepared: PreparedEntity,
  hint: string,
  keys: Map<string, KeyObject>,
  trust: BundleTrust,
): { signer: VerifiedSigner; checked: CheckedEntity } {
  const named = keyIdOfHint(hint, [...keys.keys()]);
  // The hint is not signed: it only orders the keys; every trusted key is tried.
  const order = [...keys.entries()].sort(([a], [b]) => Number(b === named) - Number(a === named));
  const found = order.find(([, key]) => prepared.entity.signature.verifySignature(key));
  if (found === undefined) {
    if (named !== undefined) throw new AttestationError('signature-invalid', `signature does not verify with key ${named}`);
    throw new AttestationError('unknown-key', `bundle is signed by key ${hint || '(no key hint)'}, which is not among the trusted keys`);
  }
  const [id, key] = found;
  try {
    // The signature again, and what else the bundle carries: log entries, timestamps.
    new Verifier(material(trust, [], key), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(prepared.entity);
  } catch (cause) {
    throw mapped(cause);
  }
  return { signer: { kind: 'key', keyId: id }, checked: { times: timesOf(prepared) } };
}

function certificateOf(prepared: PreparedEntity): X509Certificate {
  const key = prepared.entity.key;
  if (key.$case !== 'certificate') throw new AttestationError('unsupported-bundle', 'bundle has no certificate');
  return key.certificate;
}

function verifyWithCertificate(prepared: PreparedEntity, trust: BundleTrust): { signer: VerifiedSigner; checked: CheckedEntity } {
  const leaf = certificateOf(prepared);
  const sans = subjectAlternativeNames(leaf);
  const issuer = oidcIssuer(leaf);
  const who = sans.join(', ') || '(no subject alternative name)';
  if (trust.sigstoreAuthorities.length === 0 && trust.caAuthorities.length === 0) {
    throw new AttestationError('untrusted-certificate', `bundle is signed with a certificate for ${who}, and no certificate authority is trusted (give --certificate-identity with --trusted-root or --ca-roots)`);
  }
  if (!hasIdentity(trust.identity)) {
    throw new AttestationError('untrusted-identity', `bundle is signed with a certificate for ${who}, and no --certificate-identity says whom to trust`);
  }
  const passes: { authority: 'sigstore' | 'ca'; cas: TrustMaterial['certificateAuthorities']; tlog: number; ctlog: number }[] = [];
  if (trust.sigstoreAuthorities.length > 0) {
    passes.push({ authority: 'sigstore', cas: trust.sigstoreAuthorities, tlog: trust.ignoreTlog === true ? 0 : 1, ctlog: trust.ignoreSct === true ? 0 : 1 });
  }
  if (trust.caAuthorities.length > 0) passes.push({ authority: 'ca', cas: trust.caAuthorities, tlog: 0, ctlog: 0 });

  let expired: unknown;
  for (const pass of passes) {
    try {
      new Verifier(material(trust, pass.cas), { tlogThreshold: pass.tlog, ctlogThreshold: pass.ctlog, timestampThreshold: 0 }).verify(prepared.entity);
    } catch (cause) {
      const chain = chainProblem(cause);
      if (chain === 'untrusted') continue;
      if (chain === 'expired') {
        expired = cause;
        continue;
      }
      if (cause instanceof VerificationError && cause.code === 'TLOG_ERROR' && /expected \d+ tlog entries/.test(cause.message)) {
        throw new AttestationError(
          'tlog-failed',
          `the Fulcio certificate's signature has no transparency-log entry that the trusted root's logs verify (${describe(cause)}); --insecure-ignore-tlog accepts that`,
          { cause },
        );
      }
      if (cause instanceof VerificationError && cause.code === 'CERTIFICATE_ERROR' && /SCT/.test(cause.message)) {
        throw new AttestationError('sct-failed', `the Fulcio certificate has no valid signed certificate timestamp: ${describe(cause)}`, { cause });
      }
      throw mapped(cause);
    }
    const mismatch = identityMismatch(trust.identity ?? {}, sans, issuer);
    if (mismatch !== undefined) throw new AttestationError('untrusted-identity', `${mismatch}: signed by someone else`);
    if (pass.authority === 'sigstore' && trust.identity?.issuer === undefined && trust.identity?.issuerRegExp === undefined) {
      throw new AttestationError('untrusted-identity', `the Fulcio certificate for ${who} needs --certificate-oidc-issuer (or -regexp) to say which identity provider to trust`);
    }
    const signer: VerifiedSigner = {
      kind: 'certificate',
      authority: pass.authority,
      subjectAlternativeNames: sans,
      ...(issuer === undefined ? {} : { issuer }),
      notBefore: leaf.notBefore.toISOString(),
      notAfter: leaf.notAfter.toISOString(),
    };
    return { signer, checked: { times: timesOf(prepared) } };
  }
  if (expired !== undefined) {
    const at = timesOf(prepared)[0];
    const when = at === undefined ? '' : at.source === 'verification-time' ? ` now (${at.time}), and no trusted timestamp says when it signed` : ` at the signing time ${at.time} (${at.source})`;
    throw new AttestationError(
      'certificate-expired',
      `the certificate for ${who} (valid ${leaf.notBefore.toISOString()} to ${leaf.notAfter.toISOString()}) is not valid${when}`,
      { cause: expired },
    );
  }
  throw new AttestationError('untrusted-certificate', `the certificate for ${who} does not chain to a trusted certificate authority`);
}

/** A chain failure: no path to a trusted CA ('untrusted'), or a path outside its validity ('expired'). */
function chainProblem(err: unknown): 'untrusted' | 'expired' | undefined {
  if (!(err instanceof VerificationError) || err.code !== 'CERTIFICATE_ERROR') return undefined;
  const inner = (err as { cause?: unknown }).cause;
  const text = `${err.message} ${inner instanceof Error ? inner.message : ''}`;
  if (/not valid or expired/.test(text)) return 'expired';
  if (/certificate path|Failed to verify certificate chain|not a CA|name chaining|path length/.test(text)) return 'untrusted';
  return undefined;
}

// ---- parsing ------------------------------------------------------------------------------

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
  if (typeof s._type !== 'string' || !STATEMENT_TYPES.includes(s._type)) {
    throw new AttestationError('statement-type', `_type is ${JSON.stringify(s._type)}, expected one of ${STATEMENT_TYPES.join(', ')}`);
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
