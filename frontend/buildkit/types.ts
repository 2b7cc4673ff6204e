// Public types of the BuildKit client. The shapes are fixed: the CLI is written against
// them. Timestamps are carried twice: as Date (millisecond precision, convenient) and as
// nanoseconds since the Unix epoch (bigint, exact), because the tracer matches vertex
// timings to kernel events that are far finer than a millisecond.
import type { ServedFile, Vertex } from '../../model/index.js';

export type { ServedFile };

/** Where BuildKit is: dockerd's embedded BuildKit (`/grpc` upgrade) or a standalone buildkitd. */
export type Endpoint = {
  kind: 'docker' | 'buildkitd';
  /** As given: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:1234`. */
  address: string;
};

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface WorkerInfo {
  id: string;
  platforms: { os: string; architecture: string }[];
}

/** What the client learned about the daemon when it connected (daemon.ts): for messages
 * and the trace, never for gating features (that is what BuildKitCapabilities is for). */
export interface DaemonInfo {
  /** dockerd's embedded BuildKit, or a standalone buildkitd. */
  engine: 'dockerd' | 'buildkitd';
  /** dockerd's version (Engine API `GET /version`), when the endpoint is dockerd. */
  version?: string;
  /** dockerd's Engine API version, e.g. "1.45". */
  apiVersion?: string;
  /** BuildKit's version from Control.Info (v0.11+), as reported (may be "v0.0.0+unknown"). */
  buildkitVersion?: string;
  /** How messages name the daemon, e.g. "dockerd 20.10.24's BuildKit (v0.8.x)". */
  description: string;
}

/** What the daemon's BuildKit supports, from the gateway's Ping (enabled caps only). */
export interface BuildKitCapabilities {
  /** LLB caps (pb caps, e.g. "exec.secretenv", "file.copy.includeexcludepatterns"). */
  llb: string[];
  /** Frontend API caps (e.g. "solve.base", "frontend.inputs"). */
  frontend: string[];
}

export interface BuildKitClient {
  readonly endpoint: Endpoint;
  /** Learned at connect time. */
  readonly daemon: DaemonInfo;
  listWorkers(): Promise<WorkerInfo[]>;
  solve(request: GatewaySolveRequest): Promise<SolveResult>;
  /** Releases every handle (gRPC channel, local proxy); the process can then exit. */
  close(): void;
}

export interface GatewaySolveRequest {
  /** Absolute path of the build context. */
  contextDir: string;
  /**
   * .dockerignore patterns (Docker semantics: `#` comments, `!` exceptions, `**`), one
   * per element; raw lines of a .dockerignore file are accepted as they are. The sender
   * applies them on top of the daemon's own include/exclude/followpaths.
   */
  dockerignore: string[];
  /** e.g. `{ type: 'moby', attrs: { name: 'docker.io/library/a:latest' } }`. */
  exporter?: { type: string; attrs: Record<string, string> };
  /** Several exporters at once (BuildKit v0.13+), instead of `exporter`. */
  exporters?: { type: string; attrs: Record<string, string> }[];
  /** `--cache-from` / `--cache-to` (e.g. `{ type: 'registry', attrs: { ref } }`): sent in
   * Control.Solve's CacheOptions, the imports also with every gateway solve. */
  cache?: { imports: CacheEntry[]; exports: CacheEntry[] };
  /** Where the daemon's FileSend calls go, by exporter index (local, tar, oci, docker). */
  exportTargets?: ReadonlyMap<number, ExportTarget>;
  /** e.g. `['network.host']`. */
  entitlements: string[];
  /**
   * Called once the gateway is open; builds the LLB (resolving base image configs
   * through `gateway`). An error thrown here is returned to the daemon (so the job ends
   * cleanly) and then rethrown unchanged by `solve`.
   */
  frontend(gateway: GatewayApi): Promise<{ definition: LlbDefinition; imageConfig: Record<string, unknown> }>;
  onStatus(batch: StatusBatch): void;
  /** Every regular file the filesync sender sent, with the sha256 of the bytes sent. */
  onFileServed?(file: ServedFile): void;
  /** Served by Secrets.GetSecret; an unknown id answers NOT_FOUND. */
  secrets?: Record<string, Uint8Array>;
  /** Cancels the solve (Ctrl-C): the daemon job is cancelled and everything closed. */
  signal?: AbortSignal;
}

/** A cache import or export as BuildKit takes it (CacheOptionsEntry). */
export interface CacheEntry {
  type: string;
  attrs: Record<string, string>;
}

/** Where one exporter's result is written on this side (filesend.ts). */
export type ExportTarget = { kind: 'directory'; path: string } | { kind: 'file'; open(): Promise<ExportFileSink> };

/** One exported file being written: completed by close(), discarded by abort(). */
export interface ExportFileSink {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface LlbDefinition {
  /** Marshalled pb.Op messages; the last one is the terminal op. */
  def: Uint8Array[];
  /** Keyed by vertex digest `sha256:<hex>`. */
  metadata: Record<string, { ignore_cache?: boolean; description?: Record<string, string> }>;
}

export interface GatewayApi {
  /**
   * The id of this build's session. A `local://` source must name it (`local.session`):
   * without it, two builds whose LLB is otherwise identical share one vertex in the
   * daemon, and the files come from whichever session answers first.
   */
  readonly sessionId: string;
  /** The daemon's capabilities, from the gateway's Ping (answered before the frontend runs).
   * Absent (a test's fake gateway): the converter assumes the newest it supports. */
  readonly capabilities?: BuildKitCapabilities;
  /** The daemon as connect learned it (versions, for messages). */
  readonly daemon?: DaemonInfo;
  resolveImageConfig(ref: string, platform: Platform): Promise<{ digest?: string; config: Record<string, unknown> }>;
}

export interface SolveResult {
  exporterResponse: Record<string, string>;
}

export interface StatusBatch {
  vertexes: VertexUpdate[];
  statuses: VertexStatusUpdate[];
  logs: VertexLogLine[];
}

/** A vertex as the Status stream reports it: always with its inputs and name (model/build.ts). */
export type VertexUpdate = Vertex & Required<Pick<Vertex, 'inputs' | 'name'>>;

export interface VertexStatusUpdate {
  id: string;
  vertex: string;
  name: string;
  current: number;
  total: number;
  timestamp?: Date;
  started?: Date;
  completed?: Date;
  timestampNs?: bigint;
  startedNs?: bigint;
  completedNs?: bigint;
}

export interface VertexLogLine {
  vertex: string;
  timestamp?: Date;
  timestampNs?: bigint;
  /** 1 stdout, 2 stderr. */
  stream: number;
  data: Uint8Array;
}
