// `verify --policy FILE`: a trace policy (attest/POLICY.md) evaluated on a runtime trace,
// either the verified runtime-trace attestation of an image (`verify IMAGE --key PUB
// --policy FILE`) or a trace file (`verify --trace FILE --policy FILE`; without --key or a
// certificate identity a file is not verified, and the output says so; with them it must be
// a signed bundle that verifies, else exit 1). `verify --trace FILE --key PUB` without
// --policy checks the signature alone.
//
// Exit status: 0 the policy passes; 1 any violation, a policy that does not parse or
// type-check (PolicyError: bad input, like a bad Dockerfile), a trace that does not verify.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Policy, Violation } from '../../attest/index.js';
import type { Trace } from '../../model/index.js';
import { evidenceLine } from '../../verify/index.js';
import { ExitStatus } from '../errors.js';
import type { CliIo } from '../io.js';
import { USER_FILE_LIMITS, UserFileError, readUserFile, visible } from '../../common/index.js';
import { loadTraceInput, TraceInputError, type TraceFileSource } from '../trace-input.js';
import type { TrustOptions } from '../../verify/index.js';

export interface PolicyOutcome {
  /** The policy file as given. */
  file: string;
  name?: string;
  rules: number;
  steps: number;
  passed: boolean;
  violations: Violation[];
}

/** Reads and compiles a policy file; PolicyError (exit 1) when it does not parse or type-check. */
export async function loadPolicy(file: string, cwd: string): Promise<Policy> {
  let text: string;
  const { parsePolicy, PolicyError } = await import('../../attest/index.js');
  try {
    // a regular file of bounded size (common/user-file.ts)
    text = readUserFile(resolve(cwd, file), { what: `policy ${file}`, maxBytes: USER_FILE_LIMITS.policy }).toString('utf8');
  } catch (cause) {
    const why = cause instanceof UserFileError ? cause.message : `policy ${file}: cannot be read: ${(cause as Error).message}`;
    throw new PolicyError('invalid-policy', why, { file, cause });
  }
  return parsePolicy(text, file);
}

export async function evaluate(policy: Policy, trace: Trace, image: { name: string; digest: string }): Promise<PolicyOutcome> {
  const { evaluatePolicy } = await import('../../attest/index.js');
  const violations = evaluatePolicy(policy, trace, image);
  return {
    file: policy.file,
    ...(policy.name === undefined ? {} : { name: policy.name }),
    rules: policy.rules.length,
    steps: trace.buildSteps.length,
    passed: violations.length === 0,
    violations,
  };
}


/** The policy section of verify's text output. */
export function formatPolicyOutcome(outcome: PolicyOutcome): string {
  const title = `${visible(outcome.file)}${outcome.name === undefined ? '' : ` (${visible(outcome.name)})`}`;
  const out: string[] = [`Policy ${title}: ${outcome.rules} rule(s) on ${outcome.steps} step(s)`];
  for (const v of outcome.violations) {
    out.push(`  VIOLATION  ${visible(v.rule)}: ${visible(v.message)}`);
    out.push(`    at Dockerfile:${v.step.line} ${visible(v.step.instruction.replace(/\s+/g, ' ').trim())}`);
    for (const e of v.evidence) {
      const line = evidenceLine(e);
      if (line !== undefined) out.push(`    ${line}`);
    }
  }
  out.push(
    outcome.passed
      ? `Policy passed: ${title}`
      : `Policy FAILED: ${title}: ${outcome.violations.length} violation(s)`,
  );
  return `${out.join('\n')}\n`;
}

export function policyJson(outcome: PolicyOutcome): unknown {
  return {
    file: outcome.file,
    ...(outcome.name === undefined ? {} : { name: outcome.name }),
    passed: outcome.passed,
    violations: outcome.violations,
  };
}

/** Exit 1 for a failed policy (the output has already been written). */
export function policyExit(outcome: PolicyOutcome, subject: string): ExitStatus {
  return new ExitStatus(1, `error: ${subject}: ${outcome.violations.length} violation(s) of policy ${outcome.file}`);
}

export interface TracePolicyRequest {
  trace: string;
  /** Absent: only the signature is checked (with --key or an identity). */
  policy?: string;
  keys: string[];
  /** Every trust flag; `keys` alone when absent. With any, the file must be a signed bundle. */
  trust?: TrustOptions;
  json: boolean;
}

/** `verify --trace FILE [--policy FILE] [--key PUB | --certificate-identity ID ...]`. */
export async function runTracePolicy(request: TracePolicyRequest, io: CliIo): Promise<PolicyOutcome | undefined> {
  const policy = request.policy === undefined ? undefined : await loadPolicy(request.policy, io.cwd);
  const isFile = await stat(resolve(io.cwd, request.trace)).then(
    () => true,
    () => false,
  );
  if (!isFile) throw new TraceInputError('file-not-found', request.trace, `${request.trace}: no such file (--trace takes a trace, statement or bundle file)`);
  const input = await loadTraceInput(request.trace, { cwd: io.cwd, env: io.env, keyPaths: request.keys, ...(request.trust === undefined ? {} : { trust: request.trust }) });
  const source = input.source as TraceFileSource;
  const signature = source.verified
    ? `signature verified: signed by ${source.signer ?? `key ${source.keyId ?? '?'}`}`
    : `trace file not signed${source.format === 'trace' ? '' : ` (the ${source.format}'s signature was not checked: give --key PUB, or use \`tracebuild verify IMAGE\`)`}`;
  const traceJson = { path: request.trace, format: source.format, verified: source.verified, ...(source.keyId === undefined ? {} : { keyId: source.keyId }), ...(source.signer === undefined ? {} : { signer: source.signer }) };
  if (policy === undefined) {
    // Only the signature was asked for, and loadTraceInput refused anything unsigned.
    if (request.json) io.stdout.write(`${JSON.stringify({ trace: traceJson, note: signature }, null, 2)}\n`);
    else io.stdout.write(`Trace ${visible(request.trace)} (${source.format}): ${signature}\n`);
    return undefined;
  }
  const subject = source.subjects.find((s) => s.name !== undefined || s.digest !== undefined);
  const outcome = await evaluate(policy, input.trace, {
    name: subject?.name ?? request.trace,
    digest: subject?.digest ?? '',
  });
  if (request.json) {
    io.stdout.write(
      `${JSON.stringify(
        {
          trace: traceJson,
          note: signature,
          policy: policyJson(outcome),
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stdout.write(`Trace ${visible(request.trace)} (${source.format}): ${signature}\n${formatPolicyOutcome(outcome)}`);
  }
  if (!outcome.passed) throw policyExit(outcome, request.trace);
  return outcome;
}
