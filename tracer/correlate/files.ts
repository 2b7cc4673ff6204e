// The file changes of a step, from its file events.
import { FileResult } from '../abi.js';
import type { FileChange } from '../decode/events.js';
import type { TraceAttributeChange, TraceFiles, TraceLink, TraceRename } from '../../model/index.js';
import { byString, sortedUnique } from './order.js';
import type { KernelEvent } from './records.js';

const O_ACCMODE = 0o3;
const O_TRUNC = 0o1000;
const O_TMPFILE = 0o20200000;
const O_PATH = 0o10000000;
const RENAME_EXCHANGE = 0x2;
const NO_ID = 0xffffffff;
const RENAMED_PLAIN = 1;
const RENAMED_EXCHANGE = 2;

/** A chmod's permission bits as the trace writes them (4 octal digits), made once each. */
const MODE_TEXTS: Array<string | undefined> = [];
function modeText(mode: number): string {
  const m = mode & 0o7777;
  return (MODE_TEXTS[m] ??= m.toString(8).padStart(4, '0'));
}

interface PathState {
  created: boolean;
  modified: boolean;
  deleted: boolean;
  exists: boolean | undefined;
}

/** The file changes of a step from its file events, fed in arrival order; the lists are
 * made by finish(). */
export class FileBuilder {
  private readonly states = new Map<string, PathState>();
  /** Each distinct rename once, in the order first seen: a loop that renames the same
   * names over and over costs no memory per rename. */
  private readonly renamed: TraceRename[] = [];
  /** from -> to -> which kinds of it are in `renamed` (RENAMED_PLAIN, RENAMED_EXCHANGE). */
  private readonly renamesSeen = new Map<string, Map<string, number>>();
  // by path, one map per kind: the path itself is the key (no key string made per event)
  private readonly chmods = new Map<string, Extract<TraceAttributeChange, { op: 'chmod' }>>();
  private readonly chowns = new Map<string, Extract<TraceAttributeChange, { op: 'chown' }>>();
  private readonly symlinks = new Map<string, TraceLink>();
  private readonly hardLinks = new Map<string, TraceLink>();
  private readonly read = new Set<string>();
  private unresolved = 0;
  private truncated = 0;
  private unknownOps = 0;
  /** Number of tracked paths strictly below each directory (renames of directories move them). */
  private readonly below = new Map<string, number>();
  private readonly stFn = (p: string): PathState => this.st(p);
  private readonly hasBelow = (d: string): boolean => (this.below.get(d) ?? 0) > 0;

  private st(p: string): PathState {
    let s = this.states.get(p);
    if (!s) {
      s = { created: false, modified: false, deleted: false, exists: undefined };
      this.states.set(p, s);
      const below = this.below;
      for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
        const dir = p.slice(0, i);
        below.set(dir, (below.get(dir) ?? 0) + 1);
      }
      if (p.startsWith('/') && p !== '/') below.set('/', (below.get('/') ?? 0) + 1);
    }
    return s;
  }

  private path(abs: string | undefined, given: string): string {
    if (abs !== undefined) return abs;
    this.unresolved++;
    return given;
  }

  private create(p: string): void {
    const s = this.st(p);
    s.created = true;
    s.exists = true;
  }

  add(f: FileChange): void {
    if (f.truncated) this.truncated++;
    switch (f.op) {
      case 'open': {
        if ((f.flags & O_TMPFILE) === O_TMPFILE) break; // unnamed until linkat gives it a name
        const unreachable = (f.result & FileResult.ResolvedUnreachable) !== 0;
        const p = f.resolved && !unreachable ? f.resolved : this.path(f.absPath1, f.path1);
        const write = (f.flags & O_ACCMODE) !== 0 || (f.flags & O_TRUNC) !== 0;
        if (f.created) this.create(p);
        else if (write && (f.flags & O_PATH) === 0) {
          const s = this.st(p);
          s.modified = true;
          s.exists = true;
        } else this.read.add(p);
        break;
      }
      case 'truncate': {
        const s = this.st(this.path(f.absPath1, f.path1 || f.resolved));
        s.modified = true;
        s.exists = true;
        break;
      }
      case 'unlink':
      case 'rmdir': {
        const s = this.st(this.path(f.absPath1, f.path1));
        s.deleted = true;
        s.exists = false;
        break;
      }
      case 'mkdir':
        this.create(this.path(f.absPath1, f.path1));
        break;
      case 'symlink': {
        const p = this.path(f.absPath2, f.path2);
        this.create(p);
        this.symlinks.set(p, { path: p, target: f.path1, kind: 'symlink' });
        break;
      }
      case 'link': {
        const p = this.path(f.absPath2, f.path2);
        this.create(p);
        this.hardLinks.set(p, { path: p, target: this.path(f.absPath1, f.path1), kind: 'hard' });
        break;
      }
      case 'rename': {
        const from = this.path(f.absPath1, f.path1);
        const to = this.path(f.absPath2, f.path2);
        const exchange = (f.flags & RENAME_EXCHANGE) !== 0;
        this.noteRename(from, to, exchange);
        moveStates(this.states, this.stFn, this.hasBelow, from, to, exchange);
        break;
      }
      case 'chmod': {
        const p = this.path(f.absPath1, f.path1 || f.resolved);
        const mode = modeText(f.mode);
        // the same change again (a loop's): nothing new to keep
        if (this.chmods.get(p)?.mode !== mode) this.chmods.set(p, { path: p, op: 'chmod', mode });
        break;
      }
      case 'chown': {
        const p = this.path(f.absPath1, f.path1 || f.resolved);
        this.chowns.set(p, {
          path: p,
          op: 'chown',
          uid: f.uid === NO_ID ? null : f.uid,
          gid: f.gid === NO_ID ? null : f.gid,
        });
        break;
      }
      default:
        this.unknownOps++;
    }
  }

  private noteRename(from: string, to: string, exchange: boolean): void {
    let byTo = this.renamesSeen.get(from);
    if (byTo === undefined) {
      byTo = new Map();
      this.renamesSeen.set(from, byTo);
    }
    const seen = byTo.get(to) ?? 0;
    const kind = exchange ? RENAMED_EXCHANGE : RENAMED_PLAIN;
    if ((seen & kind) !== 0) return;
    byTo.set(to, seen | kind);
    this.renamed.push(exchange ? { from, to, exchange } : { from, to });
  }

  finish(traceReads: boolean, warn: (w: string) => void): TraceFiles {
    if (this.unresolved) warn(`${this.unresolved} file path(s) could not be made absolute (directory unreachable): recorded as given`);
    if (this.truncated) warn(`${this.truncated} file event(s) had a path truncated by the probe`);
    if (this.unknownOps) warn(`${this.unknownOps} file event(s) of an unknown operation were not classified`);
    // one pass over the states instead of one per list
    const created: string[] = [];
    const modified: string[] = [];
    const deleted: string[] = [];
    const transient: string[] = [];
    for (const [p, st] of this.states) {
      if (st.created) {
        created.push(p);
        if (st.exists === false) transient.push(p);
      } else if (st.modified) modified.push(p);
      if (st.deleted) deleted.push(p);
    }
    const files: TraceFiles = {
      // map keys are unique already: sorting is enough
      created: created.sort(),
      modified: modified.sort(),
      deleted: deleted.sort(),
      // distinct already, in the order first seen (which the sort keeps for a path renamed
      // both ways, plain and exchanged)
      renamed: [...this.renamed].sort((a, b) => byString(a.from, b.from) || byString(a.to, b.to)),
      transient: transient.sort(),
      attributes: [...this.chmods.values(), ...this.chowns.values()].sort((a, b) => byString(a.path, b.path) || byString(a.op, b.op)),
      links: [...this.symlinks.values(), ...this.hardLinks.values()].sort((a, b) => byString(a.path, b.path) || byString(a.kind, b.kind)),
    };
    if (traceReads) files.read = sortedUnique(this.read);
    return files;
  }
}

export function buildFiles(events: readonly KernelEvent[], traceReads: boolean, warn: (w: string) => void): TraceFiles {
  const b = new FileBuilder();
  for (const ev of events) if (ev.kind === 'file') b.add(ev);
  return b.finish(traceReads, warn);
}

/** A rename moves what happened to `from` (and everything below it) to `to`. */
function moveStates(
  states: Map<string, PathState>,
  st: (p: string) => PathState,
  hasBelow: (dir: string) => boolean,
  from: string,
  to: string,
  exchange: boolean,
): void {
  if (from === to) return;
  if (!exchange && !hasBelow(from)) {
    // a name with nothing tracked below it (a file, an empty directory): what the general
    // case below does for it, without copying its state
    const own = states.get(from);
    const created = own?.created === true;
    const modified = own?.modified === true;
    st(from).exists = false;
    const t = st(to);
    if (created) t.created = true;
    if (modified) t.modified = true;
    t.exists = true;
    return;
  }
  const snapshot = (root: string): Array<[string, PathState]> => {
    const out: Array<[string, PathState]> = [];
    const own = states.get(root);
    if (own) out.push(['', { ...own }]);
    if (hasBelow(root)) {
      const prefix = root === '/' ? '/' : `${root}/`;
      for (const [p, s] of states) if (p.startsWith(prefix)) out.push([p.slice(root.length), { ...s }]);
    }
    return out;
  };
  const fromStates = snapshot(from);
  const toStates = exchange ? snapshot(to) : [];
  const carry = (root: string, moved: Array<[string, PathState]>): void => {
    for (const [rel, s] of moved) {
      const t = st(root + rel);
      if (s.created) t.created = true;
      if (s.modified) t.modified = true;
      t.exists = s.exists !== false;
    }
  };
  // the source names are gone (unless swapped)
  if (!exchange) for (const [rel] of fromStates) st(from + rel).exists = false;
  st(from).exists = exchange;
  carry(to, fromStates);
  st(to).exists = true;
  if (exchange) carry(from, toStates);
}

export function emptyFiles(read: boolean): TraceFiles {
  const f: TraceFiles = { created: [], modified: [], deleted: [], renamed: [], transient: [], attributes: [], links: [] };
  if (read) f.read = [];
  return f;
}
