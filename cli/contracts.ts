// Structural types for what `cli/` uses from its sibling modules (dockerfile-parser,
// frontend/convert, frontend/buildkit). The command code is written against these and gets
// the real implementations injected by `modules.ts`, so it type-checks and unit-tests
// without the daemon. The two opaque types the cli only passes along (the parsed
// Dockerfile and the LLB definition) are generic parameters, so nothing is cast.

import type { TracerToolkit } from './trace-contracts.js';

/** The little of the parsed Dockerfile the cli looks at itself (entitlements). */
export interface DockerfileAstView {
  stages: {
    instructions: {
      keyword: string;
      flags: { name: string; value: string | true }[];
      range: { startLine: number };
    }[];
  }[];
}

export interface Platform {
  os: string;
  architecture: string;
}

export type ResolveImageConfig = (
  ref: string,
  platform: Platform,
) => Promise<{ digest?: string; config: Record<string, unknown> } | undefined>;

export type NetworkMode = 'default' | 'host' | 'none';

/** One entry of a build-context directory, as lstat sees it (a symlink is not followed). */
export interface ContextDirEntry {
  name: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
}

export interface ConvertOptions<Ast> {
  dockerfile: Ast;
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  network: NetworkMode;
  noCache: boolean;
  excludePatterns: string[];
  /** The build's session id, for the context source; absent for `convert` (no daemon). */
  sessionId?: string;
  resolveImageConfig?: ResolveImageConfig;
  /** Lists a directory of the build context (relative, clean; '' is the root), for the
   * wildcards of COPY --parents, which BuildKit v0.8 cannot expand; undefined: no such dir. */
  readContextDir?: (dir: string) => Promise<readonly ContextDirEntry[] | undefined>;
}

/** One Dockerfile instruction as converted: the vertex digest it became and where it came from. */
export interface ConversionStep {
  vertex: string;
  name: string;
  instruction: string;
  keyword: string;
  line: number;
  endLine: number;
  stage: string;
  stageIndex: number;
  /** RUN: the exec op's meta.args as sent (the tracer matches the first exec against them). */
  execArgs?: string[];
  /** COPY/ADD: sources (variables expanded), destination, and --from as given. */
  copySources?: string[];
  copyDestination?: string;
  copyFrom?: string;
}

export interface Conversion<Def> {
  definition: Def;
  imageConfig: Record<string, unknown>;
  steps: ConversionStep[];
  baseImages: { ref: string; digest?: string }[];
  /** Secret ids the LLB mounts, with the line that mounts them. */
  secrets?: { id: string; required: boolean; line: number }[];
}

// ---- the BuildKit Status stream --------------------------------------------------------

export interface StatusVertex {
  digest: string;
  inputs: string[];
  name: string;
  cached: boolean;
  started?: Date;
  completed?: Date;
  /** Exact started/completed, ns since the Unix epoch (the tracer matches kernel times). */
  startedNs?: bigint;
  completedNs?: bigint;
  error?: string;
}

export interface StatusVertexStatus {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  timestamp?: Date;
  started?: Date;
  completed?: Date;
}

export interface StatusVertexLog {
  vertex: string;
  timestamp?: Date;
  /** 1 stdout, 2 stderr. */
  stream: number;
  data: Uint8Array;
}

export interface StatusBatch {
  vertexes: StatusVertex[];
  statuses: StatusVertexStatus[];
  logs: StatusVertexLog[];
}

// ---- the BuildKit client ---------------------------------------------------------------

export interface Gateway {
  /** This build's session: the context source must name it (see ConvertOptions.sessionId). */
  readonly sessionId: string;
  resolveImageConfig: ResolveImageConfig;
}

export interface Exporter {
  type: 'moby';
  /** `name`: comma-separated normalized references; absent when the image is untagged. */
  attrs: Record<string, string>;
}

export interface SolveOptions<Def> {
  contextDir: string;
  dockerignore: string[];
  exporter: Exporter | undefined;
  entitlements: string[];
  frontend: (gateway: Gateway) => Promise<{ definition: Def; imageConfig: Record<string, unknown> }>;
  onStatus: (batch: StatusBatch) => void;
  /** Every regular file the context session sent (the trace's COPY/ADD record). */
  onFileServed?: (file: ServedFile) => void;
  /** Served by the session's Secrets service, never put in the LLB. */
  secrets?: Record<string, Uint8Array>;
  signal?: AbortSignal;
}

export interface SolveResult {
  exporterResponse: Record<string, string>;
}

/** Listens to a solve besides the progress display (the trace phase: vertex times, served files). */
export interface SolveObserver {
  onStatus?(batch: StatusBatch): void;
  onFileServed?(file: ServedFile): void;
}

export interface ServedFile {
  /** Relative to the context, `/`-separated. */
  path: string;
  size: number;
  /** Lower-case hex. */
  sha256: string;
}

export interface BuildKitClient<Def> {
  solve(options: SolveOptions<Def>): Promise<SolveResult>;
  close(): void | Promise<void>;
}

/** Constructors of the siblings' typed errors, for `instanceof` in the exit-code table. */
export type ErrorClass = abstract new (...args: never[]) => Error;

export interface SiblingErrorClasses {
  DockerfileError: ErrorClass;
  ConvertError: ErrorClass;
  SolveError: ErrorClass;
  BuildKitConnectionError: ErrorClass;
}

/** Everything the build and convert commands need from the other modules. */
export interface Toolchain<Ast extends DockerfileAstView, Def, Endpoint = unknown> {
  parseDockerfile(text: string, fileName: string): Ast;
  convertDockerfile(options: ConvertOptions<Ast>): Promise<Conversion<Def>>;
  describeConversion(conversion: Conversion<Def>): unknown;
  endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint;
  connectBuildKit(endpoint: Endpoint): Promise<BuildKitClient<Def>>;
  errors: SiblingErrorClasses;
  /** The eBPF tracer (trace-contracts.ts); without it a build can only run with --no-trace. */
  tracer?: TracerToolkit;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the cli never looks inside these two
export type AnyToolchain = Toolchain<DockerfileAstView, any, any>;
