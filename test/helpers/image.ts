// What an image is, for comparing two builds: its normalized config and its file tree.
//
// The file tree comes from `docker save`: the image tar is read, each layer tar is applied
// in order onto an empty tree (whiteouts `.wh.NAME` delete NAME, an opaque marker
// `.wh..wh..opq` empties its directory of what lower layers put there), and the result is
// listed by path with type, permission and special bits, owner, size, content digest and
// link target. Modification times are left out: two builds never agree on them.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path/posix';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { dockerCli } from './daemons.js';

export type FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo';

export interface FileEntry {
  /** Absolute, normalized: `/etc/passwd`; directories without a trailing slash. */
  path: string;
  type: FileType;
  /** Permission and special bits (setuid, setgid, sticky): mode & 0o7777. */
  mode: number;
  uid: number;
  gid: number;
  /** Bytes of content for regular files; 0 for everything else. */
  size: number;
  /** Hex sha256 of the content, regular files only. */
  sha256?: string;
  /** Symlink target, symlinks only. */
  linkname?: string;
  /** Device numbers, char and block devices only. */
  devmajor?: number;
  devminor?: number;
  /** Extended attributes recorded in the layer (PAX SCHILY.xattr.*), when there are any. */
  xattrs?: Record<string, string>;
  /** True when no layer had an entry for this directory, only for things inside it. */
  implicit?: boolean;
}

export interface HealthcheckConfig {
  Test: string[];
  /** Durations in nanoseconds, as in the image config; absent when zero (= inherit/default). */
  Interval?: number;
  Timeout?: number;
  StartPeriod?: number;
  Retries?: number;
}

/**
 * The runtime config of an image, normalized so that what Docker treats alike compares
 * equal: null, absent and empty lists/maps/strings are one value; maps (ExposedPorts,
 * Volumes) become sorted key lists; Labels get sorted keys. Order that matters (Env,
 * Cmd, Entrypoint, Shell, OnBuild) is kept.
 */
export interface NormalizedConfig {
  Env: string[];
  Cmd: string[] | null;
  Entrypoint: string[] | null;
  WorkingDir: string;
  User: string;
  ExposedPorts: string[];
  Labels: Record<string, string>;
  StopSignal: string;
  Healthcheck: HealthcheckConfig | null;
  OnBuild: string[];
  Shell: string[] | null;
  Volumes: string[];
  /** Top-level image fields that `docker inspect` shows too. MAINTAINER sets Author. */
  Author: string;
  Architecture: string;
  Os: string;
}

export interface HistoryEntry {
  createdBy: string;
  emptyLayer: boolean;
  comment: string;
}

export interface ImageInfo {
  /** The tag or id that was inspected. */
  ref: string;
  config: NormalizedConfig;
  /** The whole file tree after all layers, sorted by path. */
  files: FileEntry[];
  /** Informational (not compared by default): the image history and the layer count. */
  history: HistoryEntry[];
  layerCount: number;
  /** The raw image config JSON, for anything a test wants beyond the normalized fields. */
  rawConfig: Record<string, unknown>;
}

/** Inspects an image the daemon has: `docker save`, then config and the applied file tree. */
export async function inspectImage(ref: string): Promise<ImageInfo> {
  const archive = await readImageArchive(ref);
  const manifestBuf = archive.get('manifest.json');
  if (!manifestBuf) throw new Error(`docker save ${ref}: no manifest.json in the archive`);
  const manifests = JSON.parse(manifestBuf.toString('utf8')) as Array<{ Config: string; Layers: string[] }>;
  const manifest = manifests[0];
  if (!manifest) throw new Error(`docker save ${ref}: manifest.json lists no image`);
  const configBuf = archive.get(manifest.Config);
  if (!configBuf) throw new Error(`docker save ${ref}: config ${manifest.Config} missing from the archive`);
  const rawConfig = JSON.parse(configBuf.toString('utf8')) as Record<string, unknown>;

  const tree = new Map<string, FileEntry>();
  for (const layerName of manifest.Layers) {
    const layer = archive.get(layerName);
    if (!layer) throw new Error(`docker save ${ref}: layer ${layerName} missing from the archive`);
    applyLayer(tree, await readLayer(layer), layerName);
  }
  const files = [...tree.values()].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  const history = ((rawConfig.history as Array<Record<string, unknown>> | undefined) ?? []).map((h) => ({
    createdBy: typeof h.created_by === 'string' ? h.created_by : '',
    emptyLayer: h.empty_layer === true,
    comment: typeof h.comment === 'string' ? h.comment : '',
  }));
  return { ref, config: normalizeConfig(rawConfig), files, history, layerCount: manifest.Layers.length, rawConfig };
}

/** The image config JSON (as stored in the image) -> NormalizedConfig. */
export function normalizeConfig(raw: Record<string, unknown>): NormalizedConfig {
  const c = (raw.config ?? raw.Config ?? {}) as Record<string, unknown>;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
  const listOrNull = (v: unknown): string[] | null => {
    const l = list(v);
    return l.length === 0 ? null : l;
  };
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const keys = (v: unknown): string[] =>
    v !== null && typeof v === 'object' ? Object.keys(v as object).sort() : [];
  const labels: Record<string, string> = {};
  if (c.Labels !== null && typeof c.Labels === 'object') {
    for (const k of Object.keys(c.Labels as object).sort()) labels[k] = String((c.Labels as Record<string, unknown>)[k]);
  }
  let healthcheck: HealthcheckConfig | null = null;
  if (c.Healthcheck !== null && typeof c.Healthcheck === 'object') {
    const h = c.Healthcheck as Record<string, unknown>;
    const test = list(h.Test);
    // A healthcheck with no test inherits everything: Docker treats it as none set.
    if (test.length > 0 || h.Interval || h.Timeout || h.StartPeriod || h.Retries) {
      healthcheck = { Test: test };
      for (const k of ['Interval', 'Timeout', 'StartPeriod', 'Retries'] as const) {
        const v = h[k];
        if (typeof v === 'number' && v !== 0) healthcheck[k] = v;
      }
    }
  }
  return {
    Env: list(c.Env),
    Cmd: listOrNull(c.Cmd),
    Entrypoint: listOrNull(c.Entrypoint),
    WorkingDir: str(c.WorkingDir),
    User: str(c.User),
    ExposedPorts: keys(c.ExposedPorts),
    Labels: labels,
    StopSignal: str(c.StopSignal),
    Healthcheck: healthcheck,
    OnBuild: list(c.OnBuild),
    Shell: listOrNull(c.Shell),
    Volumes: keys(c.Volumes),
    Author: str(raw.author),
    Architecture: str(raw.architecture),
    Os: str(raw.os),
  };
}

/** `docker save REF` read into memory, entry name -> bytes. Fine for test-sized images. */
async function readImageArchive(ref: string): Promise<Map<string, Buffer>> {
  const child = spawn(dockerCli, ['save', ref], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code ?? -1));
  });
  const entries = new Map<string, Buffer>();
  const extract = tar.extract();
  const parsing = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      if (entry.header.type === 'file' || entry.header.type === 'contiguous-file') {
        entries.set(entry.header.name.replace(/^\.\//, ''), Buffer.concat(chunks));
      }
    }
  })();
  child.stdout.pipe(extract);
  const [code, parseError] = await Promise.all([exited, parsing.then(() => undefined, (e: unknown) => e)]);
  if (code !== 0) {
    throw new Error(`docker save ${ref} failed (exit ${code}): ${Buffer.concat(stderr).toString('utf8').trim()}`);
  }
  if (parseError !== undefined) throw parseError;
  return entries;
}

interface LayerEntry {
  path: string;
  header: Omit<tar.Header, 'pax'> & { pax?: Record<string, string> | null };
  sha256?: string;
  size: number;
}

async function readLayer(data: Buffer): Promise<LayerEntry[]> {
  const out: LayerEntry[] = [];
  const extract = tar.extract();
  const parsing = (async () => {
    for await (const entry of extract) {
      const header = entry.header as LayerEntry['header'];
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of entry) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
      }
      const isFile = header.type === 'file' || header.type === 'contiguous-file';
      out.push({ path: cleanPath(header.name), header, size, ...(isFile ? { sha256: hash.digest('hex') } : {}) });
    }
  })();
  Readable.from([data]).pipe(extract);
  await parsing;
  return out;
}

/** `./a/b/`, `a/b`, `/a/b` -> `/a/b`; the root is `/`. */
function cleanPath(name: string): string {
  return path.normalize('/' + name).replace(/\/+$/, '') || '/';
}

function isWithin(p: string, dir: string): boolean {
  return dir === '/' ? p !== '/' : p.startsWith(dir + '/');
}

function removeTree(tree: Map<string, FileEntry>, p: string, keepSelf: boolean): void {
  if (!keepSelf) tree.delete(p);
  for (const k of [...tree.keys()]) if (isWithin(k, p)) tree.delete(k);
}

function ensureParents(tree: Map<string, FileEntry>, p: string): void {
  for (let dir = path.dirname(p); dir !== '/'; dir = path.dirname(dir)) {
    const existing = tree.get(dir);
    if (existing?.type === 'dir') return;
    if (existing) removeTree(tree, dir, false);
    tree.set(dir, { path: dir, type: 'dir', mode: 0o755, uid: 0, gid: 0, size: 0, implicit: true });
  }
}

/** Applies one layer onto the tree, as overlayfs would present it. */
export function applyLayer(tree: Map<string, FileEntry>, entries: readonly LayerEntry[], layerName = 'layer'): void {
  // Whiteouts only ever hide what lower layers have, so they go first.
  for (const e of entries) {
    const base = path.basename(e.path);
    if (base === '.wh..wh..opq') removeTree(tree, path.dirname(e.path), true);
    else if (base.startsWith('.wh.')) removeTree(tree, path.join(path.dirname(e.path), base.slice(4)), false);
  }
  for (const e of entries) {
    if (e.path === '/' || path.basename(e.path).startsWith('.wh.')) continue;
    const h = e.header;
    const pax = h.pax ?? {};
    const num = (paxKey: string, v: number | undefined) => (pax[paxKey] !== undefined ? Number(pax[paxKey]) : (v ?? 0));
    const xattrs: Record<string, string> = {};
    for (const k of Object.keys(pax).sort()) {
      if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = pax[k] ?? '';
    }
    const common = {
      path: e.path,
      mode: (h.mode ?? 0) & 0o7777,
      uid: num('uid', h.uid),
      gid: num('gid', h.gid),
      ...(Object.keys(xattrs).length > 0 ? { xattrs } : {}),
    };
    let entry: FileEntry;
    switch (h.type) {
      case 'file':
      case 'contiguous-file':
        entry = { ...common, type: 'file', size: e.size, sha256: e.sha256 ?? '' };
        break;
      case 'directory':
        entry = { ...common, type: 'dir', size: 0 };
        break;
      case 'symlink':
        entry = { ...common, type: 'symlink', size: 0, linkname: h.linkname ?? '' };
        break;
      case 'link': {
        // A hard link: the same inode as its target, which is already in the tree.
        // Which of the names is "the" file is arbitrary, so it is listed as a file.
        const target = tree.get(cleanPath(h.linkname ?? ''));
        if (!target) throw new Error(`${layerName}: hard link ${e.path} -> ${h.linkname}: target not found`);
        entry = { ...target, path: e.path };
        delete entry.implicit;
        break;
      }
      case 'character-device':
      case 'block-device':
        entry = {
          ...common,
          type: h.type === 'character-device' ? 'char' : 'block',
          size: 0,
          devmajor: h.devmajor ?? 0,
          devminor: h.devminor ?? 0,
        };
        break;
      case 'fifo':
        entry = { ...common, type: 'fifo', size: 0 };
        break;
      default:
        throw new Error(`${layerName}: ${e.path}: unexpected tar entry type ${String(h.type)}`);
    }
    const existing = tree.get(e.path);
    // A directory replaced by a non-directory takes its contents with it; a directory
    // entry over a directory only changes the directory's own attributes.
    if (existing?.type === 'dir' && entry.type !== 'dir') removeTree(tree, e.path, true);
    ensureParents(tree, e.path);
    tree.set(e.path, entry);
  }
}

export interface DiffOptions {
  /** Names of the two sides in messages; default ['a', 'b']. */
  names?: readonly [string, string];
  /** Also compare the history (created_by, empty_layer) and the layer count. Default false. */
  history?: boolean;
  /** Paths to leave out of the file comparison (exact paths or prefixes ending in '/'). */
  ignorePaths?: readonly string[];
}

/** Differences between two images, one readable line each; empty when they match. */
export function diffImages(a: ImageInfo, b: ImageInfo, options: DiffOptions = {}): string[] {
  const [na, nb] = options.names ?? ['a', 'b'];
  const out: string[] = [];
  for (const key of Object.keys(a.config) as Array<keyof NormalizedConfig>) {
    const va = JSON.stringify(a.config[key]);
    const vb = JSON.stringify(b.config[key]);
    if (va !== vb) out.push(`config.${key}: ${na}=${va} ${nb}=${vb}`);
  }
  if (options.history) {
    if (a.layerCount !== b.layerCount) out.push(`layers: ${na}=${a.layerCount} ${nb}=${b.layerCount}`);
    const n = Math.max(a.history.length, b.history.length);
    for (let i = 0; i < n; i++) {
      const ha = JSON.stringify(a.history[i] ? { createdBy: a.history[i]?.createdBy, emptyLayer: a.history[i]?.emptyLayer } : null);
      const hb = JSON.stringify(b.history[i] ? { createdBy: b.history[i]?.createdBy, emptyLayer: b.history[i]?.emptyLayer } : null);
      if (ha !== hb) out.push(`history[${i}]: ${na}=${ha} ${nb}=${hb}`);
    }
  }
  const ignored = (p: string) =>
    (options.ignorePaths ?? []).some((i) => (i.endsWith('/') ? p.startsWith(i) || p + '/' === i : p === i));
  const fa = new Map(a.files.filter((f) => !ignored(f.path)).map((f) => [f.path, f]));
  const fb = new Map(b.files.filter((f) => !ignored(f.path)).map((f) => [f.path, f]));
  const paths = [...new Set([...fa.keys(), ...fb.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  for (const p of paths) {
    const ea = fa.get(p);
    const eb = fb.get(p);
    if (!ea) {
      out.push(`${p}: only in ${nb} (${describeEntry(eb)})`);
      continue;
    }
    if (!eb) {
      out.push(`${p}: only in ${na} (${describeEntry(ea)})`);
      continue;
    }
    const fields: Array<[string, string, string]> = [
      ['type', ea.type, eb.type],
      ['mode', octal(ea.mode), octal(eb.mode)],
      ['owner', `${ea.uid}:${ea.gid}`, `${eb.uid}:${eb.gid}`],
      ['size', String(ea.size), String(eb.size)],
      ['sha256', ea.sha256 ?? '-', eb.sha256 ?? '-'],
      ['linkname', ea.linkname ?? '-', eb.linkname ?? '-'],
      ['device', `${ea.devmajor ?? '-'},${ea.devminor ?? '-'}`, `${eb.devmajor ?? '-'},${eb.devminor ?? '-'}`],
      ['xattrs', JSON.stringify(ea.xattrs ?? {}), JSON.stringify(eb.xattrs ?? {})],
    ];
    for (const [name, va, vb] of fields) {
      if (va !== vb) out.push(`${p}: ${name} ${na}=${va} ${nb}=${vb}`);
    }
  }
  return out;
}

/** Differences as one message for an assertion, at most `max` lines. */
export function formatDiff(diffs: readonly string[], max = 60): string {
  if (diffs.length === 0) return 'no differences';
  const shown = diffs.slice(0, max).map((d) => `  ${d}`);
  if (diffs.length > max) shown.push(`  ... and ${diffs.length - max} more`);
  return `${diffs.length} difference(s):\n${shown.join('\n')}`;
}

/** One line per entry, like `ls -l` without times: for golden files and debugging. */
export function listFiles(files: readonly FileEntry[]): string {
  return files
    .map((f) => {
      const extra = f.type === 'file' ? ` ${f.size} ${f.sha256?.slice(0, 12)}` : f.type === 'symlink' ? ` -> ${f.linkname}` : '';
      return `${f.type.padEnd(7)} ${octal(f.mode)} ${f.uid}:${f.gid} ${f.path}${extra}`;
    })
    .join('\n');
}

/** Finds an entry by absolute path. */
export function findFile(image: ImageInfo, p: string): FileEntry | undefined {
  return image.files.find((f) => f.path === p);
}

function octal(mode: number): string {
  return '0' + mode.toString(8).padStart(3, '0');
}

function describeEntry(e: FileEntry | undefined): string {
  if (!e) return '?';
  const what = e.type === 'file' ? `file, ${e.size} bytes` : e.type === 'symlink' ? `symlink -> ${e.linkname}` : e.type;
  return `${what}, ${octal(e.mode)}, ${e.uid}:${e.gid}`;
}
