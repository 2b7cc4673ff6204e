// The processes of a step: one record per image a process ran (or one for a process that
// forked and never exec'd), from its exec, fork and exit events.
import type { ExecEventData } from '../decode/events.js';
import { exitInfo, type ExitInfo } from '../decode/fork-exit.js';
import type { TraceProcess } from '../../model/index.js';
import { digestOf, scriptDigest, setExeDigest, type DigestInfo } from './digests.js';
import type { KernelEvent } from './records.js';
import { ms } from './time.js';

interface Image {
  exec: ExecEventData;
}

/** What a process record (TB_EV_PROC) brings a step: the process, its fork (when the fork
 * is this step's), the exec whose image it ran when forked, and its exit (when seen). */
export interface ProcParts {
  tgid: number;
  start: bigint;
  fork: { ts: bigint; ppid: number } | undefined;
  image: { tgid: number; start: bigint; execId: bigint } | undefined;
  exit: ExitInfo | undefined;
}

/** Processes that forked and never exec'd, beyond the ones listed: counted (see
 * TraceUnlistedProcesses, model/trace.ts). */
export interface Unlisted {
  count: number;
  exitedZero: number;
  exitedNonZero: number;
  killed: number;
  firstStart: bigint | undefined;
  lastExit: bigint | undefined;
  userNs: number;
  sysNs: number;
}

/** How many processes that never exec'd a step lists (in exit order); the others are
 * counted. A step of a million of them keeps a trace of bounded size. Chosen from the CLI's
 * peak RSS at 100,000 of them (bench/trace.mjs --workload processes): 344 MiB listing 65,536
 * (~450 bytes of heap each while the build runs, ~570 bytes of JSON each in the trace), 166
 * MiB listing 16,384; the target is 256 MiB. */
export const FORK_ONLY_LISTED_MAX = 16384;

interface Incarnation {
  tgid: number;
  /** The process's start time (boot clock): with tgid, what names it. */
  start: bigint;
  /** Order of appearance: with the image index, the order of records with equal times. */
  seq: number;
  /** NO_IMAGES until it execs (most processes of a build never do: one array less each). */
  images: Image[];
  /** Images whose records are made already (the first `made` of them). */
  made: number;
  forkTs?: bigint;
  forkPpid?: number;
  /** The parent's image at the time of the fork (for a child that never execs). */
  inherited?: Image;
  exit?: ExitInfo;
  /** Its records are all made (it exited): it keeps no event. */
  finished?: boolean;
  /** It never exec'd and exited beyond the step's listed ones: counted, not listed. */
  folded: boolean;
  /** The incarnations of its tgid (pid reused), once there is more than one; else undefined. */
  sameTgid: Incarnation[] | undefined;
}

const NO_IMAGES: Image[] = [];
Object.freeze(NO_IMAGES);

/** What a process record is sorted by. */
interface ProcessRecord {
  p: TraceProcess;
  ts: bigint;
  seq: number;
  sub: number;
}

/** How records are made while the events arrive. */
export interface RecordContext {
  digests: DigestInfo;
  /** Boot-clock ns -> ISO wall time, once the clock is known (the READY record). */
  iso: ((ts: bigint) => string) | undefined;
  /** How many processes that never exec'd a step lists (default FORK_ONLY_LISTED_MAX). */
  forkOnlyListed?: number;
}

/**
 * The processes of a step from its exec, fork and exit events, fed in arrival order (one
 * at a time while the build runs). A process's records are made as soon as they are
 * complete (an image when the next exec replaces it, the last one at the exit) and its
 * events are dropped; what is still running, or whose digest had not arrived, is made by
 * finish(). The records, their order and their fields are those of making them all at the
 * end: the same functions make them, and the order is (time, pid, order of appearance).
 */
export class ProcessBuilder {
  // A process is (tgid, start time): pids are reused. By tgid: the incarnation an event
  // named last (a fork's parent is that one); the others of a reused pid in its sameTgid.
  private readonly byTgid = new Map<number, Incarnation>();
  private readonly incs: Incarnation[] = [];
  private readonly records: ProcessRecord[] = [];
  /** The exec images seen, by tgid: a process record names the one its process inherited. */
  private readonly images = new Map<number, Image[]>();
  /** Processes that never exec'd, from process records, whose record is made at finish()
   * (still running, or their image's digest had not come). */
  private readonly pending: Incarnation[] = [];
  private listedForkOnly = 0;
  /** How many processes that never exec'd it lists. */
  readonly listedMax: number;
  readonly unlisted: Unlisted = {
    count: 0,
    exitedZero: 0,
    exitedNonZero: 0,
    killed: 0,
    firstStart: undefined,
    lastExit: undefined,
    userNs: 0,
    sysNs: 0,
  };
  private seq = 0;
  /** An event came for a process whose records were made: finish() cannot be trusted. */
  inexact = false;

  constructor(private readonly ctx?: RecordContext) {
    this.listedMax = ctx?.forkOnlyListed ?? FORK_ONLY_LISTED_MAX;
  }

  private get(tgid: number, start: bigint): Incarnation {
    const current = this.byTgid.get(tgid);
    if (current !== undefined && current.start === start) {
      if (current.finished) this.inexact = true;
      return current;
    }
    let inc = current === undefined ? undefined : sameStart(current.sameTgid, start);
    if (inc === undefined) {
      // every field from the start: one shape for all of them (see newCg, cgroups.ts)
      inc = {
        tgid,
        start,
        seq: this.seq++,
        images: NO_IMAGES,
        made: 0,
        forkTs: undefined,
        forkPpid: undefined,
        inherited: undefined,
        exit: undefined,
        finished: false,
        folded: false,
        sameTgid: undefined,
      };
      if (current !== undefined) {
        // one list, shared by all of them
        if (current.sameTgid === undefined) current.sameTgid = [current];
        current.sameTgid.push(inc);
        inc.sameTgid = current.sameTgid;
      }
      this.incs.push(inc);
    } else if (inc.finished) this.inexact = true;
    this.byTgid.set(tgid, inc);
    return inc;
  }

  add(ev: KernelEvent): void {
    if (ev.kind === 'exec') {
      const inc = this.get(ev.header.tgid, ev.startBoottimeNs);
      const img = { exec: ev };
      if (inc.images === NO_IMAGES) inc.images = [img];
      else inc.images.push(img);
      const same = this.images.get(ev.header.tgid);
      if (same === undefined) this.images.set(ev.header.tgid, [img]);
      else same.push(img);
      this.makeReplaced(inc);
    } else if (ev.kind === 'fork') this.fork(ev.header.tgid, ev.header.tsNs, ev.childTgid, ev.childStartBoottimeNs);
    else if (ev.kind === 'exit') this.exit(ev.header.tgid, exitInfo(ev));
  }

  /** The image of exec (tgid, start, execId), if this step saw it. */
  private imageOf(key: NonNullable<ProcParts['image']>): Image | undefined {
    const list = this.images.get(key.tgid);
    if (list === undefined) return undefined;
    for (let i = list.length - 1; i >= 0; i--) {
      const img = list[i] as Image;
      if (img.exec.execId === key.execId && img.exec.startBoottimeNs === key.start) return img;
    }
    return undefined;
  }

  /**
   * A process record. A process that exec'd in this step has its images here already: the
   * record brings its exit. One that never did is made now from the record alone: its fork,
   * the image it inherited (the step's exec the loader named, if the fork is the step's),
   * its exit; the same record the fork and exit events make (fork, exit).
   */
  process(p: ProcParts): void {
    const current = this.byTgid.get(p.tgid);
    const inc = current !== undefined && current.start === p.start ? current : sameStart(current?.sameTgid, p.start);
    if (inc !== undefined) {
      if (p.fork !== undefined && inc.forkTs === undefined) {
        inc.forkTs = p.fork.ts;
        inc.forkPpid = p.fork.ppid;
      }
      if (p.exit !== undefined) this.exit(p.tgid, p.exit);
      return;
    }
    const from = p.fork !== undefined && p.image !== undefined ? this.imageOf(p.image) : undefined;
    const forkTs = p.fork?.ts;
    const seq = this.seq++;
    if (p.exit !== undefined) {
      if (this.foldForkOnly(p.exit, forkTs)) return;
      const iso = this.ctx?.iso;
      const r = iso ? forkOnlyRecordOf(p.tgid, seq, forkTs, p.fork?.ppid, from, p.exit, this.ctx?.digests as DigestInfo, iso, true) : undefined;
      if (r) {
        this.records.push(r);
        return;
      }
    }
    // still running at the end (or its exit was lost: listed), or its image's digest is to come
    this.pending.push({
      tgid: p.tgid,
      start: p.start,
      seq,
      images: NO_IMAGES,
      made: 0,
      forkTs,
      forkPpid: p.fork?.ppid,
      inherited: from,
      exit: p.exit,
      finished: false,
      folded: false,
      sameTgid: undefined,
    });
  }

  /** A process that never exec'd has exited: beyond the listed ones it is counted (true). */
  private foldForkOnly(x: ExitInfo, forkTs: bigint | undefined): boolean {
    if (this.listedForkOnly < this.listedMax) {
      this.listedForkOnly++;
      return false;
    }
    const u = this.unlisted;
    u.count++;
    if (x.signal !== undefined) u.killed++;
    else if (x.exitCode === 0) u.exitedZero++;
    else u.exitedNonZero++;
    const start = forkTs ?? x.startBoottimeNs;
    if (u.firstStart === undefined || start < u.firstStart) u.firstStart = start;
    if (u.lastExit === undefined || x.tsNs > u.lastExit) u.lastExit = x.tsNs;
    u.userNs += x.utimeNs;
    u.sysNs += x.stimeNs;
    return true;
  }

  /** `tgid` forked a new process at `ts` (also read straight from fork records). */
  fork(tgid: number, ts: bigint, childTgid: number, childStart: bigint): void {
    const parent = this.byTgid.get(tgid);
    const child = this.get(childTgid, childStart);
    child.forkTs = ts;
    child.forkPpid = tgid;
    const img = parent ? lastImage(parent) : undefined;
    if (img) child.inherited = img;
  }

  /** The last thread of `tgid` exited (also read straight from exit records). */
  exit(tgid: number, x: ExitInfo): void {
    const inc = this.get(tgid, x.startBoottimeNs);
    inc.exit = x;
    if (inc.images.length === 0 && !inc.finished && !inc.folded && this.foldForkOnly(x, inc.forkTs)) {
      inc.folded = true;
      this.finishFolded(inc);
      return;
    }
    this.makeExited(inc);
  }

  /** A folded process keeps no event either: what a later child inherits, as makeExited. */
  private finishFolded(inc: Incarnation): void {
    inc.exit = undefined;
    inc.finished = true;
  }

  /** The records of images an exec replaced, when they can be made now. */
  private makeReplaced(inc: Incarnation): void {
    const iso = this.ctx?.iso;
    if (!iso) return;
    while (inc.made < inc.images.length - 1) {
      const r = imageRecord(inc, inc.made, this.ctx?.digests as DigestInfo, iso, true);
      if (!r) return;
      this.records.push(r);
      inc.made++;
    }
  }

  /** All records of a process that exited, when they can be made now; then it keeps no event. */
  private makeExited(inc: Incarnation): void {
    const iso = this.ctx?.iso;
    if (!iso) return;
    const digests = this.ctx?.digests as DigestInfo;
    if (inc.images.length === 0) {
      const r = forkOnlyRecord(inc, digests, iso, true);
      if (!r) return;
      this.records.push(r);
    } else {
      while (inc.made < inc.images.length) {
        const r = imageRecord(inc, inc.made, digests, iso, true);
        if (!r) return;
        this.records.push(r);
        inc.made++;
      }
    }
    // a child forked later by this tgid (pid reused, its exec lost) inherits what it ran last
    const last = lastImage(inc);
    inc.images = NO_IMAGES;
    inc.made = 0;
    inc.inherited = last;
    inc.exit = undefined;
    inc.finished = true;
  }

  finish(digests: DigestInfo, iso: (ts: bigint) => string): TraceProcess[] {
    const out = this.records.slice();
    for (const inc of this.pending) out.push(forkOnlyRecord(inc, digests, iso, false) as ProcessRecord);
    for (const inc of this.incs) {
      if (inc.finished || inc.folded) continue;
      if (inc.images.length === 0) {
        out.push(forkOnlyRecord(inc, digests, iso, false) as ProcessRecord);
        continue;
      }
      for (let i = inc.made; i < inc.images.length; i++) out.push(imageRecord(inc, i, digests, iso, false) as ProcessRecord);
    }
    out.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.p.pid - b.p.pid || a.seq - b.seq || a.sub - b.sub));
    return out.map((x) => x.p);
  }
}

function sameStart(incs: readonly Incarnation[] | undefined, start: bigint): Incarnation | undefined {
  if (incs === undefined) return undefined;
  for (let i = 0; i < incs.length; i++) if ((incs[i] as Incarnation).start === start) return incs[i];
  return undefined;
}

function lastImage(inc: Incarnation): Image | undefined {
  return inc.images[inc.images.length - 1] ?? inc.inherited;
}

function exitFields(p: TraceProcess, exit: ExitInfo | undefined, iso: (ts: bigint) => string): void {
  if (!exit) {
    p.exitMissing = true;
    return;
  }
  p.exitCode = exit.exitCode ?? null;
  if (exit.signal !== undefined) p.signal = exit.signal;
  p.finishedOn = iso(exit.tsNs);
  p.cpuUserMs = ms(exit.utimeNs);
  p.cpuSystemMs = ms(exit.stimeNs);
  p.maxRssKb = exit.maxRssKiB;
}

/**
 * The record of a process that forked and never exec'd. `early`: made before the end of
 * the events, so undefined when its digest has not arrived yet (made again at the end).
 */
function forkOnlyRecord(inc: Incarnation, digests: DigestInfo, iso: (ts: bigint) => string, early: boolean): ProcessRecord | undefined {
  return forkOnlyRecordOf(inc.tgid, inc.seq, inc.forkTs, inc.forkPpid, inc.inherited, inc.exit, digests, iso, early);
}

/** forkOnlyRecord from the fields it reads (a process record's, without an Incarnation). */
function forkOnlyRecordOf(
  tgid: number,
  seq: number,
  forkTs: bigint | undefined,
  forkPpid: number | undefined,
  inherited: Image | undefined,
  exit: ExitInfo | undefined,
  digests: DigestInfo,
  iso: (ts: bigint) => string,
  early: boolean,
): ProcessRecord | undefined {
  const from = inherited?.exec;
  const rec = from ? digestOf(from, digests, 'exe') : undefined;
  if (early && from && !rec?.sha256) return undefined;
  const ts = forkTs ?? exit?.startBoottimeNs ?? exit?.tsNs ?? 0n;
  const p: TraceProcess = {
    pid: tgid,
    ppid: forkPpid ?? from?.header.tgid ?? 0,
    argv: from ? from.argv.slice() : [],
    exe: from?.exePath ?? '',
    exeSha256: null,
    execed: false,
    exitCode: null,
    startedOn: iso(ts),
    finishedOn: null,
  };
  if (from) setExeDigest(p, from, rec, digests);
  else p.digestMissing = 'no exec observed for this process or its parent';
  exitFields(p, exit, iso);
  return { p, ts, seq, sub: 0 };
}

/** The record of the i-th image of a process (see forkOnlyRecord for `early`). */
function imageRecord(inc: Incarnation, i: number, digests: DigestInfo, iso: (ts: bigint) => string, early: boolean): ProcessRecord | undefined {
  const e = (inc.images[i] as Image).exec;
  const rec = digestOf(e, digests, 'exe');
  const scriptRec = e.script ? digestOf(e, digests, 'script') : undefined;
  if (early && (!rec?.sha256 || (e.script && !scriptRec?.sha256))) return undefined;
  const script = e.script ? scriptDigest(e, scriptRec, digests) : undefined;
  const p: TraceProcess = {
    pid: inc.tgid,
    ppid: e.ppid,
    argv: e.argv.slice(),
    exe: e.exePath,
    exeSha256: null,
    execed: true,
    exitCode: null,
    startedOn: iso(e.header.tsNs),
    finishedOn: null,
  };
  setExeDigest(p, e, rec, digests);
  if (e.argvTruncated) p.argvTruncated = true;
  if (script) {
    p.script = script;
    if (e.interp !== undefined) p.interpreter = e.interp;
  }
  if (e.cwd) p.cwd = e.cwd;
  p.uid = e.uid;
  p.gid = e.gid;
  const next = inc.images[i + 1];
  if (next) {
    p.replacedByExec = true;
    p.finishedOn = iso(next.exec.header.tsNs);
  } else exitFields(p, inc.exit, iso);
  return { p, ts: e.header.tsNs, seq: inc.seq, sub: i };
}
