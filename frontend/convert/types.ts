// The converter's public types (the CLI is written against them: keep them stable).
import type { DockerfileAst } from '../../dockerfile-parser/index.js';
import type { LlbDefinition } from '../llb/index.js';
import type { BuildStep } from '../../model/index.js';
import type { DaemonCapabilities } from './capabilities.js';

export type { BuildStep, DaemonCapabilities };

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ResolvedImage {
  digest?: string;
  /** The base image's whole config JSON: {architecture, os, config: {Env, Cmd, ...}, rootfs, history}. */
  config: Record<string, unknown>;
}

/** ref is fully qualified, e.g. docker.io/library/busybox:local. */
export type ImageConfigResolver = (ref: string, platform: Platform) => Promise<ResolvedImage | undefined>;

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
  /** Default linux/amd64. */
  platform?: Platform;
  /** Absent (convert command, no daemon): base config treated as empty. */
  resolveImageConfig?: ImageConfigResolver;
  /** The build context, for what a daemon without copy include patterns (BuildKit v0.8)
   * cannot do itself: the wildcards of COPY --parents (expanded here, one copy per match).
   * Only read when such a wildcard is used; without it, one is an error. */
  readContextDir?: ContextDirReader;
  /** What the daemon's BuildKit supports (its gateway's caps) and how to name it. Absent
   * (`tracebuild convert`, no daemon): the newest capabilities tracebuild supports. */
  capabilities?: DaemonCapabilities;
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
}
