// Public types of the BuildKit client. The shapes are fixed: the CLI is written against
// them. Timestamps are carried twice: as Date (millisecond precision, convenient) and as
// nanoseconds since the Unix epoch (bigint, exact), because the tracer matches vertex
// timings to kernel events that are far finer than a millisecond.
import type { TlsClientFiles } from '../../common/index.js';
import type { ServedFile, Vertex } from '../../model/index.js';

export type { ServedFile };

/** Where BuildKit is: dockerd's embedded BuildKit (`/grpc` upgrade) or a standalone buildkitd. */
export type Endpoint = {
  kind: 'docker' | 'buildkitd';
  /** As given: `unix:///var/run/docker.sock`, `tcp://127.0.0.1:1234`. */
  address: string;
  /** tcp:// over TLS: where the certificates are (common/tls.ts), read when connecting. */
  tls?: TlsClientFiles;
};

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface WorkerInfo {
  id: string;
  /** What it executes: its own platform and those it has an emulator for. */
  platforms: { os: string; architecture: string; variant?: string }[];
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
   * Control.Solve's CacheOptions, the imports also with every gateway solve. A `local`
   * import (attrs `src`: the OCI layout's absolute path, `digest`: the manifest to read)
   * is served by the session as the content store `local:<src>`. */
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
  /**
   * Every regular file the filesync sender sent, with the sha256 of the bytes sent. With
   * it, the session's shared key is new for every build, so the daemon keeps no copy of
   * the context from an earlier one and every file the build uses is served (and
   * reported). Without it, the key is the same for every build of this context directory
   * by this user on this machine, and the daemon asks only for the files whose metadata
   * changed since, as `docker build` and buildx do.
   */
  onFileServed?(file: ServedFile): void;
  /** Served by Secrets.GetSecret; an unknown id answers NOT_FOUND. */
  secrets?: Record<string, Uint8Array>;
  /** Named local directories (`--build-context NAME=DIR`): `local://NAME` sources, with
   * their own .dockerignore patterns. */
  localDirs?: Record<string, { dir: string; dockerignore: string[] }>;
  /** OCI layout directories by store id (`--build-context NAME=oci-layout://DIR`), served
   * as the session's content stores. */
  ociLayouts?: Record<string, string>;
  /** SSH agent sockets by id (`--ssh ID=SOCKET`), forwarded to RUN --mount=type=ssh. */
  sshAgents?: Record<string, string>;
  /** Answers the session's Auth service; without it the daemon pulls anonymously. */
  registryAuth?: RegistryAuthProvider;
  /** Cancels the solve (Ctrl-C): the daemon job is cancelled and everything closed. */
  signal?: AbortSignal;
  /** The build's ref (Control.Solve's Ref), when the caller must know it beforehand (a
   * tracebuild agent traces the build by it); default: a new random one. */
  ref?: string;
  /** gRPC metadata sent with Control.Solve (e.g. to a tracebuild agent). */
  solveMetadata?: Record<string, string>;
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
  /** `resolveMode` 'pull' (--pull): the registry's image even where the daemon has one. */
  resolveImageConfig(ref: string, platform: Platform, resolveMode?: 'default' | 'pull'): Promise<{ digest?: string; config: Record<string, unknown> }>;
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

/** A registry username and secret (password, or an identity token with no username). */
export interface RegistryCredentials {
  username: string;
  secret: string;
}

/** What BuildKit asks of FetchToken: a bearer token for `scopes` from the challenge's realm. */
export interface RegistryTokenRequest {
  host: string;
  realm: string;
  service: string;
  scopes: string[];
}

export interface RegistryToken {
  token: string;
  /** Seconds; undefined when the token server did not say. */
  expiresIn?: number;
  /** Unix seconds, when known. */
  issuedAt?: number;
}

/** Registry credentials for the daemon, asked for by registry host (`host[:port]`; Docker
 * Hub as `registry-1.docker.io`). */
export interface RegistryAuthProvider {
  credentials(host: string): Promise<RegistryCredentials | undefined>;
  fetchToken(request: RegistryTokenRequest): Promise<RegistryToken>;
}
