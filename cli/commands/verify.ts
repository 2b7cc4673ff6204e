// `tracebuild verify IMAGE --key PUB [--key PUB]... [--json] [--policy FILE]`: the verify
// library's report on an image (verify/image.ts), printed as text or JSON, with the newest
// verified runtime trace as the per-instruction table; with --policy, that trace judged
// against a policy. Exit 0 only when the image verifies (and the policy passes).

import type { Statement } from '../../attest/index.js';
import type { RegistryClient } from '../../oci/index.js';
import type { Trace } from '../../model/index.js';
import {
  newestTraces,
  parseImageArgument,
  predicateLabel,
  registryClient,
  verificationError,
  verifyImage,
  type AttestationCheck,
  type VerifyReport,
} from '../../verify/index.js';
import { visible } from '../../common/index.js';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import type { CliIo } from '../io.js';
import { collect, type CliCommand } from './command.js';
import { runTracePolicy } from './verify-policy.js';

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
  const outcome = await policy.m.evaluate(policy.policy, trace, { name: ref.name, digest: report.digest });
  if (request.json) io.stdout.write(`${JSON.stringify({ ...(jsonReport(report) as object), policy: policy.m.policyJson(outcome) }, null, 2)}\n`);
  else io.stdout.write(`${await formatReport(report)}\n${policy.m.formatPolicyOutcome(outcome)}`);
  if (!outcome.passed) throw policy.m.policyExit(outcome, `${report.reference}@${report.digest}`);
  return report;
}

export const verifyCommand: CliCommand = {
  register(program: Command, { io }) {
    program
      .command('verify')
      .description("verify an image's signed attestations offline with the given public key(s) and show its runtime trace; with --policy, also check the trace against a policy")
      .argument('[IMAGE]', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...')
      .option('--key <PUB>', 'trusted public key file (repeatable; required for an IMAGE)', collect)
      .option('--policy <FILE>', 'trace policy (YAML, see attest/POLICY.md): any violation exits 1')
      .option('--trace <FILE>', 'with --policy: check a trace file (trace, statement or bundle) instead of an image')
      .option('--json', 'print the result as JSON')
      .option('--allow-incomplete-trace', "accept a runtime trace whose probe stopped watching part of the build (by default it fails)")
      .action(async (image: string | undefined, flags: { key?: string[]; json?: boolean; policy?: string; trace?: string; allowIncompleteTrace?: boolean }) => {
        const keys = flags.key ?? [];
        const json = flags.json === true;
        if (flags.trace !== undefined) {
          if (image !== undefined) throw new UsageError('bad-flag', 'give either IMAGE or --trace FILE, not both');
          if (flags.policy === undefined) throw new UsageError('bad-flag', '--trace FILE needs --policy FILE');
          await runTracePolicy({ trace: flags.trace, policy: flags.policy, keys, json }, io);
          return;
        }
        if (image === undefined) throw new UsageError('bad-flag', 'verify needs an IMAGE (or --trace FILE --policy FILE)');
        if (keys.length === 0) throw new UsageError('bad-flag', "required option '--key <PUB>' not specified");
        await runVerify(
          {
            image,
            keys,
            json,
            ...(flags.policy === undefined ? {} : { policy: flags.policy }),
            ...(flags.allowIncompleteTrace === true ? { allowIncompleteTrace: true } : {}),
          },
          io,
        );
      });
  },
};
