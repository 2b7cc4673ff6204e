// `tracebuild verify IMAGE (--key PUB | --certificate-identity ID ...)... [--type T]...
// [--require-type T]... [--require-all] [--json] [--policy FILE]`: the verify library's
// report on an image (verify/image.ts), printed as text or JSON, with the newest verified
// runtime trace as the per-instruction table; with --policy, that trace judged against a
// policy. Exit 0 only when the image verifies (and the policy passes); 1 when it does not;
// 2 for a usage error.

import type { Statement } from '../../attest/index.js';
import type { RegistryClient } from '../../oci/index.js';
import type { Trace } from '../../model/index.js';
import {
  hasAnyTrust,
  newestTraces,
  parseImageArgument,
  predicateLabel,
  registryClient,
  signerLabel,
  verificationError,
  verifyImage,
  type AttestationCheck,
  type TrustOptions,
  type VerifyReport,
} from '../../verify/index.js';
import { KNOWN_PREDICATE_TYPES } from '../../model/index.js';
import { visible } from '../../common/index.js';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { collect, type CliCommand } from './command.js';
import { runTracePolicy } from './verify-policy.js';
import { addTrustOptions, trustOptions, type TrustFlags } from './trust-flags.js';

export interface VerifyRequest {
  image: string;
  /** Public key files (`--key`, repeatable). */
  keys: string[];
  /** Everything trusted (`--key` and the certificate flags); `keys` alone when absent. */
  trust?: TrustOptions;
  json: boolean;
  /** `--policy FILE`: evaluated on the newest verified runtime trace (verify-policy.ts). */
  policy?: string;
  /** `--allow-incomplete-trace`: a runtime trace with gaps in its monitoring is accepted. */
  allowIncompleteTrace?: boolean;
  /** `--type` (repeatable): the predicate types to verify; default tracebuild's two. */
  types?: string[];
  /** `--require-type` (repeatable): types that must each have a verified attestation. */
  requireTypes?: string[];
  /** `--require-all`: every bundle on the image must verify, every selected type be present. */
  requireAll?: boolean;
}

/** A few words per step, when the table cannot be drawn from what the predicate holds. */
function compactSummary(predicate: unknown): string {
  const p = (predicate ?? {}) as { buildSteps?: unknown; lostEvents?: unknown };
  const steps = (Array.isArray(p.buildSteps) ? p.buildSteps : []) as Partial<Trace['buildSteps'][number]>[];
  const lines = steps.map((step) => {
    const what = step.cached === true
      ? 'cached'
      : `${step.processes?.length ?? 0} processes, ${step.files?.created?.length ?? 0} created, ${step.files?.modified?.length ?? 0} modified, ${step.files?.deleted?.length ?? 0} deleted, ${step.network?.length ?? 0} network`;
    return `Dockerfile:${String(step.line ?? '?')} ${visible(String(step.instruction ?? '').replace(/\s+/g, ' ').trim())}: ${what}`;
  });
  lines.push(`lost events: ${typeof p.lostEvents === 'number' ? p.lostEvents : '?'}`);
  return `${lines.join('\n')}\n`;
}

async function traceTable(statement: Statement): Promise<string> {
  const [{ traceFromPredicate }, { formatTraceTable }] = await Promise.all([import('../../attest/index.js'), import('../../tracer/index.js')]);
  try {
    return formatTraceTable(traceFromPredicate(statement.predicate));
  } catch {
    return compactSummary(statement.predicate);
  }
}

function finishedOn(c: AttestationCheck): string {
  const m = (c.statement?.predicate as { metadata?: { buildFinishedOn?: unknown } } | undefined)?.metadata;
  return typeof m?.buildFinishedOn === 'string' ? m.buildFinishedOn : '';
}

function checkDetails(c: AttestationCheck): string {
  const parts = [`signed by ${signerLabel(c)}`];
  const ts = c.times?.find((t) => t.source !== 'verification-time');
  if (ts !== undefined) parts.push(`signing time ${ts.time} (${ts.source === 'timestamp-authority' ? 'RFC 3161 timestamp' : 'transparency log'})`);
  if (c.tlog !== undefined && c.tlog.entries > 0) parts.push(c.tlog.checked ? `${c.tlog.entries} transparency-log entry checked` : `${c.tlog.entries} transparency-log entry NOT checked (no trusted log)`);
  if (c.timestamps !== undefined && c.timestamps.count > 0 && !c.timestamps.checked) parts.push(`${c.timestamps.count} timestamp(s) NOT checked (no trusted TSA)`);
  return parts.join('; ');
}

async function formatReport(report: VerifyReport): Promise<string> {
  const out: string[] = [`Verifying ${report.reference} (${report.digest})`];
  out.push(`trusted: ${report.trust.join('; ') || 'nothing'}`);
  out.push(`predicate types checked: ${report.types.map(predicateLabel).join(', ')}`);
  for (const c of report.checks) {
    const label = predicateLabel(c.predicateType);
    if (c.status === 'verified') {
      const known = (KNOWN_PREDICATE_TYPES as readonly string[]).includes(c.predicateType ?? '');
      out.push(`  OK           ${c.referrer}  ${label}, ${checkDetails(c)}${known ? '' : ' (not a tracebuild predicate: signature and subject checked only)'}`);
    } else if (c.status === 'not-checked') {
      const what = c.notChecked?.reason === 'not-a-bundle' ? (c.artifactType ?? 'artifact') : label;
      out.push(`  NOT CHECKED  ${c.referrer}  ${what}: ${c.notChecked?.code === undefined ? '' : `[${c.notChecked.code}] `}${c.notChecked?.message ?? ''}`);
    } else {
      out.push(`  FAIL         ${c.referrer}  ${label}: [${c.failure?.kind ?? '?'}] ${c.failure?.message ?? ''}`);
    }
  }
  if (report.missing.length > 0) {
    for (const t of report.missing) {
      out.push(`  MISSING      ${predicateLabel(t)}: no verified attestation of this type${report.required.includes(t) ? ' (required)' : ' (not required: --require-type or --require-all to require it)'}`);
    }
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
  // Counted in the order of the selected types, whatever order the registry lists them in.
  const counts = new Map<string, number>(report.types.map((t) => [predicateLabel(t), 0]));
  for (const c of report.checks) if (c.status === 'verified') counts.set(predicateLabel(c.predicateType), (counts.get(predicateLabel(c.predicateType)) ?? 0) + 1);
  for (const [k, n] of counts) if (n === 0) counts.delete(k);
  const found = [...counts.entries()].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  const failed = report.checks.filter((c) => c.status === 'failed').length;
  const unchecked = report.checks.filter((c) => c.status === 'not-checked').length;
  const tail = unchecked > 0 ? ` (${unchecked} referrer(s) not checked)` : '';
  out.push(
    report.ok
      ? `Verified: ${report.reference}@${report.digest}: ${found}${tail}`
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
    trust: report.trust,
    types: report.types,
    required: report.required,
    missing: report.missing,
    ...(report.failure === undefined ? {} : { failure: report.failure }),
    attestations: report.checks.map((c) => ({
      referrer: c.referrer,
      status: c.status,
      ...(c.predicateType === undefined ? {} : { predicateType: c.predicateType }),
      ...(c.annotationPredicateType === undefined ? {} : { annotationPredicateType: c.annotationPredicateType }),
      ...(c.artifactType === undefined ? {} : { artifactType: c.artifactType }),
      ...(c.keyId === undefined ? {} : { keyId: c.keyId }),
      ...(c.signer === undefined ? {} : { signer: c.signer }),
      ...(c.times === undefined ? {} : { times: c.times }),
      ...(c.tlog === undefined ? {} : { tlog: c.tlog }),
      ...(c.timestamps === undefined ? {} : { timestamps: c.timestamps }),
      ...(c.notChecked === undefined ? {} : { notChecked: c.notChecked }),
      ...(c.failure === undefined ? {} : { failure: c.failure }),
      ...(c.statement === undefined ? {} : { statement: c.statement }),
    })),
  };
}

export async function runVerify(request: VerifyRequest, io: CliIo, client: RegistryClient = registryClient(io.env)): Promise<VerifyReport> {
  const ref = parseImageArgument(request.image, 'verify');
  // A policy that does not parse fails before anything is fetched.
  const policy = request.policy === undefined ? undefined : await import('./verify-policy.js').then(async (m) => ({ m, policy: await m.loadPolicy(request.policy ?? '', io.cwd) }));
  const report = await verifyImage(client, ref, request.trust ?? { keyFiles: request.keys }, io.cwd, {
    allowIncompleteTrace: request.allowIncompleteTrace === true,
    ...(request.types === undefined ? {} : { types: request.types }),
    ...(request.requireTypes === undefined ? {} : { requireTypes: request.requireTypes }),
    ...(request.requireAll === true ? { requireAll: true } : {}),
  });
  const newest = report.ok ? newestTraces(report)[0] : undefined;
  if (policy === undefined || newest?.statement === undefined) {
    io.stdout.write(request.json ? `${JSON.stringify(jsonReport(report), null, 2)}\n` : await formatReport(report));
    if (report.ok) return report;
    throw verificationError(report);
  }
  // The policy judges the newest verified runtime trace, normalized as show/diff read it.
  const { parseTraceDocument } = await import('../trace-input.js');
  const trace = parseTraceDocument(newest.statement, `${report.reference}@${report.digest}`).trace;
  const outcome = await policy.m.evaluate(policy.policy, trace, { name: ref.name, digest: report.digest });
  if (request.json) io.stdout.write(`${JSON.stringify({ ...(jsonReport(report) as object), policy: policy.m.policyJson(outcome) }, null, 2)}\n`);
  else io.stdout.write(`${await formatReport(report)}\n${policy.m.formatPolicyOutcome(outcome)}`);
  if (!outcome.passed) throw policy.m.policyExit(outcome, `${report.reference}@${report.digest}`);
  return report;
}

interface VerifyFlags extends TrustFlags {
  json?: boolean;
  policy?: string;
  trace?: string;
  allowIncompleteTrace?: boolean;
  type?: string[];
  requireType?: string[];
  requireAll?: boolean;
}

export const verifyCommand: CliCommand = {
  register(program: Command, { io }) {
    const command = program
      .command('verify')
      .description(
        "verify an image's signed attestations (with public keys, or certificate identities: keyless Sigstore or your PKI) and show its runtime trace; with --policy, also check the trace against a policy",
      )
      .argument('[IMAGE]', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...');
    addTrustOptions(command, 'trusted public key file (repeatable): ours, or a cosign.pub')
      .option('--type <TYPE>', 'predicate type to verify (repeatable; a URI, or runtime-trace / provenance); default both of tracebuild\'s; other types are listed as not checked', collect)
      .option('--require-type <TYPE>', 'this predicate type must have a verified attestation (repeatable); default: the runtime trace, or every --type', collect)
      .option('--require-all', 'fail unless every attestation on the image verifies (none unchecked) and every selected type is present')
      .option('--policy <FILE>', 'trace policy (YAML, see attest/POLICY.md): any violation exits 1')
      .option('--trace <FILE>', 'check a trace file (trace, statement or bundle) instead of an image: with --key or --certificate-identity it must be a signed bundle; with --policy, judge it')
      .option('--json', 'print the result as JSON')
      .option('--allow-incomplete-trace', "accept a runtime trace whose probe stopped watching part of the build (by default it fails)")
      .action(async (image: string | undefined, flags: VerifyFlags) => {
        const keys = flags.key ?? [];
        const trust = trustOptions(flags);
        const json = flags.json === true;
        if (flags.trace !== undefined) {
          if (image !== undefined) throw new UsageError('bad-flag', 'give either IMAGE or --trace FILE, not both');
          if (flags.policy === undefined && !hasAnyTrust(trust)) {
            throw new UsageError('bad-flag', '--trace FILE needs --policy FILE, or --key PUB / --certificate-identity to check its signature');
          }
          await runTracePolicy({ trace: flags.trace, ...(flags.policy === undefined ? {} : { policy: flags.policy }), keys, trust, json }, io);
          return;
        }
        if (image === undefined) throw new UsageError('bad-flag', 'verify needs an IMAGE (or --trace FILE)');
        if (!hasAnyTrust(trust)) {
          throw new UsageError('bad-flag', "nothing to trust: give --key PUB, or --certificate-identity with --trusted-root or --ca-roots");
        }
        await runVerify(
          {
            image,
            keys,
            trust,
            json,
            ...(flags.policy === undefined ? {} : { policy: flags.policy }),
            ...(flags.allowIncompleteTrace === true ? { allowIncompleteTrace: true } : {}),
            ...(flags.type === undefined ? {} : { types: flags.type }),
            ...(flags.requireType === undefined ? {} : { requireTypes: flags.requireType }),
            ...(flags.requireAll === true ? { requireAll: true } : {}),
          },
          io,
        );
      });
  },
};
