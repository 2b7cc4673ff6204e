// One error model for every module. Each module has one error class (or a few, by what
// they are about) deriving from TracebuildError: a `code` the module defines, and the
// `exit` kind, which alone decides how the command ends (the exit-code table in
// cli/errors.ts). The CLI never sorts errors by class or by name.

/** How a failure ends the command. cli/errors.ts maps each to an exit code. */
export type ExitKind =
  /** The command line asks for something impossible (a flag, a value). */
  | 'usage'
  /** An input the user gave is unusable: a Dockerfile, a context, a policy, a key, a file. */
  | 'input'
  /** The build itself failed: a step exited non-zero, the daemon refused the build. */
  | 'build'
  /** A daemon or registry could not be reached. */
  | 'unreachable'
  /** A daemon or registry refused our credentials, or wanted some. */
  | 'auth'
  /** A registry or daemon answered with an error (other than authentication). */
  | 'remote'
  /** The eBPF trace cannot be made, failed, or is incomplete. */
  | 'trace'
  /** An attestation did not verify, or a trace broke a policy. */
  | 'verify'
  /** Ctrl-C, SIGTERM. */
  | 'canceled'
  /** A bug, or a failure nobody classified. */
  | 'internal';

/** Where in a file (a Dockerfile, a policy) the problem is. */
export interface SourceLocation {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based, when known. */
  column?: number;
}

export interface TracebuildErrorOptions {
  cause?: unknown;
  location?: SourceLocation;
}

export abstract class TracebuildError<Code extends string = string> extends Error {
  /** How the command ends when this error reaches it. */
  abstract readonly exit: ExitKind;
  readonly location?: SourceLocation;

  constructor(
    /** What went wrong, in the module's own words (a string union per module). */
    readonly code: Code,
    message: string,
    options: TracebuildErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.location !== undefined) this.location = options.location;
  }
}

export function isTracebuildError(err: unknown): err is TracebuildError {
  return err instanceof TracebuildError;
}
