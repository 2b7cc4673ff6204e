// What the daemon's BuildKit can do, as the converter asks it: the LLB caps its gateway
// announced (Ping's LLBCaps), plus what dockerd's Engine API version says about the image
// config it accepts. Features are gated on these, never on a version number; the daemon's
// name (with its versions) is only used to say which daemon lacks a feature.
//
// Without a daemon (`tracebuild convert`) the conversion is for the newest capabilities
// tracebuild supports (NEWEST_CAPABILITIES); the golden tests pin both that and the
// BuildKit v0.8 output (V0_8_LLB_CAPS, what dockerd 20.10's BuildKit announces).

/** The caps the converter looks at (pb caps IDs, moby/buildkit solver/pb/caps.go). */
import { formatPlatform } from './platform.js';
import type { DaemonCapabilities, Platform } from './types.js';

export const CAP = {
  /** Meta.removeMountStubsRecursive: the mount points an exec made are removed after it,
   * with the parent directories made for them. BuildKit declares this cap but never
   * announces it (not even v0.13): see Capabilities.removeMountStubs. */
  removeMountStubs: 'exec.meta.removemountstubs.recursive',
  /** Source policies: announced by every BuildKit since v0.11, the release that added
   * recursive mount stub removal. */
  sourcePolicy: 'source.policy',
  /** ExecOp.secretenv: RUN --mount=type=secret,env=NAME. */
  secretEnv: 'exec.secretenv',
  /** Mount.TmpfsOpt.size: RUN --mount=type=tmpfs,size=. */
  tmpfsSize: 'exec.mount.tmpfs.size',
  /** Meta.ulimit: --ulimit. */
  ulimit: 'exec.meta.ulimit',
  /** Meta.cgroupParent: build --enforce puts every RUN under a cgroup of its own. */
  cgroupParent: 'exec.meta.cgroup.parent',
  /** RUN --network. */
  network: 'exec.meta.network',
  /** RUN --security. */
  security: 'exec.meta.security',
  /** FileActionCopy include/exclude patterns: COPY --parents and --exclude done by the daemon. */
  copyPatterns: 'file.copy.includeexcludepatterns',
  /** FileActionCopy.modeStr: COPY --chmod=u+x (symbolic). */
  copyModeString: 'file.copy.modestring',
  /** ADD --checksum of an http(s) source. */
  httpChecksum: 'source.http.checksum',
  /** ADD --keep-git-dir. */
  gitKeepDir: 'source.git.keepgitdir',
  /** A git source's subdirectory (`#ref:subdir`) checked out by the daemon. */
  gitSubdir: 'source.git.subdir',
  /** ADD --checksum of a git source (the commit). */
  gitChecksum: 'source.git.checksum',
  /** `oci-layout://` sources read through the session (--build-context NAME=oci-layout://). */
  ociLayout: 'source.ocilayout',
} as const;

export type CapId = (typeof CAP)[keyof typeof CAP];

/** Frontend API caps the converter reads (moby/buildkit frontend/gateway/pb/caps.go). */
export const FRONTEND_CAP = {
  /** The source meta resolver: announced by every BuildKit since v0.13, whose own
   * Dockerfile frontend writes COPY/ADD's --parents, --chown and --chmod into the history. */
  sourceMetaResolver: 'source.metaresolver',
} as const;


/** LLB caps of BuildKit v0.8.x (dockerd 20.10), as its gateway announces them. */
export const V0_8_LLB_CAPS: readonly string[] = [
  'constraints', 'exec.cgroup', 'exec.meta.base', 'exec.meta.network', 'exec.meta.proxyenv', 'exec.meta.security',
  'exec.meta.security.devices.v1', 'exec.meta.setsdefaultpath', 'exec.mount.bind', 'exec.mount.bind.readwrite-nooutput',
  'exec.mount.cache', 'exec.mount.cache.sharing', 'exec.mount.secret', 'exec.mount.selector', 'exec.mount.ssh',
  'exec.mount.tmpfs', 'file.base', 'file.rm.wildcard', 'meta.description', 'meta.exportcache', 'meta.ignorecache',
  'platform', 'source.buildop.llbfilename', 'source.git', 'source.git.fullurl', 'source.git.httpauth',
  'source.git.keepgitdir', 'source.git.knownsshhosts', 'source.git.mountsshsock', 'source.http', 'source.http.checksum',
  'source.http.perm', 'source.image', 'source.image.resolvemode', 'source.local', 'source.local.excludepatterns',
  'source.local.followpaths', 'source.local.includepatterns', 'source.local.sessionid', 'source.local.sharedkeyhint',
  'source.local.unique', 'soruce.http.uidgid',
];

/** LLB caps BuildKit v0.13 (dockerd 26) adds to those of v0.8 that the converter uses. */
const V0_13_ADDED: readonly string[] = [
  CAP.sourcePolicy, CAP.secretEnv, CAP.tmpfsSize, CAP.copyPatterns, CAP.gitSubdir,
  CAP.cgroupParent, CAP.ulimit, 'exec.mount.cache.content', 'file.rm.nofollowsymlink',
  'source.local.differ', 'source.ocilayout', 'source.image.layerlimit',
];

/** What dockerd 26's BuildKit (v0.13) announces, as far as the converter is concerned
 * (measured: Docker 26.1.5's gateway; merge and diff ops are disabled on dockerd's own
 * image store, so they are not in it). */
export const V0_13_LLB_CAPS: readonly string[] = [...V0_8_LLB_CAPS, ...V0_13_ADDED].sort();

/** Frontend API caps of BuildKit v0.13 (measured: Docker 26.1.5's gateway). */
export const V0_13_FRONTEND_CAPS: readonly string[] = [
  'frontend.caps', 'frontend.inputs', 'gateway.evaluate', 'gateway.exec', 'gateway.exec.extrahosts', 'gateway.exec.secretenv',
  'gateway.exec.signals', 'gateway.solve.evaluate', 'gateway.solve.metadata', 'gateway.warnings', 'importcaches', 'proto.refarray',
  'readdir', 'readfile', 'reference.attestations', 'reference.output', 'resolveimage', 'resolveimage.resolvemode', 'return',
  'returnmap', 'solve.base', 'solve.inlinereturn', 'source.metaresolver', 'statfile',
];

/** The newest capabilities tracebuild converts for: every cap it knows how to use. */
export const NEWEST_CAPABILITIES: DaemonCapabilities = {
  llb: [...new Set([...V0_13_LLB_CAPS, ...Object.values(CAP)])].sort(),
  frontend: V0_13_FRONTEND_CAPS,
  name: 'the newest BuildKit tracebuild supports',
};

/** The capabilities of one conversion, with the questions the converter asks. */
export class Capabilities {
  private readonly llb: ReadonlySet<string>;
  private readonly frontend: ReadonlySet<string>;
  readonly name: string;
  private readonly engineApi: number[] | undefined;
  private readonly platforms: readonly Platform[] | undefined;

  constructor(caps: DaemonCapabilities = NEWEST_CAPABILITIES) {
    this.llb = new Set(caps.llb);
    this.frontend = new Set(caps.frontend ?? []);
    this.name = caps.name;
    this.engineApi = caps.engineApiVersion?.split('.').map((n) => Number(n));
    this.platforms = caps.platforms;
  }

  /** Whether the daemon can execute a process for `p` (a RUN): its workers list the
   * platform (a variant only has to match when both name one). */
  canRun(p: Platform): boolean {
    if (this.platforms === undefined || this.platforms.length === 0) return true;
    return this.platforms.some((w) => w.os === p.os && w.architecture === p.architecture && (w.variant === undefined || p.variant === undefined || w.variant === p.variant));
  }

  /** The platforms the daemon executes, for messages. */
  get runnablePlatforms(): string {
    return (this.platforms ?? []).map(formatPlatform).join(', ');
  }

  has(cap: CapId): boolean {
    return this.llb.has(cap);
  }

  /** Whether execs may ask for recursive mount stub removal (Meta field 11), as BuildKit's
   * own client always does since v0.11. Its cap is never announced, so it is read from
   * the cap of the same release (source.policy); a daemon that announces the cap itself
   * counts too. Older daemons would ignore the field, but it changes the vertex digests. */
  get removeMountStubs(): boolean {
    return this.llb.has(CAP.removeMountStubs) || this.llb.has(CAP.sourcePolicy);
  }

  /** Whether COPY/ADD history lines carry --parents, --chown and --chmod, as the
   * Dockerfile frontend of BuildKit v0.13+ writes them (read from the frontend API cap of
   * that release: the frontend's own format has no cap). */
  get copyHistoryFlags(): boolean {
    return this.frontend.has(FRONTEND_CAP.sourceMetaResolver);
  }

  /** HEALTHCHECK --start-interval reaches the image only through an Engine API 1.44+
   * dockerd (Docker 25); BuildKit itself passes any image config through. */
  get healthcheckStartInterval(): boolean {
    if (this.engineApi === undefined) return true;
    const [major = 0, minor = 0] = this.engineApi;
    return major > 1 || (major === 1 && minor >= 44);
  }

  /** The end of an error message for a feature this daemon lacks. */
  lacks(what: string): string {
    return `${what}; ${this.name} cannot run it`;
  }
}
