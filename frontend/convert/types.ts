// The converter's public types (the CLI is written against them: keep them stable).
import type { DockerfileAst } from '../../dockerfile-parser/index.js';
import type { LlbDefinition } from '../llb/index.js';
import type { BuildStep } from '../../model/index.js';

export type { BuildStep };

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** The daemon as the converter sees it. */
export interface DaemonCapabilities {
  /** Enabled LLB caps (the gateway's Ping). */
  llb: readonly string[];
  /** Enabled frontend API caps (the gateway's Ping). */
  frontend?: readonly string[];
  /** dockerd's Engine API version ("1.45"), when the image goes to dockerd. Undefined:
   * the image config is not limited by dockerd (buildkitd, or no daemon). */
  engineApiVersion?: string;
  /** How messages name the daemon: "dockerd 20.10.24's BuildKit (v0.8.x)". */
  name: string;
  /** The platforms its workers execute (Control.ListWorkers: the native one and those it
   * has an emulator for). Undefined: not known, RUN is not checked. */
  platforms?: readonly Platform[];
}

export interface ResolvedImage {
  digest?: string;
  /** The base image's whole config JSON: {architecture, os, config: {Env, Cmd, ...}, rootfs, history}. */
  config: Record<string, unknown>;
}

/** ref is fully qualified, e.g. docker.io/library/busybox:local. */
/** `pull`: ask the registry even when the daemon has the image (`--pull`). */
export type ImageResolveMode = 'default' | 'pull';

export type ImageConfigResolver = (ref: string, platform: Platform, resolveMode?: ImageResolveMode) => Promise<ResolvedImage | undefined>;

/** A ulimit every RUN gets (`--ulimit NAME=SOFT[:HARD]`; NAME as Docker spells it, e.g. `nofile`). */
export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

/** What the build's flags set on every RUN and base image, as BuildKit's own frontend takes
 * them from buildx (`add-hosts`, `shm-size`, `ulimit`, `no-cache`, `image-resolve-mode`). */
export interface BuildExecDefaults {
  /** `--pull`: base images resolved in the registry, never from the daemon's store. */
  pull?: boolean;
  /** `--add-host HOST:IP`: extra /etc/hosts lines of every RUN. */
  extraHosts?: { host: string; ip: string }[];
  /** `--shm-size`: bytes of the /dev/shm tmpfs of every RUN (cap exec.mount.tmpfs.size). */
  shmSize?: number;
  /** `--ulimit` (cap exec.meta.ulimit). */
  ulimits?: Ulimit[];
  /** `build --enforce`: the cgroup every RUN's container is created under (cap
   * exec.meta.cgroup.parent), where the enforcement's programs are attached. */
  cgroupParent?: string;
  /** `build --enforce` with rules for selected steps: the cgroup parent of each RUN, by its
   * first Dockerfile line (the parent of that RUN's own set of rules); a RUN not listed gets
   * `cgroupParent`, or none. */
  cgroupParentByLine?: Readonly<Record<number, string>>;
  /** `--no-cache-filter STAGE`: the RUNs of these stages (AS names, any case) ignore the cache. */
  noCacheFilter?: string[];
}

/** One entry of a build-context directory, as lstat sees it (a symlink is not followed). */
export interface ContextDirEntry {
  name: string;
  type: 'dir' | 'file' | 'symlink' | 'other';
}

/**
 * Lists a directory of the build context: `dir` is relative, `/`-separated and clean (''
 * is the context root) and only ever names directories the reader reported as 'dir'.
 * Undefined when it does not exist. Entries are unfiltered: the converter applies the
 * .dockerignore patterns (excludePatterns) itself.
 */
export type ContextDirReader = (dir: string) => Promise<readonly ContextDirEntry[] | undefined>;

/**
 * A named build context (`--build-context NAME=...`), as BuildKit's Dockerfile frontend
 * takes them: a FROM or COPY --from naming NAME, or a stage named NAME, uses it instead.
 * - local: a directory the session serves as `local://<name>`;
 * - docker-image: an image reference (resolved like a FROM);
 * - oci-layout: an image in an OCI layout the session serves as content store `storeId`,
 *   by the digest of its manifest, with its config read from the layout.
 */
export type NamedContext =
  | { type: 'local'; name: string; excludePatterns: string[] }
  | { type: 'docker-image'; ref: string }
  | { type: 'oci-layout'; storeId: string; digest: string; config: Record<string, unknown> };

export interface ConvertOptions {
  dockerfile: DockerfileAst;
  buildArgs: Record<string, string>;
  /** --label K=V, merged into config Labels after the Dockerfile's. */
  labels: Record<string, string>;
  target?: string;
  /** RUN network: default = sandbox (NetMode UNSET). */
  network: 'default' | 'host' | 'none';
  /** ignore_cache on every op's metadata. */
  noCache: boolean;
  /** .dockerignore patterns -> local.excludepatterns. */
  excludePatterns: string[];
  /** Default 'context' -> identifier local://context. */
  contextName?: string;
  /**
   * The build's session id, written into the context source (`local.session`) as
   * BuildKit's own frontend does. It makes the source, and so every vertex that reads the
   * context, this build's own: without it two concurrent builds of the same Dockerfile on
   * different contexts share those vertices, and both get the files of one session. Left
   * out (the convert command, no daemon): the LLB is the same for every run.
   */
  sessionId?: string;
  /** Named contexts by name as given (`NAME` or `NAME::os/arch`). */
  namedContexts?: Readonly<Record<string, NamedContext>>;
  /** The platform to build for (TARGETPLATFORM, the LLB's constraints, the image config).
   * Default linux/amd64. */
  platform?: Platform;
  /** The daemon's own platform (BUILDPLATFORM). Default linux/amd64. */
  buildPlatform?: Platform;
  /** Absent (convert command, no daemon): base config treated as empty. */
  resolveImageConfig?: ImageConfigResolver;
  /** The build context, for what a daemon without copy include patterns (BuildKit v0.8)
   * cannot do itself: the wildcards of COPY --parents (expanded here, one copy per match).
   * Only read when such a wildcard is used; without it, one is an error. */
  readContextDir?: ContextDirReader;
  /** What the daemon's BuildKit supports (its gateway's caps) and how to name it. Absent
   * (`tracebuild convert`, no daemon): the newest capabilities tracebuild supports. */
  capabilities?: DaemonCapabilities;
  /** --pull, --add-host, --shm-size, --ulimit, --no-cache-filter. */
  execDefaults?: BuildExecDefaults;
}

export interface Conversion {
  definition: LlbDefinition;
  /** The full image config JSON sent as containerimage.config. */
  imageConfig: Record<string, unknown>;
  /** Every instruction that produced a vertex (FROM source, RUN exec, COPY/ADD file op, WORKDIR mkdir). */
  steps: BuildStep[];
  baseImages: { ref: string; digest?: string }[];
  localSources: { name: string; excludePatterns: string[] }[];
  /** Entitlements the solve must request (Control SolveRequest.Entitlements): 'network.host'
   * when any exec in the graph uses host networking (RUN --network=host or --network host),
   * 'security.insecure' for RUN --security=insecure. */
  entitlements: ('network.host' | 'security.insecure')[];
  /** Secrets the execs mount (RUN --mount=type=secret), by session id; one entry per id and
   * Dockerfile line. The LLB holds only the ids, never values. A missing optional secret
   * is fine; a missing required one fails the build. */
  secrets: { id: string; required: boolean; line: number }[];
  /** SSH agent ids the execs mount (RUN --mount=type=ssh; 'default' when no id=). */
  sshIds: string[];
  /** The same mounts one entry per id and Dockerfile line, with whether each is required. */
  ssh: { id: string; required: boolean; line: number }[];
}
