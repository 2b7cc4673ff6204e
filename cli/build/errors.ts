// The build pipeline's own errors: the trace could not be made, is incomplete or could not
// be written; the image was pushed but not attested.
import { TracebuildError, type ExitKind } from '../../common/index.js';

/**
 * The image was pushed but attaching (or signing) its attestations failed: the registry
 * holds an image without the attestations the command line asked for. Never reported as
 * success.
 */
export class NotAttestedError extends TracebuildError<'not-attested'> {
  override readonly name = 'NotAttestedError';
  readonly exit: ExitKind = 'remote';
  constructor(
    /** `name@digest` of every image that is in the registry without (all) its attestations. */
    readonly pushed: readonly string[],
    message: string,
    options?: { cause?: unknown },
  ) {
    super('not-attested', message, options);
  }
}

/** The probe stopped watching part of the build, and --allow-incomplete-trace was not given. */
export class TraceIncompleteError extends TracebuildError<'trace-incomplete'> {
  override readonly name = 'TraceIncompleteError';
  readonly exit: ExitKind = 'trace';
  constructor(message: string, options?: { cause?: unknown }) {
    super('trace-incomplete', message, options);
  }
}

/** Writing `--trace-out` failed. */
export class TraceWriteError extends TracebuildError<'trace-write-failed'> {
  override readonly name = 'TraceWriteError';
  readonly exit: ExitKind = 'input';
  constructor(message: string, options?: { cause?: unknown }) {
    super('trace-write-failed', message, options);
  }
}

/** build --enforce refused an action of a step (a connect or send): the build is stopped
 * there, and nothing is tagged, pushed or signed, even if the step's command went on. */
export class EnforcementDeniedError extends TracebuildError<'enforcement-denied'> {
  override readonly name = 'EnforcementDeniedError';
  readonly exit: ExitKind = 'build';
  constructor(message: string, options?: { cause?: unknown }) {
    super('enforcement-denied', message, options);
  }
}
