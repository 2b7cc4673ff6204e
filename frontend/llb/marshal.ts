// The one marshal boundary: vertices -> deterministic pb.Op bytes and their digests.
//
// Determinism rules (BuildKit computes vertex digests over the exact bytes it receives):
// fields in field-number order (protobufjs encodes that way), map entries sorted by key,
// zero/empty scalars left out of the object entirely (protobufjs writes any field that is
// present, even '' or false). Objects below are therefore built with `put`, which skips
// zero values, and maps with `sortedMap`.
import { createHash } from 'node:crypto';
import type protobuf from 'protobufjs';
import { cleanPath } from '../../common/index.js';
import { lookupType } from '../proto/index.js';
import type { LlbDefinition, LlbPlatform, VertexMetadata, ChownSpec } from './types.js';
import type { ExecVertex, FileActionSpec, FileVertex, LlbState, Output, SourceVertex, Vertex } from './state.js';

export interface MarshalOptions {
  /** Platform given to exec/file/image ops that were built without one (BuildKit's
   * marshal default; linux/amd64 if absent). */
  defaultPlatform?: LlbPlatform;
}

type Obj = Record<string, unknown>;

let opType: protobuf.Type | undefined;
function getOpType(): protobuf.Type {
  opType ??= lookupType('pb.Op');
  return opType;
}

export function sha256Digest(bytes: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

/** Sets obj[key] only for non-zero values (proto3 omits zero scalars; so must we). */
function put(obj: Obj, key: string, value: unknown): void {
  if (value === undefined || value === null || value === '' || value === false || value === 0) return;
  if (Array.isArray(value) && value.length === 0) return;
  if (value instanceof Uint8Array && value.length === 0) return;
  obj[key] = value;
}

/** A message of the given fields, zero values left out (see put). */
function message(fields: Record<string, unknown>): Obj {
  const o: Obj = {};
  for (const [k, v] of Object.entries(fields)) put(o, k, v);
  return o;
}

const arrayIndexLike = /^(0|[1-9][0-9]*)$/;

/** A map as a plain object whose key order is sorted bytewise (JS keeps string-key
 * insertion order, except for array-index-like keys, which we refuse). */
function sortedMap<V>(m: Readonly<Record<string, V>>): Record<string, V> | undefined {
  const keys = Object.keys(m).sort(compareBytes);
  if (keys.length === 0) return undefined;
  const out: Record<string, V> = {};
  for (const k of keys) {
    if (arrayIndexLike.test(k)) throw new Error(`llb: map key ${JSON.stringify(k)} cannot be encoded deterministically`);
    out[k] = m[k] as V;
  }
  return out;
}

function compareBytes(a: string, b: string): number {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return Buffer.compare(ba, bb);
}

function platformObj(p: LlbPlatform): Obj {
  const o: Obj = {};
  put(o, 'Architecture', p.architecture);
  put(o, 'OS', p.os);
  put(o, 'Variant', p.variant);
  return o;
}

const DEFAULT_PLATFORM: LlbPlatform = { os: 'linux', architecture: 'amd64' };

interface Encoded {
  digest: string;
  bytes: Uint8Array;
}

/** Marshals vertices once per call, memoized by identity; equal content gives equal digests. */
class Marshaler {
  private readonly cache = new Map<Vertex, Encoded>();
  private readonly platform: LlbPlatform;
  readonly order: Encoded[] = [];
  private readonly emitted = new Set<string>();

  constructor(options: MarshalOptions) {
    this.platform = options.defaultPlatform ?? DEFAULT_PLATFORM;
  }

  /** Encodes v after its inputs; appends each new digest to `order` (dependencies first).
   * Iterative, not recursive: a chain of 100,000 RUNs is 100,000 vertices deep. */
  visit(root: Vertex): Encoded {
    const hit = this.cache.get(root);
    if (hit) return hit;
    const stack: { vertex: Vertex; inputsPushed: boolean }[] = [{ vertex: root, inputsPushed: false }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (this.cache.has(top.vertex)) {
        stack.pop();
        continue;
      }
      if (!top.inputsPushed) {
        // inputs in order: the first is encoded (with its own inputs) before the second
        top.inputsPushed = true;
        const inputs = top.vertex.inputs();
        for (let i = inputs.length - 1; i >= 0; i--) {
          const input = inputs[i]!.vertex;
          if (!this.cache.has(input)) stack.push({ vertex: input, inputsPushed: false });
        }
        continue;
      }
      stack.pop();
      this.encode(top.vertex);
    }
    return this.cache.get(root)!;
  }

  /** Encodes a vertex whose inputs are encoded. */
  private encode(v: Vertex): void {
    const op = this.opObject(v);
    const bytes = getOpType().encode(op).finish();
    const enc = { digest: sha256Digest(bytes), bytes };
    this.cache.set(v, enc);
    if (!this.emitted.has(enc.digest)) {
      this.emitted.add(enc.digest);
      this.order.push(enc);
    }
  }

  inputOf(o: Output): { digest: string; index: number } {
    return { digest: this.visit(o.vertex).digest, index: o.index };
  }

  private opObject(v: Vertex): Obj {
    switch (v.kind) {
      case 'source':
        return this.sourceOp(v);
      case 'exec':
        return this.execOp(v);
      case 'file':
        return this.fileOp(v);
    }
  }

  private withConstraints(op: Obj, platform: LlbPlatform | undefined): Obj {
    if (platform) op['platform'] = platformObj(platform);
    // BuildKit's client always sends an (empty) WorkerConstraints message.
    op['constraints'] = {};
    return op;
  }

  private sourceOp(v: SourceVertex): Obj {
    const source: Obj = {};
    put(source, 'identifier', v.identifier);
    put(source, 'attrs', sortedMap(v.attrs));
    const op: Obj = { source };
    return this.withConstraints(op, v.platformSpecific ? (v.platform ?? this.platform) : undefined);
  }

  /** Adds inputs deduplicated by (digest, index), as BuildKit's client does. */
  private addInput(inputs: { digest: string; index: number }[], o: Output): number {
    const inp = this.inputOf(o);
    const i = inputs.findIndex((x) => x.digest === inp.digest && x.index === inp.index);
    if (i >= 0) return i;
    inputs.push(inp);
    return inputs.length - 1;
  }

  private execOp(v: ExecVertex): Obj {
    const inputs: { digest: string; index: number }[] = [];
    const meta: Obj = {};
    put(meta, 'args', [...v.args]);
    put(meta, 'env', [...v.env]);
    put(meta, 'cwd', v.cwd);
    put(meta, 'user', v.user);
    if (v.proxyEnv) {
      const pe: Obj = {};
      put(pe, 'http_proxy', v.proxyEnv.httpProxy);
      put(pe, 'https_proxy', v.proxyEnv.httpsProxy);
      put(pe, 'ftp_proxy', v.proxyEnv.ftpProxy);
      put(pe, 'no_proxy', v.proxyEnv.noProxy);
      meta['proxy_env'] = pe;
    }
    put(
      meta,
      'extraHosts',
      v.extraHosts.map((h) => message({ Host: h.host, IP: h.ip })),
    );
    put(meta, 'hostname', v.hostname);
    put(
      meta,
      'ulimit',
      v.ulimits.map((u) => message({ Name: u.name, Soft: String(u.soft), Hard: String(u.hard) })),
    );
    put(meta, 'cgroupParent', v.cgroupParent);
    put(meta, 'removeMountStubsRecursive', v.removeMountStubs);

    const mounts = v.mounts.map((m) => {
      const pm: Obj = {};
      const input = m.source ? this.addInput(inputs, m.source) : -1;
      put(pm, 'input', input);
      put(pm, 'selector', m.selector);
      put(pm, 'dest', m.dest);
      put(pm, 'output', m.output);
      put(pm, 'readonly', m.readonly);
      put(pm, 'mountType', { bind: 0, secret: 1, ssh: 2, cache: 3, tmpfs: 4 }[m.type]);
      if (m.tmpfsSize !== undefined) pm['TmpfsOpt'] = { size: m.tmpfsSize };
      if (m.type === 'cache') {
        const co: Obj = {};
        put(co, 'ID', m.cacheId);
        put(co, 'sharing', { shared: 0, private: 1, locked: 2 }[m.cacheSharing ?? 'shared']);
        pm['cacheOpt'] = co;
      }
      if (m.type === 'secret' || m.type === 'ssh') {
        const so: Obj = {};
        put(so, 'ID', m.id);
        put(so, 'uid', m.uid);
        put(so, 'gid', m.gid);
        put(so, 'mode', m.mode);
        put(so, 'optional', m.optional);
        pm[m.type === 'secret' ? 'secretOpt' : 'SSHOpt'] = so;
      }
      return pm;
    });

    const exec: Obj = { meta };
    put(exec, 'mounts', mounts);
    put(exec, 'network', { sandbox: 0, host: 1, none: 2 }[v.network]);
    put(exec, 'security', { sandbox: 0, insecure: 1 }[v.security]);
    put(
      exec,
      'secretenv',
      v.secretEnv.map((e) => message({ ID: e.id, name: e.name, optional: e.optional })),
    );
    const op: Obj = {};
    put(op, 'inputs', inputs.map(inputObj));
    op['exec'] = exec;
    return this.withConstraints(op, v.platform ?? this.platform);
  }

  private fileOp(v: FileVertex): Obj {
    const inputs: { digest: string; index: number }[] = [];
    type Pending = { base: number; input: number | { relative: number }; secondary: number; spec: FileActionSpec };
    const pending: Pending[] = [];
    v.actions.forEach((spec, k) => {
      const base = v.base ? this.addInput(inputs, v.base) : -1;
      let secondary = -1;
      if (spec.kind === 'copy' && spec.from.output) secondary = this.addInput(inputs, spec.from.output);
      pending.push({ base, input: k === 0 ? base : { relative: k - 1 }, secondary, spec });
    });
    const n = inputs.length;
    const actions = pending.map((p, k) => {
      const a: Obj = {};
      put(a, 'input', typeof p.input === 'number' ? p.input : n + p.input.relative);
      put(a, 'secondaryInput', p.secondary);
      put(a, 'output', k === pending.length - 1 ? 0 : -1);
      const s = p.spec;
      switch (s.kind) {
        case 'copy': {
          const c: Obj = {};
          put(c, 'src', cleanAbs(s.src, false));
          put(c, 'dest', cleanAbs(s.dest, true));
          put(c, 'owner', chownObj(s.opts.owner, p.base));
          put(c, 'mode', s.opts.mode ?? -1);
          put(c, 'followSymlink', s.opts.followSymlink);
          put(c, 'dirCopyContents', s.opts.dirCopyContents);
          put(c, 'attemptUnpackDockerCompatibility', s.opts.attemptUnpackDockerCompatibility);
          put(c, 'createDestPath', s.opts.createDestPath);
          put(c, 'allowWildcard', s.opts.allowWildcard);
          put(c, 'allowEmptyWildcard', s.opts.allowEmptyWildcard);
          put(c, 'timestamp', s.opts.timestampNs ?? -1);
          put(c, 'include_patterns', s.opts.includePatterns);
          put(c, 'exclude_patterns', s.opts.excludePatterns);
          put(c, 'modeStr', s.opts.modeStr);
          a['copy'] = c;
          break;
        }
        case 'mkdir': {
          const c: Obj = {};
          put(c, 'path', cleanAbs(s.path, false));
          put(c, 'mode', s.mode & 0o777);
          put(c, 'makeParents', s.opts.makeParents);
          put(c, 'owner', chownObj(s.opts.owner, p.base));
          put(c, 'timestamp', s.opts.timestampNs ?? -1);
          a['mkdir'] = c;
          break;
        }
        case 'mkfile': {
          const c: Obj = {};
          put(c, 'path', cleanAbs(s.path, false));
          put(c, 'mode', s.mode & 0o777);
          put(c, 'data', s.data);
          put(c, 'owner', chownObj(s.opts.owner, p.base));
          put(c, 'timestamp', s.opts.timestampNs ?? -1);
          a['mkfile'] = c;
          break;
        }
        case 'rm': {
          const c: Obj = {};
          put(c, 'path', cleanAbs(s.path, false));
          put(c, 'allowNotFound', s.opts.allowNotFound);
          put(c, 'allowWildcard', s.opts.allowWildcard);
          a['rm'] = c;
          break;
        }
      }
      return a;
    });
    const op: Obj = {};
    put(op, 'inputs', inputs.map(inputObj));
    op['file'] = { actions };
    return this.withConstraints(op, v.platform ?? this.platform);
  }
}

function inputObj(i: { digest: string; index: number }): Obj {
  const o: Obj = {};
  put(o, 'digest', i.digest);
  put(o, 'index', i.index);
  return o;
}

function userObj(u: string | number | undefined, base: number): Obj | undefined {
  if (u === undefined || u === '') return undefined;
  if (typeof u === 'number') return { byID: u };
  const named: Obj = {};
  put(named, 'name', u);
  put(named, 'input', base);
  return { byName: named };
}

function chownObj(c: ChownSpec | undefined, base: number): Obj | undefined {
  if (!c) return undefined;
  const o: Obj = {};
  put(o, 'user', userObj(c.user, base));
  put(o, 'group', userObj(c.group, base));
  return o;
}

/** path.Clean made absolute; with keepSlash a trailing `/` or `/.` of the original is kept
 * (it tells the copy that the destination is a directory). */
export function cleanAbs(p: string, keepSlash: boolean): string {
  let out = cleanPath(p.startsWith('/') ? p : '/' + p);
  if (keepSlash) {
    if (p.endsWith('/') && !out.endsWith('/')) out += '/';
    else if (p.endsWith('/.')) {
      if (out !== '/') out += '/';
      out += '.';
    }
  }
  return out;
}

/** Metadata for the vertices of a graph, given per state (several states may share a vertex:
 * their entries are merged, later descriptions winning). */
export type MetadataByState = ReadonlyMap<LlbState, VertexMetadata>;

/**
 * Marshals the graph that produces `state` into a Definition: ops in dependency order,
 * then the terminal op (one input: the result). Metadata keys are vertex digests.
 */
export function marshal(state: LlbState, metadataByState: MetadataByState = new Map(), options: MarshalOptions = {}): LlbDefinition {
  const m = new Marshaler(options);
  const def: LlbDefinition = { def: [], metadata: {} };
  if (!state.output) return def;
  const result = m.inputOf(state.output);
  const ops = [...m.order];
  const present = new Set(ops.map((e) => e.digest));
  for (const [st, md] of metadataByState) {
    if (!st.output) continue;
    const { digest } = m.inputOf(st.output);
    if (!present.has(digest)) continue;
    const prev = def.metadata[digest] ?? {};
    const merged: VertexMetadata = { ...prev };
    if (md.ignore_cache) merged.ignore_cache = true;
    if (md.description && Object.keys(md.description).length > 0) {
      merged.description = sortedMap({ ...(prev.description ?? {}), ...md.description });
    }
    def.metadata[digest] = merged;
  }
  // Order metadata keys too, so JSON renderings of a definition are stable.
  def.metadata = sortedMapAllowAny(def.metadata);
  def.def = ops.map((e) => e.bytes);
  const terminal = getOpType().encode({ inputs: [inputObj(result)] }).finish();
  def.def.push(terminal);
  return def;
}

function sortedMapAllowAny<V>(m: Record<string, V>): Record<string, V> {
  const out: Record<string, V> = {};
  for (const k of Object.keys(m).sort(compareBytes)) out[k] = m[k] as V;
  return out;
}

/** The digest of the vertex that produces `state` (undefined for scratch). */
export function digestOf(state: LlbState, options: MarshalOptions = {}): string | undefined {
  return vertexDigests(options)(state);
}

/** A function giving the digest of the vertex that produces a state (undefined for
 * scratch), with one memo for all its calls: the digests of every step of a chain cost
 * one marshal of the chain, not one each. */
export function vertexDigests(options: MarshalOptions = {}): (state: LlbState) => string | undefined {
  const m = new Marshaler(options);
  return (state) => (state.output ? m.visit(state.output.vertex).digest : undefined);
}

/** One op of a definition decoded to plain JSON. */
export interface DecodedOp {
  digest: string;
  /** pb.Op as JSON: enums by name, int64 as numbers, bytes as base64. */
  op: Record<string, unknown>;
  metadata?: VertexMetadata;
  /** True for the last op (the result pointer). */
  terminal?: boolean;
}

/** Decodes every op of a definition, with its digest and metadata. */
export function decodeDefinition(def: LlbDefinition): DecodedOp[] {
  const t = getOpType();
  return def.def.map((bytes, i) => {
    const digest = sha256Digest(bytes);
    const op = t.toObject(t.decode(bytes), { longs: Number, enums: String, bytes: String, defaults: false, oneofs: false });
    const out: DecodedOp = { digest, op: op as Record<string, unknown> };
    const md = def.metadata[digest];
    if (md) out.metadata = md;
    if (i === def.def.length - 1) out.terminal = true;
    return out;
  });
}
