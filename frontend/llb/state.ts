// The immutable LLB builder. A state is "the filesystem produced by some op output"
// (or scratch); methods return new states and never change the old ones. Nothing is
// encoded here: marshal.ts is the one place that turns vertices into bytes.
import type { ChownSpec, LlbPlatform, NetworkMode, ProxyEnv, SecurityMode } from './types.js';

/** One output of one vertex. */
export interface Output {
  readonly vertex: Vertex;
  readonly index: number;
}

export type Vertex = SourceVertex | ExecVertex | FileVertex;

// ---------------------------------------------------------------- sources

export class SourceVertex {
  readonly kind = 'source';
  constructor(
    readonly identifier: string,
    readonly attrs: Readonly<Record<string, string>>,
    /** Only platform-specific sources (docker-image) carry a platform. */
    readonly platform: LlbPlatform | undefined,
    readonly platformSpecific: boolean,
  ) {
    Object.freeze(this);
  }
  inputs(): Output[] {
    return [];
  }
}

// ---------------------------------------------------------------- exec

export type MountType = 'bind' | 'secret' | 'ssh' | 'cache' | 'tmpfs';
export type CacheSharing = 'shared' | 'private' | 'locked';

/** An extra mount of an exec (the root mount `/` is implied by the state run on). */
export interface MountSpec {
  dest: string;
  /** Bind/cache source; absent = scratch. */
  source?: LlbState;
  selector?: string;
  readonly?: boolean;
  type?: MountType;
  cacheId?: string;
  cacheSharing?: CacheSharing;
  /** Secret/SSH mount options. */
  id?: string;
  uid?: number;
  gid?: number;
  mode?: number;
  optional?: boolean;
  /** Writable mount whose result is not needed. */
  noOutput?: boolean;
  /** tmpfs size limit in bytes (TmpfsOpt, cap exec.mount.tmpfs.size). */
  tmpfsSize?: number;
}

/** A secret given to the process as an environment variable (cap exec.secretenv). */
export interface SecretEnvSpec {
  id: string;
  name: string;
  optional: boolean;
}

export interface ExecOptions {
  args: string[];
  env?: string[];
  cwd?: string;
  user?: string;
  hostname?: string;
  proxyEnv?: ProxyEnv;
  extraHosts?: { host: string; ip: string }[];
  /** Meta.ulimit (cap exec.meta.ulimit); `name` as Docker spells it (`nofile`). */
  ulimits?: { name: string; soft: number; hard: number }[];
  /** Meta.cgroupParent (cap exec.meta.cgroup.parent): `/NAME`, the container goes in
   * `/NAME/buildkit/<id>` (build --enforce). Part of the exec's cache key. */
  cgroupParent?: string;
  network?: NetworkMode;
  security?: SecurityMode;
  readonlyRootfs?: boolean;
  mounts?: MountSpec[];
  platform?: LlbPlatform;
  /** Meta.removeMountStubsRecursive (cap exec.meta.removemountstubs.recursive). */
  removeMountStubs?: boolean;
  secretEnv?: SecretEnvSpec[];
}

/** A mount as the exec op records it, after sorting and output numbering. */
export interface ExecMount {
  dest: string;
  source: Output | undefined;
  selector: string | undefined;
  readonly: boolean;
  type: MountType;
  cacheId: string | undefined;
  cacheSharing: CacheSharing | undefined;
  id: string | undefined;
  uid: number | undefined;
  gid: number | undefined;
  mode: number | undefined;
  optional: boolean;
  /** -1 when the mount produces no output. */
  output: number;
  tmpfsSize: number | undefined;
}

export class ExecVertex {
  readonly kind = 'exec';
  readonly args: readonly string[];
  readonly env: readonly string[];
  readonly cwd: string;
  readonly user: string | undefined;
  readonly hostname: string | undefined;
  readonly proxyEnv: ProxyEnv | undefined;
  readonly extraHosts: readonly { host: string; ip: string }[];
  readonly ulimits: readonly { name: string; soft: number; hard: number }[];
  readonly cgroupParent: string | undefined;
  readonly network: NetworkMode;
  readonly security: SecurityMode;
  readonly platform: LlbPlatform | undefined;
  readonly removeMountStubs: boolean;
  readonly secretEnv: readonly SecretEnvSpec[];
  /** Bind/cache/tmpfs mounts sorted by dest, then secret and ssh mounts, as BuildKit's client orders them. */
  readonly mounts: readonly ExecMount[];

  constructor(root: Output | undefined, o: ExecOptions) {
    if (o.args.length === 0) throw new Error('llb: exec needs at least one argument');
    this.args = Object.freeze([...o.args]);
    this.env = Object.freeze([...(o.env ?? [])]);
    this.cwd = o.cwd ?? '/';
    if (this.cwd === '') throw new Error('llb: exec needs a working directory');
    this.user = o.user || undefined;
    this.hostname = o.hostname || undefined;
    this.proxyEnv = o.proxyEnv ? { ...o.proxyEnv } : undefined;
    this.extraHosts = Object.freeze((o.extraHosts ?? []).map((h) => ({ ...h })));
    this.ulimits = Object.freeze((o.ulimits ?? []).map((u) => ({ ...u })));
    this.cgroupParent = o.cgroupParent || undefined;
    this.network = o.network ?? 'sandbox';
    this.security = o.security ?? 'sandbox';
    this.platform = o.platform;
    this.removeMountStubs = o.removeMountStubs ?? false;
    this.secretEnv = Object.freeze((o.secretEnv ?? []).map((e) => Object.freeze({ ...e })));

    type Spec = MountSpec & { isRoot?: boolean };
    const specs: Spec[] = [{ dest: '/', readonly: o.readonlyRootfs ?? false, isRoot: true }, ...(o.mounts ?? [])];
    const seen = new Set<string>();
    for (const m of specs) {
      if (seen.has(m.dest)) throw new Error(`llb: duplicate mount target ${m.dest}`);
      seen.add(m.dest);
    }
    const isSpecial = (m: Spec): boolean => m.type === 'secret' || m.type === 'ssh';
    const regular = specs.filter((m) => !isSpecial(m));
    regular.sort((a, b) => (a.dest < b.dest ? -1 : a.dest > b.dest ? 1 : 0));
    const ordered = [...regular, ...specs.filter((m) => m.type === 'secret'), ...specs.filter((m) => m.type === 'ssh')];
    let next = 0;
    const mounts: ExecMount[] = ordered.map((m) => {
      const type = m.type ?? 'bind';
      const producesOutput = type === 'bind' && !m.readonly && !m.noOutput;
      return {
        dest: m.dest,
        source: m.isRoot ? root : type === 'bind' || type === 'cache' ? m.source?.output : undefined,
        selector: m.selector || undefined,
        readonly: m.readonly ?? false,
        type,
        cacheId: m.cacheId,
        cacheSharing: m.cacheSharing,
        id: m.id,
        uid: m.uid,
        gid: m.gid,
        mode: m.mode,
        optional: m.optional ?? false,
        output: producesOutput ? next++ : -1,
        tmpfsSize: type === 'tmpfs' && m.tmpfsSize ? m.tmpfsSize : undefined,
      };
    });
    this.mounts = Object.freeze(mounts.map((m) => Object.freeze(m)));
    Object.freeze(this);
  }

  /** Distinct inputs in mount order (the order they are numbered in the op). */
  inputs(): Output[] {
    return uniqueOutputs(this.mounts.map((m) => m.source));
  }

  /** The output index of the mount at `dest`. */
  outputIndex(dest: string): number {
    const m = this.mounts.find((x) => x.dest === dest);
    if (!m) throw new Error(`llb: exec has no mount at ${dest}`);
    return m.output;
  }
}

// ---------------------------------------------------------------- file

export interface CopyOptions {
  owner?: ChownSpec;
  /** Permission bits for the copied files; undefined keeps the source's (-1 on the wire). */
  mode?: number;
  followSymlink?: boolean;
  dirCopyContents?: boolean;
  attemptUnpackDockerCompatibility?: boolean;
  createDestPath?: boolean;
  allowWildcard?: boolean;
  allowEmptyWildcard?: boolean;
  /** Unix nanoseconds; undefined = keep (-1 on the wire). */
  timestampNs?: number;
  /** Only what matches one of these (below src) is copied (cap file.copy.includeexcludepatterns). */
  includePatterns?: string[];
  /** What matches one of these is left out. */
  excludePatterns?: string[];
  /** A symbolic mode (`u+x,go-w`), instead of `mode` (cap file.copy.modestring). */
  modeStr?: string;
}

export interface MkdirOptions {
  makeParents?: boolean;
  owner?: ChownSpec;
  timestampNs?: number;
}

export interface MkfileOptions {
  owner?: ChownSpec;
  timestampNs?: number;
}

export interface RmOptions {
  allowNotFound?: boolean;
  allowWildcard?: boolean;
}

export type FileActionSpec =
  | { kind: 'copy'; from: LlbState; src: string; dest: string; opts: CopyOptions }
  | { kind: 'mkdir'; path: string; mode: number; opts: MkdirOptions }
  | { kind: 'mkfile'; path: string; mode: number; data: Uint8Array; opts: MkfileOptions }
  | { kind: 'rm'; path: string; opts: RmOptions };

/** An immutable chain of file actions; each action applies to the result of the one
 * before it (the first to the state the chain is run on). */
export class FileAction {
  private constructor(
    readonly prev: FileAction | undefined,
    readonly spec: Readonly<FileActionSpec>,
  ) {
    Object.freeze(this);
  }

  static copy(from: LlbState, src: string, dest: string, opts: CopyOptions = {}): FileAction {
    return new FileAction(undefined, { kind: 'copy', from, src, dest, opts: { ...opts } });
  }
  static mkdir(path: string, mode: number, opts: MkdirOptions = {}): FileAction {
    return new FileAction(undefined, { kind: 'mkdir', path, mode, opts: { ...opts } });
  }
  static mkfile(path: string, mode: number, data: Uint8Array | string, opts: MkfileOptions = {}): FileAction {
    return new FileAction(undefined, { kind: 'mkfile', path, mode, data: toBytes(data), opts: { ...opts } });
  }
  static rm(path: string, opts: RmOptions = {}): FileAction {
    return new FileAction(undefined, { kind: 'rm', path, opts: { ...opts } });
  }

  copy(from: LlbState, src: string, dest: string, opts: CopyOptions = {}): FileAction {
    return new FileAction(this, FileAction.copy(from, src, dest, opts).spec);
  }
  mkdir(path: string, mode: number, opts: MkdirOptions = {}): FileAction {
    return new FileAction(this, FileAction.mkdir(path, mode, opts).spec);
  }
  mkfile(path: string, mode: number, data: Uint8Array | string, opts: MkfileOptions = {}): FileAction {
    return new FileAction(this, FileAction.mkfile(path, mode, data, opts).spec);
  }
  rm(path: string, opts: RmOptions = {}): FileAction {
    return new FileAction(this, FileAction.rm(path, opts).spec);
  }

  /** The actions first to last. */
  list(): FileActionSpec[] {
    const out: FileActionSpec[] = this.prev ? this.prev.list() : [];
    out.push(this.spec);
    return out;
  }
}

export class FileVertex {
  readonly kind = 'file';
  readonly actions: readonly FileActionSpec[];
  constructor(
    /** The state the actions start from; undefined = scratch. */
    readonly base: Output | undefined,
    action: FileAction,
    readonly platform: LlbPlatform | undefined,
  ) {
    this.actions = Object.freeze(action.list());
    Object.freeze(this);
  }

  /** Distinct inputs in the order the op numbers them: per action, base then copy source. */
  inputs(): Output[] {
    const list: (Output | undefined)[] = [];
    for (const a of this.actions) {
      list.push(this.base);
      if (a.kind === 'copy') list.push(a.from.output);
    }
    return uniqueOutputs(list);
  }
}

// ---------------------------------------------------------------- state

export interface ImageOptions {
  platform?: LlbPlatform;
  /** `image.resolvemode`; 'default' is not written (BuildKit's default). */
  resolveMode?: 'default' | 'pull' | 'local';
}

export interface LocalOptions {
  sessionId?: string;
  sharedKeyHint?: string;
  includePatterns?: string[];
  excludePatterns?: string[];
  followPaths?: string[];
}

export class LlbState {
  private constructor(readonly output: Output | undefined) {
    Object.freeze(this);
  }

  static scratch(): LlbState {
    return new LlbState(undefined);
  }

  /** `docker-image://<ref>`; ref must already be fully qualified (docker.io/library/x:tag). */
  static image(ref: string, opts: ImageOptions = {}): LlbState {
    const attrs: Record<string, string> = {};
    if (opts.resolveMode && opts.resolveMode !== 'default') attrs['image.resolvemode'] = opts.resolveMode;
    return LlbState.source(`docker-image://${ref}`, attrs, opts.platform, true);
  }

  /** `local://<name>`: files sent by the client session. Only non-empty attrs are written. */
  static local(name: string, opts: LocalOptions = {}): LlbState {
    const attrs: Record<string, string> = {};
    if (opts.sessionId) attrs['local.session'] = opts.sessionId;
    if (opts.includePatterns?.length) attrs['local.includepattern'] = JSON.stringify(opts.includePatterns);
    if (opts.followPaths?.length) attrs['local.followpaths'] = JSON.stringify(opts.followPaths);
    if (opts.excludePatterns?.length) attrs['local.excludepatterns'] = JSON.stringify(opts.excludePatterns);
    if (opts.sharedKeyHint) attrs['local.sharedkeyhint'] = opts.sharedKeyHint;
    return LlbState.source(`local://${name}`, attrs, undefined, false);
  }

  /** Any source op. */
  static source(identifier: string, attrs: Record<string, string> = {}, platform?: LlbPlatform, platformSpecific = false): LlbState {
    if (!identifier) throw new Error('llb: source identifier cannot be empty');
    return new LlbState({ vertex: new SourceVertex(identifier, Object.freeze({ ...attrs }), platform, platformSpecific), index: 0 });
  }

  get isScratch(): boolean {
    return this.output === undefined;
  }

  /** Runs a process with this state as its root mount; the result is the root mount's output. */
  run(opts: ExecOptions): LlbState {
    return this.exec(opts).root;
  }

  /** Like run, also giving access to the outputs of the other writable mounts. */
  exec(opts: ExecOptions): { root: LlbState; mount(dest: string): LlbState; vertex: ExecVertex } {
    const vertex = new ExecVertex(this.output, opts);
    const at = (dest: string): LlbState => {
      const index = vertex.outputIndex(dest);
      if (index < 0) throw new Error(`llb: mount ${dest} has no output`);
      return new LlbState({ vertex, index });
    };
    return { root: opts.readonlyRootfs ? this : at('/'), mount: at, vertex };
  }

  /** Applies a chain of file actions to this state. */
  file(action: FileAction, opts: { platform?: LlbPlatform } = {}): LlbState {
    return new LlbState({ vertex: new FileVertex(this.output, action, opts.platform), index: 0 });
  }
}

// ---------------------------------------------------------------- helpers

function toBytes(data: Uint8Array | string): Uint8Array {
  return typeof data === 'string' ? new TextEncoder().encode(data) : new Uint8Array(data);
}

function uniqueOutputs(list: (Output | undefined)[]): Output[] {
  const out: Output[] = [];
  for (const o of list) {
    if (!o) continue;
    if (!out.some((x) => x.vertex === o.vertex && x.index === o.index)) out.push(o);
  }
  return out;
}
