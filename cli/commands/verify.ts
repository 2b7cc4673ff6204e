// `tracebuild verify IMAGE --key PUB [--key PUB]... [--json]`
//
//   1. IMAGE -> its manifest digest in the registry (a tag is resolved once, and everything
//      below is checked against that digest);
//   2. the referrers of that digest whose artifactType is the Sigstore bundle v0.3 type
//      (referrers API, else the tag schema);
//   3. for each: the referrer manifest (its `subject` must be this digest), its one bundle
//      layer, and attest's offline verifyBundle with the given public keys as the only
//      trust: key known, DSSE signature valid, in-toto Statement v1, a subject with this
//      digest; the manifest's predicate-type annotation must say what the signed statement
//      says;
//   4. the verified runtime-trace statement is shown as the per-instruction table.
//
// Exit 0 only when every bundle attached to the image verifies and at least one of them is
// a runtime trace. A bundle with a valid signature and subject but a predicate type that is
// not tracebuild's (another tool's, signed with a trusted key) is reported and not counted
// as a failure. Every failure is reported by kind (VerifyFailureKind) with the image
// reference; the exit error carries the first one.

import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import type { RuntimeTrace, Statement, VerifiedAttestation } from '../../attest/index.js';
import { isRegistryError, parseReference, type Descriptor, type Reference, type RegistryClient } from '../../oci/index.js';
import type { Trace } from '../../tracer/index.js';
import type { CliIo } from '../io.js';
import { VerificationFailedError, type VerifyFailureKind } from './attest-errors.js';
import { ANNOTATION_PREDICATE_TYPE, BUNDLE_MEDIA_TYPE, bundleLayerOf } from './attest-referrer.js';
import { parseImageArgument, registryClient } from './attest-registry.js';
import { bundleKeyHint } from './referrers.js';

export const RUNTIME_TRACE = 'https://in-toto.io/attestation/runtime-trace/v0.1';
export const SLSA_PROVENANCE = 'https://slsa.dev/provenance/v1';

export interface VerifyRequest {
  image: string;
  /** Public key files (`--key`, repeatable). */
  keys: string[];
  json: boolean;
  /** `--policy FILE`: evaluated on the newest verified runtime trace (verify-policy.ts). */
  policy?: string;
  /** `--allow-incomplete-trace`: a runtime trace with gaps in its monitoring is accepted. */
  allowIncompleteTrace?: boolean;
}

export interface VerifyOptions {
  /** Accept a runtime trace whose probe stopped watching part of the build (monitorGaps). */
  allowIncompleteTrace?: boolean;
}

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

export interface TrustedKey {
  id: string;
  key: KeyObject;
  path: string;
}

function shortDigest(d: string): string {
  return `${d.slice(0, 'sha256:'.length + 12)}…`;
}

function predicateLabel(t: string | undefined): string {
  if (t === RUNTIME_TRACE) return 'runtime-trace';
  if (t === SLSA_PROVENANCE) return 'provenance';
  return t ?? 'unknown predicate';
}

/** The payload of a bundle's DSSE envelope as a statement (no verification: use after verifyBundle authenticated it). */
function envelopeStatement(bytes: Uint8Array): Partial<Statement> | undefined {
  try {
    const doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as { dsseEnvelope?: { payload?: unknown } };
    const payload = doc.dsseEnvelope?.payload;
    if (typeof payload !== 'string') return undefined;
    const statement: unknown = JSON.parse(Buffer.from(payload, 'base64').toString('utf8'));
    return typeof statement === 'object' && statement !== null ? (statement as Partial<Statement>) : undefined;
  } catch {
    return undefined;
  }
}

interface Context {
  client: RegistryClient;
  attest: typeof import('../../attest/index.js');
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

/** The public key files as trusted keys (each once, by key id). */
export async function loadTrustedKeys(keyFiles: readonly string[], cwd: string): Promise<TrustedKey[]> {
  const attest = await import('../../attest/index.js');
  const trusted: TrustedKey[] = [];
  for (const path of keyFiles) {
    const key = await attest.loadPublicKey(resolve(cwd, path));
    const id = attest.keyId(key);
    if (!trusted.some((k) => k.id === id)) trusted.push({ id, key, path });
  }
  return trusted;
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
  const attest = await import('../../attest/index.js');
  const subject = await client.resolveManifest(ref);
  const display = ref.toString();
  const ctx: Context = { client, attest, repo: ref.withDigest(subject.digest), digest: subject.digest, display, trusted };
  const listed = await client.listReferrers(ctx.repo, { artifactType: BUNDLE_MEDIA_TYPE });
  const checks: AttestationCheck[] = [];
  for (const d of listed) checks.push(await checkOne(ctx, d));

  const report: VerifyReport = { reference: display, digest: subject.digest, trustedKeys: trusted.map((k) => k.id), checks, ok: false };
  const failed = checks.filter((c) => c.status === 'failed');
  const traces = checks.filter((c) => c.status === 'verified' && c.predicateType === RUNTIME_TRACE);
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

// ---- output ------------------------------------------------------------------------------

/** The tracer's Trace rebuilt from a runtime-trace predicate (fields it lacks: zero). */
export function traceFromPredicate(predicate: unknown): Trace {
  const p = (predicate ?? {}) as Record<string, unknown>;
  const lost = typeof p.lostEvents === 'number' ? p.lostEvents : 0;
  const monitor = (p.monitor as { details?: unknown } | undefined)?.details;
  return {
    monitor: (monitor ?? { name: 'unknown' }) as Trace['monitor'],
    metadata: (p.metadata ?? { buildStartedOn: null, buildFinishedOn: null }) as Trace['metadata'],
    buildSteps: (Array.isArray(p.buildSteps) ? p.buildSteps : []) as Trace['buildSteps'],
    complete:
      typeof p.complete === 'boolean'
        ? p.complete
        : lost === 0 && !(Array.isArray(p.monitorGaps) && p.monitorGaps.length > 0) && !(Array.isArray(p.untracedCgroups) && p.untracedCgroups.length > 0),
    monitorGaps: (Array.isArray(p.monitorGaps) ? p.monitorGaps : []) as Trace['monitorGaps'],
    lostEvents: lost,
    losses: (p.losses ?? { attributedToSteps: 0, unattributedToSteps: lost }) as Trace['losses'],
    unattributedEvents: typeof p.unattributedEvents === 'number' ? p.unattributedEvents : 0,
    unattributedCgroups: (Array.isArray(p.unattributedCgroups) ? p.unattributedCgroups : []) as Trace['unattributedCgroups'],
    untracedCgroups: (Array.isArray(p.untracedCgroups) ? p.untracedCgroups : []) as Trace['untracedCgroups'],
    runcSetupEvents: typeof p.runcSetupEvents === 'number' ? p.runcSetupEvents : 0,
    ambiguities: (Array.isArray(p.ambiguities) ? p.ambiguities : []) as Trace['ambiguities'],
  };
}

/** A few words per step, when the table cannot be drawn from what the predicate holds. */
function compactSummary(trace: Trace): string {
  const lines = trace.buildSteps.map((s) => {
    const step = s as Partial<Trace['buildSteps'][number]>;
    const what = step.cached === true
      ? 'cached'
      : `${step.processes?.length ?? 0} processes, ${step.files?.created?.length ?? 0} created, ${step.files?.modified?.length ?? 0} modified, ${step.files?.deleted?.length ?? 0} deleted, ${step.network?.length ?? 0} network`;
    return `Dockerfile:${String(step.line ?? '?')} ${String(step.instruction ?? '').replace(/\s+/g, ' ').trim()}: ${what}`;
  });
  lines.push(`lost events: ${trace.lostEvents}`);
  return `${lines.join('\n')}\n`;
}

async function traceTable(statement: Statement): Promise<string> {
  const trace = traceFromPredicate(statement.predicate);
  try {
    const { formatTraceTable } = await import('../../tracer/index.js');
    return formatTraceTable(trace);
  } catch {
    return compactSummary(trace);
  }
}

function finishedOn(c: AttestationCheck): string {
  const m = (c.statement?.predicate as { metadata?: { buildFinishedOn?: unknown } } | undefined)?.metadata;
  return typeof m?.buildFinishedOn === 'string' ? m.buildFinishedOn : '';
}

/** Verified runtime-trace checks, the newest build first. */
export function newestTraces(report: VerifyReport): AttestationCheck[] {
  return report.checks
    .filter((c) => c.status === 'verified' && c.predicateType === RUNTIME_TRACE)
    .sort((a, b) => (finishedOn(a) < finishedOn(b) ? 1 : finishedOn(a) > finishedOn(b) ? -1 : 0));
}

function failureLine(report: VerifyReport, c: AttestationCheck): string {
  return `${report.reference}: attestation ${shortDigest(c.referrer)} (${predicateLabel(c.predicateType)}): ${c.failure?.message ?? 'failed'}`;
}

async function formatReport(report: VerifyReport): Promise<string> {
  const out: string[] = [`Verifying ${report.reference} (${report.digest})`];
  out.push(`trusted keys: ${report.trustedKeys.join(', ')}`);
  for (const c of report.checks) {
    const label = predicateLabel(c.predicateType);
    if (c.status === 'verified') out.push(`  OK    ${c.referrer}  ${label}, signed by ${c.keyId ?? '?'}`);
    else if (c.status === 'other-predicate') out.push(`  OK    ${c.referrer}  ${label} (not a tracebuild predicate: signature and subject checked only)`);
    else out.push(`  FAIL  ${c.referrer}  ${label}: [${c.failure?.kind ?? '?'}] ${c.failure?.message ?? ''}`);
  }
  const traces = newestTraces(report);
  const newest = traces[0];
  if (newest?.statement !== undefined) {
    const when = finishedOn(newest);
    out.push('');
    out.push(`Runtime trace (attestation ${newest.referrer}${when ? `, build finished ${when}` : ''}):`);
    out.push((await traceTable(newest.statement)).trimEnd());
    if (traces.length > 1) out.push(`(${traces.length - 1} older runtime-trace attestation(s) of this image also verified)`);
  }
  out.push('');
  const counts = new Map<string, number>();
  for (const c of report.checks) if (c.status !== 'failed') counts.set(predicateLabel(c.predicateType), (counts.get(predicateLabel(c.predicateType)) ?? 0) + 1);
  const found = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const failed = report.checks.filter((c) => c.status === 'failed').length;
  out.push(
    report.ok
      ? `Verified: ${report.reference}@${report.digest}: ${found}`
      : failed > 0
        ? `NOT verified: ${report.reference}@${report.digest}: ${failed} of ${report.checks.length} attestation(s) failed; verified: ${found}`
        : `NOT verified: ${report.failure?.message ?? 'no attestation'}`,
  );
  return `${out.join('\n')}\n`;
}

function jsonReport(report: VerifyReport): unknown {
  return {
    reference: report.reference,
    digest: report.digest,
    verified: report.ok,
    trustedKeys: report.trustedKeys,
    ...(report.failure === undefined ? {} : { failure: report.failure }),
    attestations: report.checks.map((c) => ({
      referrer: c.referrer,
      status: c.status,
      ...(c.predicateType === undefined ? {} : { predicateType: c.predicateType }),
      ...(c.annotationPredicateType === undefined ? {} : { annotationPredicateType: c.annotationPredicateType }),
      ...(c.keyId === undefined ? {} : { keyId: c.keyId }),
      ...(c.failure === undefined ? {} : { failure: c.failure }),
      ...(c.statement === undefined ? {} : { statement: c.statement }),
    })),
  };
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

export async function runVerify(request: VerifyRequest, io: CliIo, client: RegistryClient = registryClient(io.env)): Promise<VerifyReport> {
  const ref = parseImageArgument(request.image, 'verify');
  // A policy that does not parse fails before anything is fetched.
  const policy = request.policy === undefined ? undefined : await import('./verify-policy.js').then(async (m) => ({ m, policy: await m.loadPolicy(request.policy ?? '', io.cwd) }));
  const report = await verifyImage(client, ref, request.keys, io.cwd, { allowIncompleteTrace: request.allowIncompleteTrace === true });
  const newest = report.ok ? newestTraces(report)[0] : undefined;
  if (policy === undefined || newest?.statement === undefined) {
    io.stdout.write(request.json ? `${JSON.stringify(jsonReport(report), null, 2)}\n` : await formatReport(report));
    if (report.ok) return report;
    throw verificationError(report);
  }
  // The policy judges the newest verified runtime trace, normalized as show/diff read it.
  const { parseTraceDocument } = await import('../trace-input.js');
  const trace = parseTraceDocument(newest.statement, `${report.reference}@${report.digest}`).trace;
  const outcome = await policy.m.evaluate(policy.policy, trace as unknown as RuntimeTrace, { name: ref.name, digest: report.digest });
  if (request.json) io.stdout.write(`${JSON.stringify({ ...(jsonReport(report) as object), policy: policy.m.policyJson(outcome) }, null, 2)}\n`);
  else io.stdout.write(`${await formatReport(report)}\n${policy.m.formatPolicyOutcome(outcome)}`);
  if (!outcome.passed) throw policy.m.policyExit(outcome, `${report.reference}@${report.digest}`);
  return report;
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
