// Typed errors of the Dockerfile parser. Every DockerfileError names the file and the
// 1-based line where the offending instruction starts, and its message is always
// `${file}:${line}: ${what is wrong}` so that callers can print it as is.
import { TracebuildError, type ExitKind } from '../common/index.js';

export type DockerfileErrorCode =
  /** The file has no instruction at all (empty, or only comments/whitespace). */
  | 'empty-dockerfile'
  /** A keyword that is not a Dockerfile instruction. */
  | 'unknown-instruction'
  /** Only ARGs and no FROM: nothing to build. */
  | 'no-from'
  /** An instruction other than ARG before the first FROM. */
  | 'instruction-before-from'
  /** A required argument is missing (`ENV` with no value, `COPY x`...). */
  | 'missing-arguments'
  /** More arguments than the instruction accepts, or arguments where none are allowed. */
  | 'too-many-arguments'
  /** A line continuation at the end of the file left an instruction without arguments. */
  | 'unterminated-continuation'
  /** An opening quote without its closing quote (ENV/LABEL/ARG values). */
  | 'unterminated-quote'
  /** A heredoc whose terminator line never comes. */
  | 'unterminated-heredoc'
  /** An unknown flag, a repeated flag, a missing or malformed flag value. */
  | 'invalid-flag'
  /** A JSON array that is valid JSON but not an array of strings, or a form that must be JSON. */
  | 'invalid-json'
  /** A HEALTHCHECK duration that Go's time.ParseDuration would reject or that is too small. */
  | 'invalid-duration'
  /** A malformed or repeated parser directive (`# escape=x`). */
  | 'invalid-directive'
  /** `FROM x AS 1bad`, or the same stage name twice. */
  | 'invalid-stage-name'
  /** Anything else Docker rejects in an instruction's syntax (HEALTHCHECK type, ONBUILD trigger...). */
  | 'invalid-instruction';

export interface DockerfileErrorOptions {
  code: DockerfileErrorCode;
  file: string;
  /** 1-based line; for a multi-line instruction, the line it starts on. */
  line: number;
  column?: number;
  /** What is wrong, without the location prefix. */
  detail: string;
  cause?: unknown;
}

/** A Dockerfile that does not parse is the user's input: it exits like any bad input. */
export class DockerfileError extends TracebuildError<DockerfileErrorCode> {
  override readonly name = 'DockerfileError';
  readonly exit: ExitKind = 'input';
  readonly file: string;
  readonly line: number;
  readonly column?: number;
  /** The message without the `file:line: ` prefix. */
  readonly detail: string;

  constructor(opts: DockerfileErrorOptions) {
    super(opts.code, `${opts.file}:${opts.line}: ${opts.detail}`, {
      ...(opts.cause === undefined ? {} : { cause: opts.cause }),
      location: { file: opts.file, line: opts.line, ...(opts.column === undefined ? {} : { column: opts.column }) },
    });
    this.file = opts.file;
    this.line = opts.line;
    if (opts.column !== undefined) this.column = opts.column;
    this.detail = opts.detail;
  }
}

export type ExpansionErrorCode =
  /** `'abc`, `"abc`: no closing quote. */
  | 'unterminated-quote'
  /** `${abc` or `${x:-abc`: no closing brace. */
  | 'missing-brace'
  /** `${}`, `${:}`, `${{x}`: no usable variable name. */
  | 'bad-substitution'
  /** `${x:=y}`, `${x:y}`, `${x^}`: a modifier Docker does not support. */
  | 'unsupported-modifier'
  /** `${x?msg}` / `${x:?msg}` with x unset (or empty). */
  | 'required-variable'
  /** Substitutions nested deeper than MAX_EXPANSION_DEPTH. */
  | 'too-deep'
  /** A value longer than MAX_EXPANDED_LENGTH, or a conversion's expansions past their
   * total (ExpansionBudget): `ARG A1=${A0}${A0}` doubling itself, say. */
  | 'too-large';

/** Raised by expandWord/expandWords. It carries no location: the caller knows which
 * instruction it was expanding and can wrap it with `DockerfileError` (see `atLocation`). */
export class ExpansionError extends Error {
  override readonly name = 'ExpansionError';
  readonly code: ExpansionErrorCode;
  /** The word being expanded. */
  readonly word: string;

  constructor(code: ExpansionErrorCode, message: string, word: string) {
    super(message);
    this.code = code;
    this.word = word;
  }

  /** The same failure as a located DockerfileError (code `unterminated-quote` or `invalid-instruction`). */
  atLocation(file: string, line: number): DockerfileError {
    return new DockerfileError({
      code: this.code === 'unterminated-quote' ? 'unterminated-quote' : 'invalid-instruction',
      file,
      line,
      detail: this.message,
      cause: this,
    });
  }
}

/** A flag value rejected when the converter decodes it (a `--mount` option, a `--network`
 * or `--security` mode; see run-options.ts). Like ExpansionError it carries no location:
 * the converter, which decides when a value is decoded, locates it. */
export class OptionError extends Error {
  override readonly name = 'OptionError';
}

/** Internal to the parser's passes: a failure before its location is known; the pass
 * that meets it turns it into a DockerfileError at the instruction's line. */
export class ParseFailure extends Error {
  constructor(
    readonly code: DockerfileErrorCode,
    readonly detail: string,
  ) {
    super(detail);
  }
}

export function fail(code: DockerfileErrorCode, detail: string): never {
  throw new ParseFailure(code, detail);
}
