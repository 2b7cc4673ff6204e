// Conversion errors carry the Dockerfile location they are about.

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

export class ConvertError extends Error {
  override readonly name = 'ConvertError';
  readonly code: ConvertErrorCode;
  readonly file: string;
  /** 1-based line of the instruction; 0 when the error is not about one line (e.g. --target). */
  readonly line: number;
  /** The message without the location prefix. */
  readonly detail: string;

  constructor(code: ConvertErrorCode, file: string, line: number, what: string, options?: { cause?: unknown }) {
    super(line > 0 ? `${file}:${line}: ${what}` : `${file}: ${what}`, options);
    this.code = code;
    this.file = file;
    this.line = line;
    this.detail = what;
  }
}
