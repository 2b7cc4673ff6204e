// Errors -> exit codes and the one line the user sees. Every module's errors derive from
// TracebuildError (common/errors.ts) and carry their exit kind; this file maps the kinds to
// exit codes (the contract, documented in the README) and formats the message:
//   0   success (also --help, --version)
//   1   a failed build, and every failure below not given its own code: bad input (a
//       Dockerfile, a context, a policy, a key), a registry error other than the two below,
//       a trace that cannot be made or is incomplete, an attestation that does not
//       verify, a bug
//   2   usage: an unknown flag, a bad flag value, an invalid tag, PATH missing or not a
//       directory, `-` or a URL as PATH
//   3   the daemon or a registry cannot be reached
//   4   a registry (or the daemon) wants credentials or refused them
//   130 interrupted: Ctrl-C / SIGTERM
// 1, 2 and 130 are what docker build and buildx use; 3 and 4 are ours, for scripts that
// retry an unreachable host but not a refused login.
// Messages are one line: `error: ...`, or `Dockerfile:LINE: what` for errors that carry a
// Dockerfile location. The CLI's own errors are below.

import { basename } from 'node:path';
import { TracebuildError, isTracebuildError, oneLine, type ExitKind, type SourceLocation } from '../common/index.js';

export const EXIT_CODES: Readonly<Record<ExitKind, number>> = {
  usage: 2,
  input: 1,
  build: 1,
  unreachable: 3,
  auth: 4,
  remote: 1,
  trace: 1,
  verify: 1,
  canceled: 130,
  internal: 1,
};

export type UsageErrorCode =
  | 'bad-flag'
  | 'invalid-tag'
  | 'invalid-build-arg'
  | 'invalid-label'
  | 'stdin-not-supported'
  | 'remote-context-not-supported'
  | 'invalid-secret'
  | 'invalid-entitlement'
  | 'invalid-build-context'
  | 'invalid-ssh'
  | 'invalid-platform'
  | 'multi-platform-not-supported';

/** The command line asks for something impossible: exit 2. */
export class UsageError extends TracebuildError<UsageErrorCode> {
  override readonly name = 'UsageError';
  readonly exit: ExitKind = 'usage';
  constructor(code: UsageErrorCode, message: string) {
    super(code, message);
  }
}

// A missing context or a Dockerfile that is a directory is bad input, not a bad command
// line: docker build exits 1 for them too.
export type InputErrorCode =
  | 'context-not-found'
  | 'context-not-directory'
  | 'context-unreadable'
  | 'dockerfile-not-found'
  | 'dockerfile-is-directory'
  | 'dockerfile-unreadable'
  | 'secret-unreadable'
  | 'secret-not-provided'
  | 'entitlement-not-allowed'
  | 'build-context-unreadable'
  | 'ssh-agent-unreadable'
  | 'ssh-key-unusable'
  | 'ssh-not-provided';

/** A build input is missing or unreadable: exit 1, like any failed build. */
export class BuildInputError extends TracebuildError<InputErrorCode> {
  override readonly name = 'BuildInputError';
  readonly exit: ExitKind = 'input';
  constructor(code: InputErrorCode, message: string, options?: { cause?: unknown; file?: string; line?: number }) {
    const location = options?.line === undefined ? undefined : { file: options.file ?? 'Dockerfile', line: options.line };
    super(code, message, { ...(options?.cause === undefined ? {} : { cause: options.cause }), ...(location ? { location } : {}) });
  }
}

/** The build was interrupted by the user. */
export class CanceledError extends TracebuildError<'canceled'> {
  override readonly name = 'CanceledError';
  readonly exit: ExitKind = 'canceled';
  constructor(message = 'build canceled') {
    super('canceled', message);
  }
}

/** A build step failed and we know which: `message` is `Dockerfile:LINE: what` (or
 * `error: ...` when the step has no Dockerfile location); `details` is the multi-line view
 * (the step's last output lines, the Dockerfile excerpt) printed before it. `exit` is
 * `build` unless the step failed because a registry refused or could not be reached. */
export class StepFailedError extends TracebuildError<'step-failed'> {
  override readonly name = 'StepFailedError';
  readonly exit: ExitKind;
  constructor(
    message: string,
    readonly details: string,
    options?: { cause?: unknown; exit?: ExitKind },
  ) {
    super('step-failed', message, options?.cause === undefined ? {} : { cause: options.cause });
    this.exit = options?.exit ?? 'build';
  }
}

/** Not a failure to describe: the command decided its exit status (diff: 1 = the inputs
 * differ, 2 = trouble) and printed its output; `message`, when not empty, goes to stderr. */
export class ExitStatus extends Error {
  override readonly name = 'ExitStatus';
  constructor(
    readonly exitCode: number,
    message = '',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface ErrorReport {
  kind: ExitKind;
  exitCode: number;
  /** One line, no trailing newline. */
  message: string;
  /** Printed before the message (ends with a newline), e.g. a failed step's output tail. */
  details?: string;
}

function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Where an error points: its location, or (an error of ours that keeps them as fields) `file` and `line`. */
function locationOf(err: unknown): SourceLocation | undefined {
  if (isTracebuildError(err) && err.location !== undefined) return err.location;
  const { file, line } = (err ?? {}) as { file?: unknown; line?: unknown };
  return typeof line === 'number' ? { file: typeof file === 'string' ? file : '', line } : undefined;
}

/** `Dockerfile:LINE: what`, keeping a location the message already starts with. */
export function locatedMessage(err: unknown): string {
  const message = oneLine(errorMessage(err));
  const at = locationOf(err);
  if (at !== undefined && at.line > 0) {
    if (at.file !== '' && message.startsWith(`${at.file}:${at.line}:`)) return message;
    if (/^[^\s:]+:\d+: /.test(message)) return message;
    const where = at.file !== '' ? basename(at.file) : 'Dockerfile';
    return `${where}:${at.line}: ${message}`;
  }
  return `error: ${message}`;
}

/** Classifies any thrown value by its exit kind. */
export function describeError(err: unknown): ErrorReport {
  const report = (kind: ExitKind, message: string): ErrorReport => ({ kind, exitCode: EXIT_CODES[kind], message });
  if (err instanceof StepFailedError) return { ...report(err.exit, oneLine(err.message)), details: err.details };
  if (isTracebuildError(err)) return report(err.exit, locatedMessage(err));
  if (err instanceof Error && err.name === 'AbortError') return report('canceled', 'error: build canceled');
  return report('internal', `error: ${oneLine(errorMessage(err))}`);
}
