// Conversion errors carry the Dockerfile location they are about.
import { TracebuildError, remoteFailureKind, type ExitKind } from '../../common/index.js';

export type ConvertErrorCode =
  | 'empty-dockerfile'
  | 'invalid-base-name'
  | 'invalid-reference'
  | 'invalid-platform'
  | 'target-not-found'
  | 'invalid-stage-index'
  | 'circular-dependency'
  | 'invalid-stage-order'
  | 'invalid-mount'
  | 'invalid-instruction'
  | 'invalid-flag'
  | 'expansion-failed'
  | 'unsupported'
  | 'resolve-failed'
  | 'context-unreadable';

/** A Dockerfile the converter cannot turn into LLB is bad input; a base image it could not
 * resolve is the registry's (or the daemon's) answer. */
export class ConvertError extends TracebuildError<ConvertErrorCode> {
  override readonly name = 'ConvertError';
  readonly exit: ExitKind;
  readonly file: string;
  /** 1-based line of the instruction; 0 when the error is not about one line (e.g. --target). */
  readonly line: number;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(code: ConvertErrorCode, file: string, line: number, what: string, options?: { cause?: unknown }) {
    super(code, line > 0 ? `${file}:${line}: ${what}` : `${file}: ${what}`, {
      ...(options?.cause === undefined ? {} : { cause: options.cause }),
      ...(line > 0 ? { location: { file, line } } : {}),
    });
    // A registry that refused the login or could not be reached says so in its message.
    this.exit = code === 'resolve-failed' ? (remoteFailureKind(what) ?? 'remote') : 'input';
    this.file = file;
    this.line = line;
    this.detail = what;
  }
}
