// The error of policy files, CEL rules and enforce rules alike (attest/policy.ts,
// attest/enforce.ts).
import { TracebuildError, type ExitKind } from '../common/index.js';

/**
 * - `invalid-policy`: the document is not YAML, or not a policy (missing `rules`, a rule
 *   without `name`/`deny`/`message`, unknown keys, duplicate rule names, bad `params`).
 * - `invalid-rule`: a rule's CEL does not parse or does not type-check, or its result is
 *   not bool (`deny`) / string (`messageExpression`).
 * - `evaluation-error`: a rule failed at evaluation time (CEL runtime error, a `dyn`
 *   result that turned out not to be bool), or the trace is not a trace.
 * - `evaluation-limit`: a rule spent its cost budget, or the policy its time (see
 *   policy-cost.ts); the trace was not judged.
 */
export type PolicyErrorCode = 'invalid-policy' | 'invalid-rule' | 'evaluation-error' | 'evaluation-limit';

/** A policy that does not parse or check is bad input (like a bad Dockerfile); one that
 * fails while judging a trace cannot vouch for it. */
export class PolicyError extends TracebuildError<PolicyErrorCode> {
  override readonly name = 'PolicyError';
  readonly exit: ExitKind = 'input';
  /** Policy file name as given to parsePolicy. */
  readonly file: string;
  /** Name of the offending rule, when one is to blame. */
  readonly rule: string | undefined;

  constructor(code: PolicyErrorCode, message: string, options: { file: string; rule?: string; cause?: unknown }) {
    super(code, message, options.cause === undefined ? {} : { cause: options.cause });
    this.file = options.file;
    this.rule = options.rule;
  }
}

export function isPolicyError(err: unknown, code?: PolicyErrorCode): err is PolicyError {
  return err instanceof PolicyError && (code === undefined || err.code === code);
}
