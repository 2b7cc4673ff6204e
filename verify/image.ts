// Verifying an image's attestations, offline, with the caller's trusted keys: the library
// that `verify`, `show`/`diff` of an image, and the guard call.
//
//   1. the image -> its manifest digest in the registry (a tag is resolved once, and
//      everything below is checked against that digest);
//   2. the referrers of that digest whose artifactType is the Sigstore bundle v0.3 type
//      (referrers API, else the tag schema);
//   3. for each: the referrer manifest (its `subject` must be this digest), its one bundle
//      layer, and attest's offline verifyBundle with the given public keys as the only
//      trust: key known, DSSE signature valid, in-toto Statement v1, a subject with this
//      digest; the manifest's predicate-type annotation must say what the signed statement
//      says.
//
// The report is ok only when every bundle attached to the image verifies, at least one of
// them is a runtime trace, and the newest runtime trace is complete (unless the caller
// accepts an incomplete one). A bundle with a valid signature and subject but a predicate
// type that is not tracebuild's (another tool's, signed with a trusted key) is reported and
// not counted as a failure. Every failure is reported by kind (VerifyFailureKind).

import type { Statement, VerifiedAttestation } from '../attest/index.js';
import { RUNTIME_TRACE_PREDICATE_TYPE, SLSA_PROVENANCE_PREDICATE_TYPE } from '../model/index.js';
import { isRegistryError, parseReference, type Descriptor, type Reference, type RegistryClient } from '../oci/index.js';
import { bundleKeyHint, envelopeStatement } from './bundle.js';
import { VerificationFailedError, type VerifyFailureKind } from './errors.js';
import { loadTrustedKeys, type TrustedKey } from './keys.js';
import { ANNOTATION_PREDICATE_TYPE, BUNDLE_MEDIA_TYPE, bundleLayerOf } from './referrer-layout.js';
import { parseImageArgument, registryClient } from './registry.js';

export type CheckStatus = 'verified' | 'failed' | 'other-predicate';

export interface AttestationCheck {
  /** Digest of the referrer manifest. */
  referrer: string;
  status: CheckStatus;
  /** From the signed statement when it could be read, else the annotation. */
  predicateType?: string;
  annotationPredicateType?: string;
  /** Key id of the signing key (verified), or the bundle's claim when verification failed. */
  keyId?: string;
  failure?: { kind: VerifyFailureKind; code?: string; message: string };
  /** Verified statements only. */
  statement?: Statement;
}

export interface VerifyReport {
  reference: string;
  digest: string;
  trustedKeys: string[];
  checks: AttestationCheck[];
  ok: boolean;
  /** Image-level failure (none found, no runtime trace), when there is one. */
  failure?: { kind: VerifyFailureKind; message: string };
}


export interface VerifyOptions {
  /** Accept a runtime trace whose probe stopped watching part of the build (monitorGaps). */
  allowIncompleteTrace?: boolean;
}

/** The predicate type as a short label for messages. */
export function predicateLabel(t: string | undefined): string {
  if (t === RUNTIME_TRACE_PREDICATE_TYPE) return 'runtime-trace';
  if (t === SLSA_PROVENANCE_PREDICATE_TYPE) return 'provenance';
  return t ?? 'unknown predicate';
}

interface Context {
  client: RegistryClient;
  attest: typeof import('../attest/index.js');
  /** The image repository at the verified digest. */
  repo: Reference;
  digest: string;
  display: string;
  trusted: readonly TrustedKey[];
}

/** Why a verifyBundle failure happened, in the user's terms. */
async function explain(ctx: Context, err: unknown, bytes: Uint8Array): Promise<{ kind: VerifyFailureKind; code?: string; message: string }> {
  const { attest } = ctx;
  if (!attest.isAttestationError(err)) {
    return { kind: 'verification-failed', message: err instanceof Error ? err.message : String(err) };
  }
  const code = err.code;
  const hint = bundleKeyHint(bytes) ?? '(no key hint)';
  const trusted = ctx.trusted.map((k) => `${k.id.slice(0, 12)}… (${k.path})`).join(', ');
  switch (code) {
    case 'malformed-bundle':
      return { kind: 'malformed-bundle', code, message: `the bundle is not a valid Sigstore bundle (truncated or corrupted): ${err.message}` };
    case 'unsupported-bundle':
      return { kind: 'unsupported-bundle', code, message: `the bundle is of a kind tracebuild does not verify: ${err.message}` };
    case 'unknown-key':
      return { kind: 'unknown-key', code, message: `it is signed by key ${hint}, which is not a trusted key (trusted: ${trusted}): wrong --key, or signed by someone else` };
    case 'signature-invalid':
      return { kind: 'signature-invalid', code, message: `its signature does not verify with key ${hint}: the attestation was altered after it was signed` };
    case 'payload-type':
    case 'malformed-statement':
    case 'statement-type':
      return { kind: 'not-a-statement', code, message: `the signed payload is not an in-toto Statement v1: ${err.message}` };
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

async function checkOne(ctx: Context, d: Descriptor): Promise<AttestationCheck> {
  const check: AttestationCheck = { referrer: d.digest, status: 'failed' };
  const annotation = d.annotations?.[ANNOTATION_PREDICATE_TYPE];
  if (annotation !== undefined) check.annotationPredicateType = annotation;
  const fail = (kind: VerifyFailureKind, message: string, code?: string): AttestationCheck => {
    check.failure = { kind, message, ...(code === undefined ? {} : { code }) };
    return check;
  };

  let manifest: Record<string, unknown>;
  let bytes: Uint8Array;
  try {
    manifest = (await ctx.client.getManifest(ctx.repo.withDigest(d.digest))).manifest;
    const subject = (manifest.subject as { digest?: unknown } | undefined)?.digest;
    if (subject !== ctx.digest) {
      return fail('referrer-subject-mismatch', `its referrer manifest's subject is ${typeof subject === 'string' ? subject : '(missing)'}, not this image (${ctx.digest}): it was listed for the wrong image`);
    }
    const annotations = manifest.annotations as Record<string, unknown> | undefined;
    const fromManifest = annotations?.[ANNOTATION_PREDICATE_TYPE];
    if (typeof fromManifest === 'string') check.annotationPredicateType = fromManifest;
    const layer = bundleLayerOf(manifest);
    if (layer === undefined) return fail('not-a-bundle-referrer', 'the referrer has no single Sigstore bundle layer');
    bytes = await ctx.client.fetchBlob(ctx.repo, layer.digest);
  } catch (err) {
    if (isRegistryError(err)) return fail('fetch-failed', `cannot fetch it: ${err.message}`, err.code);
    throw err;
  }

  let verified: VerifiedAttestation;
  try {
    verified = ctx.attest.verifyBundle(bytes, {
      publicKeys: ctx.trusted.map((k) => k.key),
      expectedSubjectDigest: ctx.digest,
      predicateTypes: ctx.attest.KNOWN_PREDICATE_TYPES,
    });
  } catch (err) {
    if (ctx.attest.isAttestationError(err, 'unsupported-predicate')) {
      // Signature, statement and subject all checked out; it is just not ours to read.
      const statement = envelopeStatement(bytes);
      check.status = 'other-predicate';
      if (typeof statement?.predicateType === 'string') check.predicateType = statement.predicateType;
      const hint = bundleKeyHint(bytes);
      if (hint !== undefined) check.keyId = hint;
      return check;
    }
    const hint = bundleKeyHint(bytes);
    if (hint !== undefined) check.keyId = hint;
    if (check.annotationPredicateType !== undefined) check.predicateType = check.annotationPredicateType;
    const why = await explain(ctx, err, bytes);
    return fail(why.kind, why.message, why.code);
  }
  check.keyId = verified.keyId;
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

/** Verifies every bundle attached to the image; never throws for a failed check (see report.ok). */
export async function verifyImage(
  client: RegistryClient,
  ref: Reference,
  keyFiles: readonly string[],
  cwd: string,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  return verifyImageWithKeys(client, ref, await loadTrustedKeys(keyFiles, cwd), options);
}

/** The newest verified runtime trace's gaps in monitoring, as one line; undefined when none. */
function incompleteness(report: VerifyReport): string | undefined {
  const newest = newestTraces(report)[0];
  const gaps = (newest?.statement?.predicate as { monitorGaps?: unknown } | undefined)?.monitorGaps;
  if (!Array.isArray(gaps) || gaps.length === 0) return undefined;
  const first = gaps[0] as { startedOn?: unknown; reason?: unknown };
  return `the runtime trace of ${report.reference} (${report.digest}) is incomplete: the probe stopped watching the build at ${String(first.startedOn)} (${String(first.reason)}); pass --allow-incomplete-trace to accept it`;
}

/** verifyImage with keys already loaded (the guard loads them once). */
export async function verifyImageWithKeys(
  client: RegistryClient,
  ref: Reference,
  trusted: readonly TrustedKey[],
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const attest = await import('../attest/index.js');
  const subject = await client.resolveManifest(ref);
  const display = ref.toString();
  const ctx: Context = { client, attest, repo: ref.withDigest(subject.digest), digest: subject.digest, display, trusted };
  const listed = await client.listReferrers(ctx.repo, { artifactType: BUNDLE_MEDIA_TYPE });
  const checks: AttestationCheck[] = [];
  for (const d of listed) checks.push(await checkOne(ctx, d));

  const report: VerifyReport = { reference: display, digest: subject.digest, trustedKeys: trusted.map((k) => k.id), checks, ok: false };
  const failed = checks.filter((c) => c.status === 'failed');
  const traces = checks.filter((c) => c.status === 'verified' && c.predicateType === RUNTIME_TRACE_PREDICATE_TYPE);
  if (checks.length === 0) {
    report.failure = { kind: 'no-attestations', message: `no signed attestations are attached to ${display} (${subject.digest}): no referrers of type ${BUNDLE_MEDIA_TYPE}` };
  } else if (failed.length === 0 && traces.length === 0) {
    const found = checks.map((c) => predicateLabel(c.predicateType)).join(', ');
    report.failure = {
      kind: 'no-runtime-trace',
      message: `no runtime-trace attestation for ${display} (${subject.digest}): found only ${found}; was it built with --no-trace?`,
    };
  } else if (failed.length === 0 && options.allowIncompleteTrace !== true) {
    const incomplete = incompleteness(report);
    if (incomplete !== undefined) report.failure = { kind: 'incomplete-trace', message: incomplete };
  }
  report.ok = failed.length === 0 && report.failure === undefined;
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

/**
 * For commands that read a trace from an image (show, diff): everything `verify` checks,
 * then the newest verified runtime-trace statement. Throws VerificationFailedError when the
 * image does not verify. (Shape of cli/trace-input.ts's ImageTraceFetcher.)
 */
export async function fetchVerifiedImageTrace(
  reference: string,
  options: { keyPaths: readonly string[]; env: NodeJS.ProcessEnv; cwd: string; signal?: AbortSignal },
  client: RegistryClient = registryClient(options.env),
): Promise<{ statement: Statement; image: string; keyId: string }> {
  const ref = parseImageArgument(reference, 'trace');
  const report = await verifyImage(client, ref, options.keyPaths, options.cwd);
  if (!report.ok) throw verificationError(report);
  const newest = newestTraces(report)[0];
  if (newest?.statement === undefined) throw verificationError({ ...report, ok: false });
  return { statement: newest.statement, image: `${ref.name}@${report.digest}`, keyId: newest.keyId ?? '' };
}
