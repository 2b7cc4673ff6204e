// Verifying an image's attestations with the caller's trust (keys, certificate identities):
// the library that `verify`, `show`/`diff` of an image, and the guard call.
//
//   1. the image -> its manifest digest in the registry (a tag is resolved once, and
//      everything below is checked against that digest);
//   2. every referrer of that digest (referrers API, else the tag schema). The index is not
//      authenticated: its artifactType, annotations and sizes decide nothing. Each referrer
//      manifest is fetched by digest (the bytes must hash to it and have the size the index
//      claims), and it is a Sigstore bundle referrer when that manifest says so (its one
//      layer of the bundle media type); anything else (an SBOM, a signature) is listed as
//      not checked;
//   3. for each bundle: the referrer manifest's `subject` must be this digest; its bundle
//      layer is fetched (digest and size as the manifest says); the predicate type the
//      bundle's statement declares selects it: a type the caller did not ask for (`types`,
//      default tracebuild's runtime trace and provenance) is listed as not checked;
//   4. a selected bundle is verified by attest's verifyBundle with the caller's trust: key or
//      certificate, DSSE signature, logs and timestamps, in-toto Statement, a subject with
//      this digest. A bundle signed by someone the trust does not name (an unknown key, a
//      certificate for another identity or from an untrusted CA: a GitHub or cosign
//      attestation of someone else) is not checked; anything else that does not verify
//      (altered, copied from another image, about another digest, expired certificate,
//      a bad log entry) fails.
//
// The report is ok when nothing failed, every required predicate type has a verified
// attestation (default: the runtime trace; `requireTypes`; with `requireAll` every selected
// type), the newest runtime trace is complete (unless the caller accepts an incomplete one),
// and, with `requireAll`, no bundle on the image went unchecked. The report names the
// selected types that have no verified attestation (`missing`).

import type { Statement, VerifiedAttestation, VerifiedSigner, VerifiedTime } from '../attest/index.js';
import { KNOWN_PREDICATE_TYPES, RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE } from '../model/index.js';
import { isRegistryError, parseReference, type Descriptor, type Reference, type RegistryClient } from '../oci/index.js';
import { bundleKeyHint, envelopeStatement } from './bundle.js';
import { VerificationFailedError, type VerifyFailureKind } from './errors.js';
import { keysOnly, loadTrust, type TrustedKey, type TrustOptions, type VerifierTrust } from './keys.js';
import { ANNOTATION_PREDICATE_TYPE, BUNDLE_MEDIA_TYPE, bundleLayerOf } from './referrer-layout.js';
import { parseImageArgument, registryClient } from './registry.js';

export type CheckStatus = 'verified' | 'failed' | 'not-checked';

/** Why a referrer was not checked. */
export type NotCheckedReason =
  /** Not a Sigstore bundle (an SBOM, a signature, anything else). */
  | 'not-a-bundle'
  /** A bundle whose statement declares a predicate type that was not selected. */
  | 'other-type'
  /** A bundle signed by a key or identity the trust does not name. */
  | 'other-signer';

export interface AttestationCheck {
  /** Digest of the referrer manifest. */
  referrer: string;
  status: CheckStatus;
  /** From the signed statement when verified, else what the bundle's statement declares, else the annotation. */
  predicateType?: string;
  annotationPredicateType?: string;
  /** The referrer manifest's artifactType (or config media type), for referrers that are not bundles. */
  artifactType?: string;
  /** Key id of the signing key (verified), or the bundle's claim when verification failed. */
  keyId?: string;
  /** Who signed, when verified. */
  signer?: VerifiedSigner;
  /** The times the signature was checked at, when verified. */
  times?: VerifiedTime[];
  tlog?: { entries: number; checked: boolean };
  timestamps?: { count: number; checked: boolean };
  notChecked?: { reason: NotCheckedReason; message: string; code?: string };
  failure?: { kind: VerifyFailureKind; code?: string; message: string };
  /** Verified statements only. */
  statement?: Statement;
}

export interface VerifyReport {
  reference: string;
  digest: string;
  /** Trusted key ids (compatibility) and a line per root of trust. */
  trustedKeys: string[];
  trust: string[];
  /** The predicate types selected for verification. */
  types: string[];
  /** The predicate types that must each have a verified attestation. */
  required: string[];
  /** Selected predicate types with no verified attestation on the image. */
  missing: string[];
  checks: AttestationCheck[];
  ok: boolean;
  /** Image-level failure, when there is one. */
  failure?: { kind: VerifyFailureKind; message: string };
}

export interface VerifyOptions {
  /** Accept a runtime trace whose probe stopped watching part of the build (monitorGaps). */
  allowIncompleteTrace?: boolean;
  /** Predicate types to verify (`--type`); default tracebuild's runtime trace and provenance. */
  types?: readonly string[];
  /** Predicate types that must each have a verified attestation (`--require-type`); default: the runtime trace, or `types` when given. */
  requireTypes?: readonly string[];
  /** Every bundle on the image must be verified (none unchecked), and every selected type present. */
  requireAll?: boolean;
  /** The verification time (certificates are checked at it when nothing timestamped the signature); default now. */
  now?: Date;
}

/** The predicate type as a short label for messages. */
export function predicateLabel(t: string | undefined): string {
  if (t === RUNTIME_TRACE_PREDICATE_TYPE) return 'runtime-trace';
  if (t === SLSA_PROVENANCE_PREDICATE_TYPE) return 'provenance';
  return t ?? 'unknown predicate';
}

/** `--type` values: URIs, or the short names tracebuild and cosign use for the two it writes. */
export function predicateTypeOf(name: string): string {
  switch (name.trim()) {
    case 'runtime-trace':
    case 'runtimetrace':
      return RUNTIME_TRACE_PREDICATE_TYPE;
    case 'provenance':
    case 'slsaprovenance1':
    case 'slsaprovenance':
      return SLSA_PROVENANCE_PREDICATE_TYPE;
    default:
      return name.trim();
  }
}

interface Context {
  client: RegistryClient;
  attest: typeof import('../attest/index.js');
  /** The image repository at the verified digest. */
  repo: Reference;
  digest: string;
  display: string;
  trust: VerifierTrust;
  types: readonly string[];
  now: Date;
}

/** Why a verifyBundle failure happened, in the user's terms. */
async function explain(ctx: Context, err: unknown, bytes: Uint8Array): Promise<{ kind: VerifyFailureKind; code?: string; message: string }> {
  const { attest } = ctx;
  if (!attest.isAttestationError(err)) {
    return { kind: 'verification-failed', message: err instanceof Error ? err.message : String(err) };
  }
  const code = err.code;
  const hint = bundleKeyHint(bytes) ?? '(no key hint)';
  const trusted = ctx.trust.summary.join('; ') || 'nothing';
  switch (code) {
    case 'malformed-bundle':
      return { kind: 'malformed-bundle', code, message: `the bundle is not a valid Sigstore bundle (truncated or corrupted): ${err.message}` };
    case 'unsupported-bundle':
      return { kind: 'unsupported-bundle', code, message: `the bundle is of a kind tracebuild does not verify: ${err.message}` };
    case 'unknown-key':
      return { kind: 'unknown-key', code, message: `it is signed by key ${hint}, which is not a trusted key (trusted: ${trusted}): wrong --key, or signed by someone else` };
    case 'untrusted-certificate':
    case 'untrusted-identity':
      return { kind: 'unknown-key', code, message: `${err.message} (trusted: ${trusted})` };
    case 'signature-invalid':
      return { kind: 'signature-invalid', code, message: `its signature does not verify with key ${hint}: the attestation was altered after it was signed` };
    case 'certificate-expired':
      return { kind: 'certificate-expired', code, message: err.message };
    case 'tlog-failed':
    case 'sct-failed':
      return { kind: 'tlog-failed', code, message: err.message };
    case 'timestamp-failed':
      return { kind: 'timestamp-failed', code, message: err.message };
    case 'payload-type':
    case 'malformed-statement':
    case 'statement-type':
      return { kind: 'not-a-statement', code, message: `the signed payload is not an in-toto Statement: ${err.message}` };
    case 'subject-mismatch': {
      // The signature is valid (verifyBundle checks subjects after it): the statement is
      // authentic but about another digest. Copied from an image that exists, or not?
      const statement = envelopeStatement(bytes);
      const subjects = (statement?.subject ?? []).filter((s) => typeof s?.digest?.sha256 === 'string');
      for (const s of subjects) {
        const other = `sha256:${s.digest.sha256}`;
        const names = [...new Set([s.name, ctx.repo.name].filter((n): n is string => typeof n === 'string' && n !== ''))];
        for (const name of names) {
          try {
            await ctx.client.resolveManifest(parseReference(name).withDigest(other));
            return {
              kind: 'copied-from-another-image',
              code,
              message: `it was made for another image (${name}@${other}) and copied onto this one (${ctx.digest})`,
            };
          } catch {
            // not there (or not reachable): try the next name
          }
        }
      }
      const about = subjects.map((s) => `${s.name ?? '?'}@sha256:${s.digest.sha256}`).join(', ') || 'no subject';
      return { kind: 'subject-mismatch', code, message: `its statement is about ${about}, not this image's digest ${ctx.digest}` };
    }
    default:
      return { kind: 'verification-failed', code, message: err.message };
  }
}

/** The artifact type a manifest declares (artifactType, else its config's media type). */
function manifestArtifactType(manifest: Record<string, unknown>): string | undefined {
  if (typeof manifest.artifactType === 'string' && manifest.artifactType !== '') return manifest.artifactType;
  const config = manifest.config as { mediaType?: unknown } | undefined;
  return typeof config?.mediaType === 'string' ? config.mediaType : undefined;
}

const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';

async function checkOne(ctx: Context, d: Descriptor): Promise<AttestationCheck> {
  const check: AttestationCheck = { referrer: d.digest, status: 'failed' };
  const fail = (kind: VerifyFailureKind, message: string, code?: string): AttestationCheck => {
    check.status = 'failed';
    check.failure = { kind, message, ...(code === undefined ? {} : { code }) };
    return check;
  };
  const notChecked = (reason: NotCheckedReason, message: string, code?: string): AttestationCheck => {
    check.status = 'not-checked';
    check.notChecked = { reason, message, ...(code === undefined ? {} : { code }) };
    return check;
  };

  let manifest: Record<string, unknown>;
  let bytes: Uint8Array;
  try {
    // By digest: the client checks that the bytes hash to it.
    const fetched = await ctx.client.getManifest(ctx.repo.withDigest(d.digest));
    if (fetched.bytes.byteLength !== d.size) {
      return fail('descriptor-mismatch', `the referrers index says its manifest is ${d.size} bytes, but it is ${fetched.bytes.byteLength}: the index was altered`);
    }
    manifest = fetched.manifest;
    const artifactType = manifestArtifactType(manifest);
    if (artifactType !== undefined) check.artifactType = artifactType;
    const annotations = manifest.annotations as Record<string, unknown> | undefined;
    const fromManifest = annotations?.[ANNOTATION_PREDICATE_TYPE];
    if (typeof fromManifest === 'string') check.annotationPredicateType = fromManifest;
    const layer = bundleLayerOf(manifest);
    if (layer === undefined) {
      if ((artifactType ?? '').startsWith(SIGSTORE_BUNDLE_PREFIX)) return fail('not-a-bundle-referrer', 'the referrer says it is a Sigstore bundle but has no single bundle layer');
      return notChecked('not-a-bundle', `not a Sigstore bundle (${artifactType ?? d.mediaType})`);
    }
    const subject = (manifest.subject as { digest?: unknown } | undefined)?.digest;
    if (subject !== ctx.digest) {
      return fail('referrer-subject-mismatch', `its referrer manifest's subject is ${typeof subject === 'string' ? subject : '(missing)'}, not this image (${ctx.digest}): it was listed for the wrong image`);
    }
    bytes = await ctx.client.fetchBlob(ctx.repo, layer.digest);
    if (bytes.byteLength !== layer.size) {
      return fail('descriptor-mismatch', `its referrer manifest says the bundle is ${layer.size} bytes, but it is ${bytes.byteLength}`);
    }
  } catch (err) {
    if (isRegistryError(err)) return fail('fetch-failed', `cannot fetch it: ${err.message}`, err.code);
    throw err;
  }

  // What the bundle's statement declares (not yet authenticated) selects it.
  const declared = envelopeStatement(bytes)?.predicateType;
  if (typeof declared === 'string') check.predicateType = declared;
  else if (check.annotationPredicateType !== undefined) check.predicateType = check.annotationPredicateType;
  const hint = bundleKeyHint(bytes);
  if (hint !== undefined) check.keyId = hint;
  if (typeof declared === 'string' && !ctx.types.includes(declared)) {
    return notChecked('other-type', `predicate type ${declared} was not selected (--type)`);
  }

  let verified: VerifiedAttestation;
  try {
    verified = ctx.attest.verifyBundle(bytes, {
      publicKeys: ctx.trust.keys.map((k) => k.key),
      trust: ctx.trust.bundle,
      expectedSubjectDigest: ctx.digest,
      predicateTypes: ctx.types,
      now: ctx.now,
    });
  } catch (err) {
    const why = await explain(ctx, err, bytes);
    if (ctx.attest.isAttestationError(err) && ['unknown-key', 'untrusted-certificate', 'untrusted-identity'].includes(err.code)) {
      // Signed by someone the caller does not trust: somebody else's attestation.
      return notChecked('other-signer', why.message, err.code);
    }
    return fail(why.kind, why.message, why.code);
  }
  check.keyId = verified.keyId;
  check.signer = verified.signer;
  check.times = verified.times;
  check.tlog = verified.tlog;
  check.timestamps = verified.timestamps;
  check.predicateType = verified.predicateType;
  if (check.annotationPredicateType !== undefined && check.annotationPredicateType !== verified.predicateType) {
    return fail(
      'annotation-mismatch',
      `its manifest annotation says predicate type ${check.annotationPredicateType}, but the signed statement is ${verified.predicateType}`,
    );
  }
  check.status = 'verified';
  check.statement = verified.statement;
  return check;
}

/** Verifies the image's attestations with the keys in these files (the simple form). */
export async function verifyImage(
  client: RegistryClient,
  ref: Reference,
  keyFilesOrTrust: readonly string[] | TrustOptions,
  cwd: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const trustOptions: TrustOptions = isKeyFileList(keyFilesOrTrust) ? { keyFiles: keyFilesOrTrust } : keyFilesOrTrust;
  return verifyImageWithKeys(client, ref, await loadTrust(trustOptions, cwd), options);
}

function isKeyFileList(v: readonly string[] | TrustOptions): v is readonly string[] {
  return Array.isArray(v);
}

/** The newest verified runtime trace's gaps in monitoring, as one line; undefined when none. */
function incompleteness(report: VerifyReport): string | undefined {
  const newest = newestTraces(report)[0];
  const gaps = (newest?.statement?.predicate as { monitorGaps?: unknown } | undefined)?.monitorGaps;
  if (!Array.isArray(gaps) || gaps.length === 0) return undefined;
  const first = gaps[0] as { startedOn?: unknown; reason?: unknown };
  return `the runtime trace of ${report.reference} (${report.digest}) is incomplete: the probe stopped watching the build at ${String(first.startedOn)} (${String(first.reason)}); pass --allow-incomplete-trace to accept it`;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** The image-level failure, given the checks. */
function imageFailure(report: VerifyReport, options: VerifyOptions): VerifyReport['failure'] {
  const { checks, reference: display, digest } = report;
  const verified = checks.filter((c) => c.status === 'verified');
  const bundles = checks.filter((c) => c.notChecked?.reason !== 'not-a-bundle');
  const otherSigners = checks.filter((c) => c.notChecked?.reason === 'other-signer');
  if (checks.some((c) => c.status === 'failed')) return undefined; // reported per check
  if (bundles.length === 0) {
    return { kind: 'no-attestations', message: `no signed attestations are attached to ${display} (${digest}): no Sigstore bundle among its ${checks.length} referrer(s)` };
  }
  if (options.requireAll === true) {
    const unchecked = bundles.filter((c) => c.status === 'not-checked');
    if (unchecked.length > 0) {
      const first = unchecked[0];
      return {
        kind: 'not-checked',
        message: `--require-all: ${unchecked.length} attestation(s) on ${display} (${digest}) were not verified, e.g. ${first?.referrer ?? '?'} (${predicateLabel(first?.predicateType)}): ${first?.notChecked?.message ?? ''}`,
      };
    }
  }
  const missingRequired = report.required.filter((t) => !verified.some((c) => c.predicateType === t));
  if (missingRequired.length > 0) {
    const found = unique(verified.map((c) => predicateLabel(c.predicateType))).join(', ');
    const others = otherSigners.length > 0 ? `; ${otherSigners.length} attestation(s) by other signers were not checked: ${otherSigners[0]?.notChecked?.message ?? ''}` : '';
    if (verified.length === 0 && otherSigners.length > 0) {
      return {
        kind: 'no-trusted-attestation',
        message: `no attestation of ${display} (${digest}) is signed by a trusted signer${others}`,
      };
    }
    if (missingRequired.includes(RUNTIME_TRACE_PREDICATE_TYPE)) {
      return {
        kind: 'no-runtime-trace',
        message: `no runtime-trace attestation for ${display} (${digest}): found only ${found || 'attestations of other types'}; was it built with --no-trace?${others}`,
      };
    }
    return {
      kind: 'missing-type',
      message: `${display} (${digest}) has no verified attestation of type ${missingRequired.map(predicateLabel).join(', ')}${found === '' ? '' : ` (verified: ${found})`}${others}`,
    };
  }
  if (options.allowIncompleteTrace !== true) {
    const incomplete = incompleteness(report);
    if (incomplete !== undefined) return { kind: 'incomplete-trace', message: incomplete };
  }
  return undefined;
}

/** verifyImage with the trust already loaded (the guard loads it once); keys alone are accepted too. */
export async function verifyImageWithKeys(
  client: RegistryClient,
  ref: Reference,
  trustIn: readonly TrustedKey[] | VerifierTrust,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const attest = await import('../attest/index.js');
  const trust: VerifierTrust = Array.isArray(trustIn) ? keysOnly(trustIn as readonly TrustedKey[], attest) : (trustIn as VerifierTrust);
  const subject = await client.resolveManifest(ref);
  const display = ref.toString();
  const types = unique(options.types === undefined || options.types.length === 0 ? KNOWN_PREDICATE_TYPES : options.types.map(predicateTypeOf));
  const required = unique([
    ...(options.requireTypes ?? []).map(predicateTypeOf),
    ...(options.requireTypes === undefined || options.requireTypes.length === 0 ? (options.types === undefined || options.types.length === 0 ? [RUNTIME_TRACE_PREDICATE_TYPE] : types) : []),
    ...(options.requireAll === true ? types : []),
  ]);
  const ctx: Context = {
    client,
    attest,
    repo: ref.withDigest(subject.digest),
    digest: subject.digest,
    display,
    trust,
    types,
    now: options.now ?? new Date(),
  };
  // Every referrer: what the index says about a referrer's type decides nothing.
  const listed = await client.listReferrers(ctx.repo);
  const checks: AttestationCheck[] = [];
  for (const d of listed) checks.push(await checkOne(ctx, d));

  const verified = checks.filter((c) => c.status === 'verified');
  const report: VerifyReport = {
    reference: display,
    digest: subject.digest,
    trustedKeys: trust.keys.map((k) => k.id),
    trust: trust.summary,
    types,
    required,
    missing: types.filter((t) => !verified.some((c) => c.predicateType === t)),
    checks,
    ok: false,
  };
  const failure = imageFailure(report, options);
  if (failure !== undefined) report.failure = failure;
  report.ok = !checks.some((c) => c.status === 'failed') && report.failure === undefined;
  return report;
}

function finishedOn(c: AttestationCheck): string {
  const m = (c.statement?.predicate as { metadata?: { buildFinishedOn?: unknown } } | undefined)?.metadata;
  return typeof m?.buildFinishedOn === 'string' ? m.buildFinishedOn : '';
}

/** Verified runtime-trace checks, the newest build first. */
export function newestTraces(report: VerifyReport): AttestationCheck[] {
  return report.checks
    .filter((c) => c.status === 'verified' && c.predicateType === RUNTIME_TRACE_PREDICATE_TYPE)
    .sort((a, b) => (finishedOn(a) < finishedOn(b) ? 1 : finishedOn(a) > finishedOn(b) ? -1 : 0));
}

function shortDigest(d: string): string {
  return `${d.slice(0, 'sha256:'.length + 12)}…`;
}

function failureLine(report: VerifyReport, c: AttestationCheck): string {
  return `${report.reference}: attestation ${shortDigest(c.referrer)} (${predicateLabel(c.predicateType)}): ${c.failure?.message ?? 'failed'}`;
}

/** The exit error for a report that is not ok: the first failure, naming the image. */
export function verificationError(report: VerifyReport): VerificationFailedError {
  const failed = report.checks.filter((c) => c.status === 'failed');
  const kinds = [...new Set([...failed.map((c) => c.failure?.kind ?? 'verification-failed'), ...(report.failure ? [report.failure.kind] : [])])];
  const first = failed[0];
  let message: string;
  if (first !== undefined) {
    message = failureLine(report, first);
    if (failed.length > 1) message += ` (and ${failed.length - 1} more failed attestation(s), listed above)`;
  } else {
    message = report.failure?.message ?? `${report.reference}: verification failed`;
  }
  return new VerificationFailedError(report.reference, kinds, message);
}

/** Who signed a verified check, in a few words (as attest's describeSigner says it). */
export function signerLabel(c: AttestationCheck): string {
  const s = c.signer;
  if (s === undefined) return c.keyId === undefined ? '?' : `key ${c.keyId}`;
  if (s.kind === 'key') return `key ${s.keyId}`;
  const who = s.subjectAlternativeNames.join(', ') || '(no SAN)';
  return `certificate for ${who}${s.issuer === undefined ? '' : ` (issuer ${s.issuer})`}, ${s.authority === 'sigstore' ? 'Fulcio' : 'CA'}-issued`;
}

/**
 * For commands that read a trace from an image (show, diff): everything `verify` checks,
 * then the newest verified runtime-trace statement. Throws VerificationFailedError when the
 * image does not verify. (Shape of cli/trace-input.ts's ImageTraceFetcher.)
 */
export async function fetchVerifiedImageTrace(
  reference: string,
  options: { keyPaths: readonly string[]; trust?: TrustOptions; env: NodeJS.ProcessEnv; cwd: string; signal?: AbortSignal },
  client: RegistryClient = registryClient(options.env),
): Promise<{ statement: Statement; image: string; keyId: string; signer?: string }> {
  const ref = parseImageArgument(reference, 'trace');
  const report = await verifyImage(client, ref, options.trust ?? { keyFiles: options.keyPaths }, options.cwd);
  if (!report.ok) throw verificationError(report);
  const newest = newestTraces(report)[0];
  if (newest?.statement === undefined) throw verificationError({ ...report, ok: false });
  return { statement: newest.statement, image: `${ref.name}@${report.digest}`, keyId: newest.keyId ?? '', signer: signerLabel(newest) };
}

export { BUNDLE_MEDIA_TYPE };
