// The typed Dockerfile model: what the parser produces and the converter consumes.
// Every instruction carries its source range so that any later error, progress line or
// trace entry can point back at `Dockerfile:LINE`.

/** 1-based line numbers, inclusive; a continued instruction spans several lines. */
export interface SourceRange {
  startLine: number;
  endLine: number;
}

/** A word as written, before variable expansion (expansion happens in the converter,
 * which knows the ARG/ENV scope at that point of the stage). */
export type RawWord = string;

/** `--name=value` flags given on an instruction (`--from`, `--chown`, `--mount`...), as
 * written: the parser has checked them (known to the keyword, not repeated unless
 * repeatable, a value where one is needed) and also gives them typed on the instruction
 * (RunInstruction.mounts, CopyInstruction.chown...). A flag given without a value maps to
 * `true`; repeated flags keep every value. */
export interface InstructionFlag {
  name: string;
  value: string | true;
  range: SourceRange;
}

interface InstructionBase {
  /** Upper-case keyword, e.g. `RUN`. */
  keyword: string;
  /** The instruction's original text, continuations joined, for progress names and traces. */
  text: string;
  range: SourceRange;
  flags: InstructionFlag[];
}

/** Shell form (`RUN echo hi`) keeps the command as one string for the shell;
 * exec form (`RUN ["echo", "hi"]`) is a JSON array of words. */
export type CommandForm =
  | { form: 'shell'; command: string }
  | { form: 'exec'; args: string[] };

/** A heredoc attached to an instruction (`<<EOF`): filled in by the parser for issue 3. */
export interface Heredoc {
  name: string;
  content: string;
  /** Quoted delimiter (`<<"EOF"`): no variable expansion inside. */
  expand: boolean;
  /** `<<-`: leading tabs stripped. */
  chomp: boolean;
}

export interface FromInstruction extends InstructionBase {
  keyword: 'FROM';
  image: RawWord;
  /** `AS name`, lower-cased as Docker does. */
  stageName?: string;
  platform?: RawWord;
}

export interface RunInstruction extends InstructionBase {
  keyword: 'RUN';
  command: CommandForm;
  heredocs: Heredoc[];
  /** `--mount` values as written, one per flag, in order: decode each with `parseMount`
   * in the stage's scope (see run-options.ts). */
  mounts: RawWord[];
  /** `--network` as written: `networkMode` decodes it. */
  network?: string;
  /** `--security` as written: `securityMode` decodes it. */
  security?: string;
}

export interface CmdInstruction extends InstructionBase {
  keyword: 'CMD';
  command: CommandForm;
}

export interface EntrypointInstruction extends InstructionBase {
  keyword: 'ENTRYPOINT';
  command: CommandForm;
}

export interface ShellInstruction extends InstructionBase {
  keyword: 'SHELL';
  /** SHELL only has the exec form. */
  args: string[];
}

/** COPY and ADD: sources then destination, as raw words, and their flags. A flag that
 * the keyword does not take is never set (the parser rejects it). */
export interface CopyInstruction extends InstructionBase {
  keyword: 'COPY' | 'ADD';
  sources: RawWord[];
  destination: RawWord;
  heredocs: Heredoc[];
  /** COPY `--from`: a stage name, a stage index or an image, never expanded. */
  from?: string;
  chown?: RawWord;
  chmod?: RawWord;
  /** Booleans: `--link` alone is true, `--link=false` false, not given undefined. */
  link?: boolean;
  /** COPY `--parents`. */
  parents?: boolean;
  /** `--exclude` patterns, one per flag. */
  exclude: RawWord[];
  /** ADD `--checksum`. */
  checksum?: RawWord;
  /** ADD `--keep-git-dir`. */
  keepGitDir?: boolean;
  /** ADD `--unpack`. */
  unpack?: boolean;
}

export interface KeyValue {
  key: RawWord;
  value: RawWord;
}

export interface EnvInstruction extends InstructionBase {
  keyword: 'ENV';
  pairs: KeyValue[];
}

export interface LabelInstruction extends InstructionBase {
  keyword: 'LABEL';
  pairs: KeyValue[];
}

export interface ArgInstruction extends InstructionBase {
  keyword: 'ARG';
  /** `ARG A B=1` declares several; a missing default is `undefined`. */
  args: { name: string; defaultValue?: RawWord }[];
}

export interface WorkdirInstruction extends InstructionBase {
  keyword: 'WORKDIR';
  path: RawWord;
}

export interface UserInstruction extends InstructionBase {
  keyword: 'USER';
  user: RawWord;
}

export interface ExposeInstruction extends InstructionBase {
  keyword: 'EXPOSE';
  ports: RawWord[];
}

export interface VolumeInstruction extends InstructionBase {
  keyword: 'VOLUME';
  paths: RawWord[];
}

export interface StopsignalInstruction extends InstructionBase {
  keyword: 'STOPSIGNAL';
  signal: RawWord;
}

export interface HealthcheckInstruction extends InstructionBase {
  keyword: 'HEALTHCHECK';
  /** `HEALTHCHECK NONE` disables the base image's check. */
  check:
    | { kind: 'none' }
    | {
        kind: 'cmd';
        command: CommandForm;
        /** Durations as Go would print them parsed, in nanoseconds; undefined = not given. */
        intervalNs?: number;
        timeoutNs?: number;
        startPeriodNs?: number;
        startIntervalNs?: number;
        retries?: number;
      };
}

export interface OnbuildInstruction extends InstructionBase {
  keyword: 'ONBUILD';
  /** The trigger as Docker records it in the config: the instruction text after ONBUILD. */
  trigger: string;
}

/** Accepted and recorded but without effect on the build (e.g. MAINTAINER). */
export interface MaintainerInstruction extends InstructionBase {
  keyword: 'MAINTAINER';
  maintainer: string;
}

export type Instruction =
  | FromInstruction
  | RunInstruction
  | CmdInstruction
  | EntrypointInstruction
  | ShellInstruction
  | CopyInstruction
  | EnvInstruction
  | LabelInstruction
  | ArgInstruction
  | WorkdirInstruction
  | UserInstruction
  | ExposeInstruction
  | VolumeInstruction
  | StopsignalInstruction
  | HealthcheckInstruction
  | OnbuildInstruction
  | MaintainerInstruction;

/** Every instruction keyword, upper-case (a Dockerfile may write them in any case). */
export const KEYWORDS: readonly Instruction['keyword'][] = [
  'ADD',
  'ARG',
  'CMD',
  'COPY',
  'ENTRYPOINT',
  'ENV',
  'EXPOSE',
  'FROM',
  'HEALTHCHECK',
  'LABEL',
  'MAINTAINER',
  'ONBUILD',
  'RUN',
  'SHELL',
  'STOPSIGNAL',
  'USER',
  'VOLUME',
  'WORKDIR',
];

export interface Stage {
  /** 0-based position among the FROMs. */
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  from: FromInstruction;
  /** Instructions after FROM, in order. */
  instructions: Instruction[];
}

export interface ParserDirectives {
  /** `# escape=` (default `\`). */
  escape: '\\' | '`';
  /** `# syntax=` as written, if present. */
  syntax?: string;
  /** 1-based line of the `# syntax=` directive, when present. */
  syntaxLine?: number;
  /** `# check=` among the leading comments, as written (e.g. `skip=JSONArgsRecommended`).
   * BuildKit v0.13 does not know it: it is a comment that ends the directives (a later
   * `# escape=` is not one), and no lint rule runs. */
  check?: string;
}

export interface DockerfileAst {
  fileName: string;
  directives: ParserDirectives;
  /** ARGs before the first FROM: global scope, usable in FROM. */
  globalArgs: ArgInstruction[];
  stages: Stage[];
}
