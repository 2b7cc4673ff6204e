// What `cli/` uses from its sibling modules, as types: the command code is written against
// these and gets the real implementations injected by `modules.ts` (loaded on first use, so
// `--help` loads no gRPC), so it type-checks and unit-tests without the daemon. Every type
// here is the siblings' own (imported as a type: nothing is loaded) or derived from one;
// the two opaque things the cli only passes along (the parsed Dockerfile and the LLB
// definition) are generic parameters, so tests can inject fakes and nothing is cast.

import type {
  ContextDirEntry,
  CacheEntry,
  DaemonInfo,
  NamedContext,
  ExportFileSink,
  ExportTarget,
  ConvertOptions as FrontendConvertOptions,
  Conversion as FrontendConversion,
  GatewayApi,
  GatewaySolveRequest,
  Platform,
  SolveResult,
  StatusBatch,
  VertexLogLine,
  VertexStatusUpdate,
  VertexUpdate,
} from '../frontend/index.js';
import type { BuildStep, ServedFile } from '../model/index.js';
import type { AgentToolkit, TracerToolkit } from './trace-contracts.js';

export type {
  BuildStep,
  ContextDirEntry,
  CacheEntry,
  DaemonInfo,
  ExportFileSink,
  ExportTarget,
  GatewayApi,
  NamedContext,
  Platform,
  ServedFile,
  SolveResult,
  StatusBatch,
  VertexLogLine,
  VertexStatusUpdate,
  VertexUpdate,
};

/** The little of the parsed Dockerfile the cli looks at itself (entitlements). */
export interface DockerfileAstView {
  /** The parser directives: `# syntax=` is noted (tracebuild is the frontend). */
  directives?: { syntax?: string; syntaxLine?: number };
  stages: {
    /** Lower-cased `AS` name, if any (stages are in the order of their FROMs). */
    name?: string;
    /** The FROM (optional: views made by hand may lack it). */
    from?: { range: { startLine: number } };
    instructions: {
      keyword: string;
      flags: { name: string; value: string | true }[];
      range: { startLine: number };
    }[];
  }[];
}

export type NetworkMode = FrontendConvertOptions['network'];
/** --pull, --add-host, --shm-size, --ulimit, --no-cache-filter, as the converter takes them. */
export type BuildExecDefaults = NonNullable<FrontendConvertOptions['execDefaults']>;

/** The converter's options, with the parsed Dockerfile as the cli sees it. */
export type ConvertOptions<Ast> = Omit<FrontendConvertOptions, 'dockerfile'> & { dockerfile: Ast };

/** What the cli reads of a conversion, with the LLB definition opaque. */
export type Conversion<Def> = Pick<FrontendConversion, 'imageConfig' | 'steps' | 'baseImages'> &
  Partial<Pick<FrontendConversion, 'secrets' | 'ssh'>> & { definition: Def };

export interface Exporter {
  /** `moby` (the image store), or an exporter of `-o` (cli/build/exports.ts). */
  type: string;
  /** moby's `name`: comma-separated normalized references; absent when the image is untagged. */
  attrs: Record<string, string>;
}

/** A gateway solve, with the LLB definition opaque. */
export type SolveOptions<Def> = Omit<GatewaySolveRequest, 'frontend' | 'exporter'> & {
  exporter?: Exporter | undefined;
  frontend: (gateway: GatewayApi) => Promise<{ definition: Def; imageConfig: Record<string, unknown> }>;
};

/** Listens to a solve besides the progress display (the trace phase: vertex times, served files). */
export interface SolveObserver {
  onStatus?(batch: StatusBatch): void;
  onFileServed?(file: ServedFile): void;
}

export interface BuildKitClient<Def> {
  /** What the client learned about the daemon when it connected (its versions). */
  readonly daemon?: DaemonInfo;
  solve(options: SolveOptions<Def>): Promise<SolveResult>;
  /** The daemon's workers and the platforms they execute (absent in test fakes). */
  listWorkers?(): Promise<{ platforms: Platform[] }[]>;
  close(): void | Promise<void>;
}

/** Everything the build and convert commands need from the other modules. */
export interface Toolchain<Ast extends DockerfileAstView, Def, Endpoint = unknown> {
  parseDockerfile(text: string, fileName: string): Ast;
  convertDockerfile(options: ConvertOptions<Ast>): Promise<Conversion<Def>>;
  describeConversion(conversion: Conversion<Def>): unknown;
  endpointFromEnv(env: NodeJS.ProcessEnv): Endpoint;
  connectBuildKit(endpoint: Endpoint): Promise<BuildKitClient<Def>>;
  /** The eBPF tracer (trace-contracts.ts), or how to load it when a build is traced; without
   * it a build can only run with --no-trace. */
  tracer?: TracerToolkit | (() => Promise<TracerToolkit>);
  /** A tracebuild agent in front of a remote daemon (trace-contracts.ts), or how to load its
   * client when a build is traced; without it, builds on tcp:// daemons use the local probe. */
  agent?: AgentToolkit<Endpoint> | (() => Promise<AgentToolkit<Endpoint>>);
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the cli never looks inside these two
export type AnyToolchain = Toolchain<DockerfileAstView, any, any>;
