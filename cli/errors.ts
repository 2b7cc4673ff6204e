// Errors -> exit codes and the one line the user sees. The table is the contract:
//   0   success (also --help, --version)
//   1   the build failed: Dockerfile syntax (DockerfileError), conversion (ConvertError),
//       the daemon could not be reached (BuildKitConnectionError), the solve failed
//       (SolveError, e.g. a RUN exited non-zero), build inputs missing (no Dockerfile,
//       unreadable context), anything unexpected
//   2   usage: unknown flag, bad flag value, invalid tag, PATH missing or not a
//       directory, `-` or a URL as PATH, the Dockerfile is a directory
//   1   signing and the registry: a registry answered with an error (RegistryError), the
//       push through dockerd failed (PushError), the image was pushed but not attested
//       (NotAttestedError), a key could not be read, decrypted or written (AttestationError
//       with a key code), signing failed (AttestationError), verification failed
//       (VerificationFailedError), a trace policy violated (verify --policy) or invalid
//       (PolicyError: does not parse or type-check, failed to evaluate)
//   1   tracing: the tracer cannot run here (not root, no BPF, probe not built:
//       TraceUnavailableError, which says to use --no-trace) or failed (TracerError), or
//       stopped watching part of the build (TraceIncompleteError; --allow-incomplete-trace)
//   1   the guard could not start serving (GuardError: socket in use, port taken)
//   130 canceled by Ctrl-C / SIGTERM
// Messages are one line: `error: ...`, or `Dockerfile:LINE: what` for errors that carry a
// Dockerfile location.

import { basename } from 'node:path';
import type { SiblingErrorClasses } from './contracts.js';
import { NotAttestedError, VerificationFailedError } from './commands/attest-errors.js';
import { isTracebuildError } from '../common/index.js';
import { oneLine } from '../common/index.js';

export type ErrorKind =
  | 'usage'
  | 'dockerfile'
  | 'convert'
  | 'connection'
  | 'solve'
  | 'input'
  | 'canceled'
  | 'registry'
  | 'push'
  | 'attest'
  | 'key'
  | 'verify'
  | 'trace'
  | 'guard'
  | 'internal';

export const EXIT_CODES: Readonly<Record<ErrorKind, number>> = {
  usage: 2,
  dockerfile: 1,
  convert: 1,
  connection: 1,
  solve: 1,
  input: 1,
  canceled: 130,
  registry: 1,
  push: 1,
  attest: 1,
  key: 1,
  verify: 1,
  trace: 1,
  guard: 1,
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
  | 'invalid-entitlement';

/** The command line asks for something impossible: exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  constructor(
    readonly code: UsageErrorCode,
    message: string,
  ) {
    super(message);
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
  | 'entitlement-not-allowed';

/** A build input is missing or unreadable: exit 1, like any failed build. */
export class BuildInputError extends Error {
  override readonly name = 'BuildInputError';
  /** Set when a Dockerfile line asks for what the command line does not give. */
  readonly file?: string;
  readonly line?: number;
  constructor(
    readonly code: InputErrorCode,
    message: string,
    options?: { cause?: unknown; file?: string; line?: number },
  ) {
    super(message, options);
    if (options?.file !== undefined) this.file = options.file;
    if (options?.line !== undefined) this.line = options.line;
  }
}

/** The build was interrupted by the user. */
export class CanceledError extends Error {
  override readonly name = 'CanceledError';
  constructor(message = 'build canceled') {
    super(message);
  }
}

/** A build step failed and we know which: `message` is `Dockerfile:LINE: what` (or
 * `error: ...` when the step has no Dockerfile location); `details` is the multi-line view
 * (the step's last output lines, the Dockerfile excerpt) printed before it. */
export class StepFailedError extends Error {
  override readonly name = 'StepFailedError';
  constructor(
    message: string,
    readonly details: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
  kind: ErrorKind;
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

function isInstance(err: unknown, cls: SiblingErrorClasses[keyof SiblingErrorClasses] | undefined, name: string): boolean {
  if (!(err instanceof Error)) return false;
  if (cls !== undefined && err instanceof cls) return true;
  return err.name === name || err.constructor.name === name;
}

/** `Dockerfile:LINE: what`, keeping a location the message already starts with. */
export function locatedMessage(err: unknown): string {
  const message = oneLine(errorMessage(err));
  const { file, line } = (err ?? {}) as { file?: unknown; line?: unknown };
  if (typeof line === 'number' && line > 0) {
    if (typeof file === 'string' && message.startsWith(`${file}:${line}:`)) return message;
    if (/^[^\s:]+:\d+: /.test(message)) return message;
    const where = typeof file === 'string' && file !== '' ? basename(file) : 'Dockerfile';
    return `${where}:${line}: ${message}`;
  }
  return `error: ${message}`;
}

/** AttestationError codes that are about a key file (attest/errors.ts). */
const KEY_ERROR_CODES: ReadonlySet<string> = new Set([
  'key-not-found',
  'key-exists',
  'password-required',
  'wrong-password',
  'malformed-key',
  'unsupported-key',
  'key-io',
]);

/** Classifies any thrown value. Sibling classes are matched with instanceof when given
 * (and by name otherwise, so the table works before the real modules are wired). */
export function describeError(err: unknown, classes?: Partial<SiblingErrorClasses>): ErrorReport {
  const report = (kind: ErrorKind, message: string): ErrorReport => ({ kind, exitCode: EXIT_CODES[kind], message });
  if (err instanceof UsageError) return report('usage', `error: ${oneLine(err.message)}`);
  if (err instanceof CanceledError) return report('canceled', `error: ${oneLine(err.message)}`);
  if (err instanceof StepFailedError) return { ...report('solve', oneLine(err.message)), details: err.details };
  if (err instanceof BuildInputError) return report('input', locatedMessage(err));
  // show/diff inputs (cli/trace-input.ts) and the report file (cli/commands/show.ts), by name.
  if (err instanceof Error && (err.name === 'TraceInputError' || err.name === 'ReportWriteError')) return report('input', `error: ${oneLine(err.message)}`);
  // verify --policy: a policy that does not parse, type-check or evaluate is bad input, like a bad Dockerfile.
  if (err instanceof Error && err.name === 'PolicyError') return report('input', `error: ${oneLine(err.message)}`);
  if (isInstance(err, classes?.DockerfileError, 'DockerfileError')) return report('dockerfile', locatedMessage(err));
  if (isInstance(err, classes?.ConvertError, 'ConvertError')) return report('convert', locatedMessage(err));
  if (isInstance(err, classes?.BuildKitConnectionError, 'BuildKitConnectionError')) {
    return report('connection', `error: ${oneLine(errorMessage(err))}`);
  }
  if (isInstance(err, classes?.SolveError, 'SolveError')) return report('solve', `error: ${oneLine(errorMessage(err))}`);
  if (isTracebuildError(err) && err.name === 'EngineError') return report('push', `error: ${oneLine(err.message)}`);
  if (err instanceof NotAttestedError) return report('attest', `error: ${oneLine(err.message)}`);
  if (err instanceof VerificationFailedError) return report('verify', `error: ${oneLine(err.message)}`);
  // attest and oci errors by name and code, so that this table loads neither module.
  const code = (err as { code?: unknown } | null)?.code;
  if (err instanceof Error && err.name === 'RegistryError') return report('registry', `error: ${oneLine(err.message)}`);
  if (err instanceof Error && err.name === 'AttestationError') {
    return report(typeof code === 'string' && KEY_ERROR_CODES.has(code) ? 'key' : 'attest', `error: ${oneLine(err.message)}`);
  }
  if (err instanceof Error && ['TraceUnavailableError', 'TracerUnavailableError', 'TracerError', 'TraceIncompleteError'].includes(err.name)) {
    return report('trace', `error: ${oneLine(err.message)}`);
  }
  if (err instanceof Error && err.name === 'GuardError') return report('guard', `error: ${oneLine(err.message)}`);
  if (err instanceof Error && err.name === 'AbortError') return report('canceled', 'error: build canceled');
  return report('internal', `error: ${oneLine(errorMessage(err))}`);
}
