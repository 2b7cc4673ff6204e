// The correlator: decoded probe events + what the frontend and BuildKit said about the
// build -> the per-instruction trace (trace-types.ts). Pure: no I/O, no clock, no
// environment; the same input gives the same trace.
//
// Attribution (DESIGN.md "Attributing kernel events to instructions"):
// 1. Every traced cgroup is known from its cgroup-mkdir event (id, path, time) or, if that
//    was lost, from the events tagged with its id. A cgroup whose path lies below another
//    known cgroup's path is nested: it belongs wherever its ancestor belongs.
// 2. For a top-level cgroup, its exec events are scanned in arrival order. The first exec
//    whose argv equals the `execArgs` of a RUN step (see argvMatches: exact, or the argv
//    the kernel builds for a #! script) whose vertex was not cached and was running when
//    the cgroup appeared, starts the step. Running means started <= t <= completed (tier
//    'running'); failing that, within `toleranceMs` of that window ('tolerance'); failing
//    that, a vertex BuildKit gave no times for ('untimed'). Events of the cgroup that
//    arrived before that exec are runc's container setup (host paths): excluded from the
//    step, counted in runcSetupEvents.
// 3. A cgroup with one candidate goes to it. Cgroups with several candidates (identical
//    commands running in parallel stages) are then assigned in order of appearance, each to
//    the earliest-started candidate that has no cgroup yet (else the earliest); every
//    candidate step carries `ambiguous` and the trace lists the ambiguity: never silent.
// 4. Events of cgroups attributed to no step are counted in unattributedEvents and listed
//    by cgroup.
// COPY/ADD run inside the daemon: their record is the served context files matching their
// source patterns (Docker's rules: `*`, `?`, `[...]` per path segment, a matched directory
// includes everything under it). Cached steps did not run and are recorded as cached.
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import { ARGV_MAX, EventType, FileResult } from './abi.js';
import {
  RAW,
  absolutePath,
  decodeRecord,
  exitInfo,
  exitInfoAt,
  fileChangeAt,
  lossCountersFromSlots,
  totalLost,
  type ExitInfo,
  type FileChange,
  type CgroupEventData,
  type DigestEventData,
  type ExecEventData,
  type LossCounters,
  type NetEventData,
  type ReadyEventData,
  type TraceEvent,
} from './decode.js';
import type { MonitorGap } from './probe.js';
import type {
  Trace,
  TraceAmbiguityRecord,
  TraceAttributeChange,
  TraceBuildStep,
  TraceCgroup,
  TraceCopy,
  TraceCopySource,
  TraceFiles,
  TraceLink,
  TraceLosses,
  TraceMonitor,
  TraceMonitorGap,
  TraceNetwork,
  TraceProcess,
  TraceRename,
  TraceResources,
  TraceScript,
  TraceStepStatus,
  TraceUnattributedCgroup,
} from './trace-types.js';

// ---- input -----------------------------------------------------------------------------

/** One Dockerfile instruction as converted (the frontend's source map entry + LLB detail). */
export interface CorrelateStep {
  /** LLB vertex digest (sha256:...). */
  vertex: string;
  instruction: string;
  keyword: string;
  line: number;
  endLine?: number;
  /** Stage name, or its index as a string. */
  stage: string;
  /** RUN: the exec op's meta.args, exactly as in the LLB. */
  execArgs?: readonly string[];
  /** COPY/ADD: source paths/patterns (variables expanded), relative to the context. */
  copySources?: readonly string[];
  copyDestination?: string;
  /** COPY --from / ADD from another stage or image: sources are not from the context. */
  copyFrom?: string;
}

/** The last state of a vertex in BuildKit's Status stream. */
export interface CorrelateVertex {
  digest: string;
  name?: string;
  cached: boolean;
  started?: Date;
  completed?: Date;
  /** Exact times (ns since the Unix epoch); preferred over started/completed. */
  startedNs?: bigint;
  completedNs?: bigint;
  error?: string;
}

/** A regular file the build-context session sent (path relative to the context). */
export interface CorrelateServedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface CorrelateInput {
  /** Decoded probe events in arrival order (including ready, loss, digest records). */
  events: readonly TraceEvent[];
  steps: readonly CorrelateStep[];
  vertices: readonly CorrelateVertex[];
  servedFiles?: readonly CorrelateServedFile[];
  /**
   * Kernel timestamps are CLOCK_BOOTTIME ns; wall clock = tsNs + realtimeOffsetNs.
   * Default: the probe's READY record (ReadyEventData.realtimeOffsetNs).
   */
  clock?: { realtimeOffsetNs: bigint };
  /** Merged into trace.monitor (name defaults to "tracebuild-probe"). */
  monitor?: { name?: string; version?: string; kernel?: string; [key: string]: unknown };
  /** Final loss counters (Probe.stop().losses); default: the last loss record in events. */
  losses?: LossCounters;
  /** Where the probe stopped watching (ProbeExit.gap, onGap). */
  monitorGaps?: readonly MonitorGap[];
  options?: CorrelateOptions;
}

export interface CorrelateOptions {
  /** Slack around a vertex's started/completed when no vertex was strictly running (default 1000). */
  toleranceMs?: number;
}

export type CorrelateErrorCode = 'no-clock';

export class CorrelateError extends Error {
  override readonly name = 'CorrelateError';
  constructor(
    readonly code: CorrelateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

// ---- helpers ---------------------------------------------------------------------------

const O_ACCMODE = 0o3;
const O_TRUNC = 0o1000;
const O_TMPFILE = 0o20200000;
const O_PATH = 0o10000000;
const RENAME_EXCHANGE = 0x2;
const EINPROGRESS = 115;
const NO_ID = 0xffffffff;

const ERRNO_NAMES = new Map<number, string>(Object.entries(osConstants.errno).map(([k, v]) => [v, k]));

function errnoText(e: number): string {
  const n = Math.abs(e);
  const name = ERRNO_NAMES.get(n);
  return name ? `errno ${n} (${name})` : `errno ${n}`;
}

/** ns -> ms with microsecond precision. */
function ms(ns: bigint): number {
  return Math.round(Number(ns) / 1e3) / 1e3;
}

function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortedUnique(xs: Iterable<string>): string[] {
  // the default order of sort() is byString's (UTF-16 code units), without a callback
  return [...new Set(xs)].sort();
}

function vertexTimes(v: CorrelateVertex | undefined): { start?: bigint; end?: bigint } {
  if (!v) return {};
  const start = v.startedNs ?? (v.started ? BigInt(v.started.getTime()) * 1_000_000n : undefined);
  const end = v.completedNs ?? (v.completed ? BigInt(v.completed.getTime()) * 1_000_000n : undefined);
  return { start, end };
}

/** Splits NUL-separated bytes the way decode.ts splits an exec's argv. */
function splitArgv(raw: string): string[] {
  const argv = raw.split('\0');
  if (argv.length > 0 && argv[argv.length - 1] === '') argv.pop();
  return argv;
}

function arraysEqual(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The argv the probe would record for `args` (truncated to its limit when it was). */
function recordedArgv(args: readonly string[], truncated: boolean): string[] {
  if (!truncated) return [...args];
  const bytes = Buffer.from(args.map((a) => `${a}\0`).join(''), 'utf8');
  return splitArgv(bytes.subarray(0, ARGV_MAX).toString('utf8'));
}

/**
 * Does this exec run the vertex's command? Exact argv; or, for a #! script, the argv the
 * kernel builds: [interpreter, optional interpreter argument, filename, args[1..]], where
 * filename is args[0] or its PATH lookup (runc resolves a bare name).
 */
export function argvMatches(execArgs: readonly string[], exec: ExecEventData): boolean {
  if (arraysEqual(recordedArgv(execArgs, exec.argvTruncated), exec.argv)) return true;
  if (!exec.script || execArgs.length === 0) return false;
  const arg0 = execArgs[0] as string;
  const fileOk = exec.filename === arg0 || (!arg0.includes('/') && exec.filename.endsWith(`/${arg0}`));
  if (!fileOk) return false;
  for (const k of [1, 2]) {
    if (exec.argv[k] !== exec.filename) continue;
    const expected = [...exec.argv.slice(0, k), exec.filename, ...execArgs.slice(1)];
    if (arraysEqual(recordedArgv(expected, exec.argvTruncated), exec.argv)) return true;
  }
  return false;
}

// ---- Docker's source patterns (Go filepath.Match per segment) ----------------------------

function segmentRegExp(pattern: string): RegExp | undefined {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) return undefined;
      re += escapeRe(pattern[i] as string);
    } else if (c === '[') {
      let j = i + 1;
      let cls = '';
      if (pattern[j] === '^') {
        cls += '^';
        j++;
      }
      let closed = false;
      let first = true;
      for (; j < pattern.length; j++) {
        let ch = pattern[j] as string;
        if (ch === ']' && !first) {
          closed = true;
          break;
        }
        first = false;
        if (ch === '\\') {
          j++;
          if (j >= pattern.length) return undefined;
          ch = pattern[j] as string;
        }
        if (ch === '-' && cls !== '' && cls !== '^' && pattern[j + 1] !== ']' && j + 1 < pattern.length) {
          cls += '-';
          continue;
        }
        cls += ch === '\\' || ch === ']' || ch === '[' || ch === '^' || ch === '-' ? `\\${ch}` : ch;
      }
      if (!closed || cls === '' || cls === '^') return undefined;
      re += `[${cls}]`;
      i = j;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`^${re}$`, 's');
  } catch {
    return undefined;
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function cleanContextPath(p: string): string {
  const n = posix.normalize(`/${p}`).replace(/^\/+/, '').replace(/\/+$/, '');
  return n === '.' ? '' : n;
}

/**
 * Does the context file `file` fall under the COPY/ADD source `pattern`? Both relative to
 * the context root. Wildcards match within one path segment, and a segment `**` matches
 * any number of segments (as BuildKit's copy patterns do); a pattern naming (or matching)
 * a directory includes every file below it; "." is the whole context.
 */
export function matchesCopySource(pattern: string, file: string): boolean {
  const p = cleanContextPath(pattern);
  if (p === '') return true;
  const f = cleanContextPath(file);
  return matchSegments(p.split('/'), 0, f === '' ? [] : f.split('/'), 0);
}

function matchSegments(ps: readonly string[], i: number, fs: readonly string[], j: number): boolean {
  if (i === ps.length) return true; // the rest of the file is below what matched
  const seg = ps[i] as string;
  if (seg === '**') {
    for (let k = j; k <= fs.length; k++) if (matchSegments(ps, i + 1, fs, k)) return true;
    return false;
  }
  if (j === fs.length) return false;
  const name = fs[j] as string;
  const re = segmentRegExp(seg);
  return (re ? re.test(name) : seg === name) && matchSegments(ps, i + 1, fs, j + 1);
}

const REMOTE = /^(https?:\/\/|git@|git:\/\/|ssh:\/\/)/;

function copyRecord(step: CorrelateStep, served: readonly CorrelateServedFile[], cached: boolean): TraceCopy {
  const patterns = [...(step.copySources ?? [])];
  const out: TraceCopy = { patterns, sources: [], unmatchedPatterns: [], destination: step.copyDestination ?? '' };
  if (step.copyFrom !== undefined) {
    out.from = step.copyFrom;
    return out;
  }
  const remote = patterns.filter((p) => REMOTE.test(p));
  if (remote.length) out.remote = remote;
  if (cached) return out;
  const local = patterns.filter((p) => !REMOTE.test(p));
  const byPath = new Map<string, TraceCopySource>();
  for (const pat of local) {
    let any = false;
    for (const f of served) {
      if (!matchesCopySource(pat, f.path)) continue;
      any = true;
      const path = cleanContextPath(f.path);
      byPath.set(path, { path, size: f.size, sha256: f.sha256 });
    }
    if (!any) out.unmatchedPatterns.push(pat);
  }
  out.sources = [...byPath.values()].sort((a, b) => byString(a.path, b.path));
  return out;
}

// ---- cgroups ---------------------------------------------------------------------------

type KernelEvent = Exclude<TraceEvent, { kind: 'ready' | 'loss' | 'ack' }>;

interface Cg {
  id: bigint;
  path: string;
  mkdir?: CgroupEventData;
  rmdir?: CgroupEventData;
  /** Indices (into input.events) of the events tagged with this cgroup (not mkdir/rmdir). */
  events: number[];
  firstTs?: bigint;
  lastTs?: bigint;
  parent?: Cg;
  /** While pushing: the cgroup it was nested in when it appeared (the final nesting is parent). */
  parentNow?: Cg;
  /** While pushing: the top-level cgroup whose builder its events went to. */
  feeds?: Cg;
  /** A top-level cgroup's speculative builder, from its first exec on. */
  spec?: Speculation;
  /** Indices of its exec events (kept decoded: attribution reads them). */
  execs: number[];
  /** Its events that say something was lost (undecoded, an exec not stopped, a failed digest). */
  lossy: number;
}

/** What a top-level cgroup's events made while the build ran (see Correlation). */
interface Speculation {
  startIndex: number;
  builder: StepBuilder;
  /** The cgroups whose events the builder took (the last one: events come in runs). */
  fed: Set<Cg>;
  lastFed?: Cg;
  /** Over all their events from startIndex on (digests too), as the per-step figures are. */
  firstTs?: bigint;
  lastTs?: bigint;
  userNs: bigint;
  sysNs: bigint;
  maxRssKiB: bigint;
}

type Tier = 'running' | 'tolerance' | 'untimed';

interface Candidate {
  vertex: string;
  args: readonly string[];
  start?: bigint;
  end?: bigint;
}

interface Attribution {
  vertex: string;
  startIndex: number;
  how: TraceCgroup['attribution'];
  candidates: string[];
}

function appearedAt(cg: Cg): bigint | undefined {
  return cg.mkdir?.header.tsNs ?? cg.firstTs;
}

// ---- processes -------------------------------------------------------------------------

interface Image {
  exec: ExecEventData;
}

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
interface RecordContext {
  digests: DigestInfo;
  /** Boot-clock ns -> ISO wall time, once the clock is known (the READY record). */
  iso: ((ts: bigint) => string) | undefined;
}

interface DigestInfo {
  enabled: boolean | undefined;
  /** By tgid (then matched on tsNs): string keys built from bigints cost more than the rest. */
  byExec: Map<number, DigestEventData[]>;
}

/** The first digest record of this kind for one exec (same tgid and tsNs). Plain loops
 * here and below: these run for every process while the build runs, and closures, spreads
 * and short-lived result objects made the optimizing compiler's work (on the build's CPUs)
 * cost more than the records themselves. */
function digestOf(exec: ExecEventData, d: DigestInfo, kind: DigestEventData['digestKind']): DigestEventData | undefined {
  const list = d.byExec.get(exec.header.tgid);
  if (list === undefined) return undefined;
  const ts = exec.header.tsNs;
  for (let i = 0; i < list.length; i++) {
    const r = list[i] as DigestEventData;
    if (r.header.tsNs === ts && r.digestKind === kind) return r;
  }
  return undefined;
}

function hashFailure(rec: DigestEventData): string {
  return rec.fromPeer
    ? `not hashed: the probe of a concurrent traced build stopped this exec and did not deliver its digest (${errnoText(rec.error)})`
    : `hashing failed: ${errnoText(rec.error)}`;
}

/** Sets exeSha256 from the exec's digest record `rec` (digestOf 'exe'), or says why there is none. */
function setExeDigest(p: TraceProcess, exec: ExecEventData, rec: DigestEventData | undefined, d: DigestInfo): void {
  if (rec?.sha256) {
    p.exeSha256 = rec.sha256;
    if (rec.identityMismatch) p.digestIdentityMismatch = true;
    return;
  }
  p.exeSha256 = null;
  if (rec) p.digestMissing = hashFailure(rec);
  else if (d.enabled === false) p.digestMissing = 'digests disabled (the probe ran without hashing)';
  else if (exec.digestSkipped) p.digestMissing = 'not hashed: the probe loader was not keeping up (the exec was not stopped)';
  else p.digestMissing = 'no digest record (lost)';
}

function scriptDigest(exec: ExecEventData, rec: DigestEventData | undefined, d: DigestInfo): TraceScript {
  const path = absolutePath(exec.filename, exec.cwd) ?? exec.filename;
  if (rec?.sha256) return { path, sha256: rec.sha256 };
  let reason: string;
  if (rec) reason = hashFailure(rec);
  else if (d.enabled === false) reason = 'digests disabled (the probe ran without hashing)';
  else reason = 'no digest record (lost)';
  return { path, sha256: null, digestMissing: reason };
}

/**
 * The processes of a step from its exec, fork and exit events, fed in arrival order (one
 * at a time while the build runs). A process's records are made as soon as they are
 * complete (an image when the next exec replaces it, the last one at the exit) and its
 * events are dropped; what is still running, or whose digest had not arrived, is made by
 * finish(). The records, their order and their fields are those of making them all at the
 * end: the same functions make them, and the order is (time, pid, order of appearance).
 */
class ProcessBuilder {
  // A process is (tgid, start time): pids are reused. By tgid: the incarnation an event
  // named last (a fork's parent is that one); the others of a reused pid in its sameTgid.
  private readonly byTgid = new Map<number, Incarnation>();
  private readonly incs: Incarnation[] = [];
  private readonly records: ProcessRecord[] = [];
  private seq = 0;
  /** An event came for a process whose records were made: finish() cannot be trusted. */
  inexact = false;

  constructor(private readonly ctx?: RecordContext) {}

  private get(tgid: number, start: bigint): Incarnation {
    const current = this.byTgid.get(tgid);
    if (current !== undefined && current.start === start) {
      if (current.finished) this.inexact = true;
      return current;
    }
    let inc = current === undefined ? undefined : sameStart(current.sameTgid, start);
    if (inc === undefined) {
      // every field from the start: one shape for all of them (see Cg)
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
      if (inc.images === NO_IMAGES) inc.images = [{ exec: ev }];
      else inc.images.push({ exec: ev });
      this.makeReplaced(inc);
    } else if (ev.kind === 'fork') this.fork(ev.header.tgid, ev.header.tsNs, ev.childTgid, ev.childStartBoottimeNs);
    else if (ev.kind === 'exit') this.exit(ev.header.tgid, exitInfo(ev));
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
    this.makeExited(inc);
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
    for (const inc of this.incs) {
      if (inc.finished) continue;
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
  p.maxRssKb = Number(exit.maxRssKiB);
}

/**
 * The record of a process that forked and never exec'd. `early`: made before the end of
 * the events, so undefined when its digest has not arrived yet (made again at the end).
 */
function forkOnlyRecord(inc: Incarnation, digests: DigestInfo, iso: (ts: bigint) => string, early: boolean): ProcessRecord | undefined {
  const exit = inc.exit;
  const from = inc.inherited?.exec;
  const rec = from ? digestOf(from, digests, 'exe') : undefined;
  if (early && from && !rec?.sha256) return undefined;
  const ts = inc.forkTs ?? exit?.startBoottimeNs ?? exit?.tsNs ?? 0n;
  const p: TraceProcess = {
    pid: inc.tgid,
    ppid: inc.forkPpid ?? from?.header.tgid ?? 0,
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
  return { p, ts, seq: inc.seq, sub: 0 };
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

function buildProcesses(events: readonly KernelEvent[], digests: DigestInfo, iso: (ts: bigint) => string): TraceProcess[] {
  const b = new ProcessBuilder();
  for (const ev of events) b.add(ev);
  return b.finish(digests, iso);
}

// ---- files -----------------------------------------------------------------------------

interface PathState {
  created: boolean;
  modified: boolean;
  deleted: boolean;
  exists: boolean | undefined;
}

/** The file changes of a step from its file events, fed in arrival order; the lists are
 * made by finish(). */
class FileBuilder {
  private readonly states = new Map<string, PathState>();
  private readonly renamed: TraceRename[] = [];
  private readonly attributes = new Map<string, TraceAttributeChange>();
  private readonly links = new Map<string, TraceLink>();
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
        this.links.set(`${p}\0symlink`, { path: p, target: f.path1, kind: 'symlink' });
        break;
      }
      case 'link': {
        const p = this.path(f.absPath2, f.path2);
        this.create(p);
        this.links.set(`${p}\0hard`, { path: p, target: this.path(f.absPath1, f.path1), kind: 'hard' });
        break;
      }
      case 'rename': {
        const from = this.path(f.absPath1, f.path1);
        const to = this.path(f.absPath2, f.path2);
        const exchange = (f.flags & RENAME_EXCHANGE) !== 0;
        this.renamed.push(exchange ? { from, to, exchange } : { from, to });
        moveStates(this.states, this.stFn, this.hasBelow, from, to, exchange);
        break;
      }
      case 'chmod': {
        const p = this.path(f.absPath1, f.path1 || f.resolved);
        this.attributes.set(`${p}\0chmod`, { path: p, op: 'chmod', mode: (f.mode & 0o7777).toString(8).padStart(4, '0') });
        break;
      }
      case 'chown': {
        const p = this.path(f.absPath1, f.path1 || f.resolved);
        this.attributes.set(`${p}\0chown`, {
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
    const renameKey = (r: TraceRename): string => `${r.from}\0${r.to}\0${r.exchange ? 1 : 0}`;
    const files: TraceFiles = {
      // map keys are unique already: sorting is enough
      created: created.sort(),
      modified: modified.sort(),
      deleted: deleted.sort(),
      renamed: [...new Map(this.renamed.map((r) => [renameKey(r), r])).values()].sort(
        (a, b) => byString(a.from, b.from) || byString(a.to, b.to),
      ),
      transient: transient.sort(),
      attributes: [...this.attributes.values()].sort((a, b) => byString(a.path, b.path) || byString(a.op, b.op)),
      links: [...this.links.values()].sort((a, b) => byString(a.path, b.path) || byString(a.kind, b.kind)),
    };
    if (traceReads) files.read = sortedUnique(this.read);
    return files;
  }
}

function buildFiles(events: readonly KernelEvent[], traceReads: boolean, warn: (w: string) => void): TraceFiles {
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

// ---- network ---------------------------------------------------------------------------

/** The network peers of a step from its net events, fed in arrival order. */
class NetworkBuilder {
  private readonly peers = new Map<string, TraceNetwork>();

  add(n: NetEventData): void {
    const unix = n.family === 'unix';
    const protocol = unix ? 'unix' : n.protocol;
    let direction: TraceNetwork['direction'];
    if (n.op === 'connect' || n.op === 'sendto' || n.op === 'sendmsg') direction = 'outbound';
    else if (n.op === 'listen') direction = 'listen';
    else if (n.op === 'bind') direction = protocol === 'udp' && n.port !== 0 ? 'listen' : 'bind';
    else return;
    const port = unix ? 0 : n.port;
    const key = `${direction}\0${protocol}\0${n.address}\0${port}`;
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { protocol, address: n.address, port, direction, family: n.family, attempts: 0, failures: 0 };
      this.peers.set(key, peer);
    }
    peer.attempts++;
    if (n.op === 'connect' && n.ret < 0n && n.ret !== -BigInt(EINPROGRESS)) peer.failures++;
  }

  finish(): TraceNetwork[] {
    const order = { outbound: 0, listen: 1, bind: 2 } as const;
    return [...this.peers.values()].sort(
      (a, b) =>
        order[a.direction] - order[b.direction] ||
        byString(a.protocol, b.protocol) ||
        byString(a.address, b.address) ||
        a.port - b.port,
    );
  }
}

function buildNetwork(events: readonly KernelEvent[]): TraceNetwork[] {
  const b = new NetworkBuilder();
  for (const ev of events) if (ev.kind === 'net') b.add(ev);
  return b.finish();
}

// ---- losses ----------------------------------------------------------------------------

const INFERRED_KEYS = ['pendingFull', 'scratchBusy', 'output', 'argsUnread'] as const;

/** Losses of the counters attributable by time: everything but per-exec digest losses, traced-map and netSuppressed. */
function inferableLoss(c: LossCounters): bigint {
  let n = c.ringbufTotal;
  for (const k of INFERRED_KEYS) n += c[k];
  return n;
}

// ---- the correlator --------------------------------------------------------------------

/** What a speculative builder needs: everything a step's records are made from. */
class StepBuilder {
  readonly processes: ProcessBuilder;
  readonly files = new FileBuilder();
  readonly network = new NetworkBuilder();

  constructor(ctx: RecordContext) {
    this.processes = new ProcessBuilder(ctx);
  }

  add(ev: KernelEvent): void {
    switch (ev.kind) {
      case 'exec':
      case 'fork':
      case 'exit':
        this.processes.add(ev);
        break;
      case 'file':
        this.files.add(ev);
        break;
      case 'net':
        this.network.add(ev);
        break;
      default:
        break;
    }
  }
}

/**
 * The correlator, fed one event at a time while the build runs (push), finished when the
 * solve is over (finish). A RUN step's records are most of the work: a top-level cgroup's
 * events are fed, from its first exec on, to a builder of its own (with those of the
 * cgroups nested in it), on the speculation that this exec is the one that will start a
 * step (it is the RUN's command: runc execs it first). finish() keeps the builder only when
 * the attribution agrees exactly, and otherwise builds the records from the events kept:
 * either way the trace is the one correlate() makes of the same events.
 */
export class Correlation {
  /** Events pushed without their record's bytes, and exec events (attribution reads them). */
  private readonly kept = new Map<number, TraceEvent>();
  /** Where the others' records are: chunks of the loader's output, and per event the chunk
   * (-1: kept) and the offset. Decoded again only if a step's speculation fails: bytes
   * outside the JS heap cost the garbage collector nothing, ~90 000 event objects did. */
  private readonly chunks: Buffer[] = [];
  private readonly recChunk: number[] = [];
  private readonly recBase: number[] = [];
  private count = 0;
  private lastCg: Cg | undefined;
  private lastLo = 0;
  private lastHi = 0;
  private readonly cgs = new Map<bigint, Cg>();
  private readonly digests: DigestInfo = { enabled: undefined, byExec: new Map() };
  private readonly lossRecords: Array<{ ts: bigint; counters: LossCounters }> = [];
  private readonly untraced: Array<{ id: string; path: string }> = [];
  private undecodedRecords = 0;
  private ready: ReadyEventData | undefined;
  private hasKernelEvents = false;
  /** How the speculative builders make records (the clock: given, else the READY record's). */
  private readonly recordCtx: RecordContext = { digests: this.digests, iso: undefined };
  private pushOffset: bigint | undefined;

  /** Steps whose records were built while the build ran / built again at the end. */
  readonly stats = { speculated: 0, rebuilt: 0 };
  private readonly speculate: boolean;

  /** `speculate: false` builds every step at the end (tests compare both ways). */
  constructor(options: { clock?: { realtimeOffsetNs: bigint }; speculate?: boolean } = {}) {
    this.speculate = options.speculate ?? true;
    if (options.clock) this.useClock(options.clock.realtimeOffsetNs);
  }

  private useClock(offset: bigint): void {
    this.pushOffset = offset;
    this.recordCtx.iso = (ts) => isoWall(ts + offset);
  }

  /** Records pushed so far. */
  get records(): number {
    return this.count;
  }

  /** The i-th event pushed. */
  private event(i: number): TraceEvent {
    const kept = this.kept.get(i);
    if (kept) return kept;
    const chunk = this.chunks[this.recChunk[i] as number] as Buffer;
    const base = this.recBase[i] as number;
    // the stream's length prefix precedes every record (RecordStream)
    return decodeRecord(chunk.subarray(base, base + chunk.readUInt32LE(base - 4)));
  }

  private cg(id: bigint): Cg {
    let c = this.cgs.get(id);
    if (!c) {
      // Every field from the start, so that all cgroups share one object shape: fields
      // added later gave each a shape of its own, and the compiled record path was thrown
      // away and compiled again as new shapes met it.
      c = {
        id,
        path: '',
        mkdir: undefined,
        rmdir: undefined,
        events: [],
        firstTs: undefined,
        lastTs: undefined,
        parent: undefined,
        parentNow: undefined,
        feeds: undefined,
        spec: undefined,
        execs: [],
        lossy: 0,
      };
      this.cgs.set(id, c);
    }
    return c;
  }

  /** The cgroup a new one is nested in, as far as known now (see finish: the same rule). */
  private parentNow(c: Cg): Cg | undefined {
    let best: Cg | undefined;
    for (const o of this.cgs.values()) {
      if (o !== c && o.path !== '' && c.path.startsWith(`${o.path}/`) && (!best || o.path.length > best.path.length)) best = o;
    }
    return best;
  }

  /** One event, in arrival order (kept as it is). */
  push(ev: TraceEvent): void {
    this.pushEvent(ev, undefined, 0);
  }

  /** A record as the probe delivers it to onRecord: its event, or the undecoded bytes of a
   * file, fork or exit record (read here without making an event: the same builders take
   * the same fields). */
  pushRecord(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void {
    if (ev) {
      this.pushEvent(ev, len > 0 ? buf : undefined, base);
      return;
    }
    const i = this.count++;
    if (this.chunks[this.chunks.length - 1] !== buf) this.chunks.push(buf);
    this.recChunk.push(this.chunks.length - 1);
    this.recBase.push(base);
    this.hasKernelEvents = true;
    const c = this.cgAt(buf, base);
    const ts = buf.readBigUInt64LE(base + RAW.tsNs);
    c.events.push(i);
    if (c.firstTs === undefined || ts < c.firstTs) c.firstTs = ts;
    if (c.lastTs === undefined || ts > c.lastTs) c.lastTs = ts;
    const spec = this.rootOf(c).spec;
    if (spec === undefined) return; // runc's setup, before the command
    if (spec.firstTs === undefined || ts < spec.firstTs) spec.firstTs = ts;
    if (spec.lastTs === undefined || ts > spec.lastTs) spec.lastTs = ts;
    if (spec.lastFed !== c) {
      spec.fed.add(c);
      spec.lastFed = c;
    }
    const type = buf.readUInt32LE(base + RAW.type);
    const tgid = buf.readUInt32LE(base + RAW.tgid);
    if (type === EventType.Fork) {
      spec.builder.processes.fork(tgid, ts, buf.readUInt32LE(base + RAW.forkChildTgid), buf.readBigUInt64LE(base + RAW.forkChildStart));
    } else if (type === EventType.Exit) {
      const x = exitInfoAt(buf, base, ts);
      spec.builder.processes.exit(tgid, x);
      spec.userNs += x.utimeNs;
      spec.sysNs += x.stimeNs;
      if (x.maxRssKiB > spec.maxRssKiB) spec.maxRssKiB = x.maxRssKiB;
    } else spec.builder.files.add(fileChangeAt(buf, base));
  }

  /** The cgroup of a record's header (the last one is remembered: events come in runs). */
  private cgAt(buf: Buffer, base: number): Cg {
    const lo = buf.readUInt32LE(base + RAW.cgroupId);
    const hi = buf.readUInt32LE(base + RAW.cgroupId + 4);
    if (this.lastCg !== undefined && lo === this.lastLo && hi === this.lastHi) return this.lastCg;
    const c = this.cg(buf.readBigUInt64LE(base + RAW.cgroupId));
    this.lastCg = c;
    this.lastLo = lo;
    this.lastHi = hi;
    return c;
  }

  private rootOf(c: Cg): Cg {
    let root = c.feeds;
    if (root === undefined) {
      root = c;
      while (root.parentNow) root = root.parentNow;
      c.feeds = root;
    }
    return root;
  }

  /** `chunk`/`base`: where its record is (the record at `base`, its u32 length just before;
   * never written again), so that the event need not be kept; else it is kept. */
  private pushEvent(ev: TraceEvent, chunk: Buffer | undefined, base: number): void {
    const i = this.count++;
    if (chunk !== undefined && ev.kind !== 'exec' && ev.kind !== 'unknown') {
      if (this.chunks[this.chunks.length - 1] !== chunk) this.chunks.push(chunk);
      this.recChunk.push(this.chunks.length - 1);
      this.recBase.push(base);
    } else {
      this.kept.set(i, ev);
      this.recChunk.push(-1);
      this.recBase.push(0);
    }
    switch (ev.kind) {
      case 'cgroup-mkdir': {
        this.hasKernelEvents = true;
        if (ev.notTraced) {
          this.untraced.push({ id: ev.id.toString(), path: ev.path });
          return;
        }
        const c = this.cg(ev.id);
        c.path = ev.path;
        c.mkdir = ev;
        if (c.path !== '') c.parentNow = this.parentNow(c);
        return;
      }
      case 'cgroup-rmdir': {
        this.hasKernelEvents = true;
        const c = this.cgs.get(ev.id);
        if (c) c.rmdir = ev;
        return;
      }
      case 'ready':
        if (this.ready === undefined) {
          this.ready = ev;
          this.digests.enabled = ev.digests;
          if (this.pushOffset === undefined) this.useClock(ev.realtimeOffsetNs);
        }
        return;
      case 'ack':
        return;
      case 'loss':
        this.lossRecords.push({ ts: ev.header.tsNs, counters: ev.counters });
        return;
      case 'unknown':
        this.undecodedRecords++;
        if (!ev.header || ev.header.cgroupId === 0n) return;
        break;
      case 'digest': {
        this.hasKernelEvents = true;
        const list = this.digests.byExec.get(ev.header.tgid);
        if (list) list.push(ev);
        else this.digests.byExec.set(ev.header.tgid, [ev]);
        break;
      }
      default:
        this.hasKernelEvents = true;
        break;
    }
    const h = ev.header;
    if (!h) return;
    const c = this.cg(h.cgroupId);
    c.events.push(i);
    if (c.firstTs === undefined || h.tsNs < c.firstTs) c.firstTs = h.tsNs;
    if (c.lastTs === undefined || h.tsNs > c.lastTs) c.lastTs = h.tsNs;
    if (ev.kind === 'unknown') {
      c.lossy++;
      return; // no step takes it
    }
    if ((ev.kind === 'exec' && ev.digestSkipped) || (ev.kind === 'digest' && ev.error !== 0)) c.lossy++;
    if (ev.kind === 'exec') c.execs.push(i);
    const root = this.rootOf(c);
    let spec = root.spec;
    if (spec === undefined) {
      if (ev.kind !== 'exec' || root !== c) return; // runc's setup, before the command
      spec = {
        startIndex: i,
        builder: new StepBuilder(this.recordCtx),
        fed: new Set(),
        lastFed: undefined,
        firstTs: undefined,
        lastTs: undefined,
        userNs: 0n,
        sysNs: 0n,
        maxRssKiB: 0n,
      };
      root.spec = spec;
    }
    const ts = h.tsNs;
    if (spec.firstTs === undefined || ts < spec.firstTs) spec.firstTs = ts;
    if (spec.lastTs === undefined || ts > spec.lastTs) spec.lastTs = ts;
    if (ev.kind === 'digest') return;
    spec.fed.add(c);
    spec.builder.add(ev);
    if (ev.kind === 'exit') {
      spec.userNs += ev.utimeNs;
      spec.sysNs += ev.stimeNs;
      if (ev.maxRssKiB > spec.maxRssKiB) spec.maxRssKiB = ev.maxRssKiB;
    }
  }

  /** The trace of the events pushed so far. */
  finish(input: Omit<CorrelateInput, 'events'> & { events?: undefined }): Trace {
    const { cgs, digests, lossRecords, untraced, undecodedRecords, ready } = this;
    const toleranceNs = BigInt(Math.round((input.options?.toleranceMs ?? 1000) * 1e6));
    const offset = input.clock?.realtimeOffsetNs ?? ready?.realtimeOffsetNs;
    if (offset === undefined && this.hasKernelEvents) {
      throw new CorrelateError('no-clock', 'cannot convert kernel timestamps: no clock offset given and no READY record among the events');
    }
    const off = offset ?? 0n;
    const wall = (ts: bigint): bigint => ts + off;
    const iso = (ts: bigint): string => isoWall(wall(ts));

    // nesting: the longest known path that is a strict prefix
    const withPath = [...cgs.values()].filter((c) => c.path !== '');
    for (const c of withPath) {
      let best: Cg | undefined;
      for (const o of withPath) {
        if (o !== c && c.path.startsWith(`${o.path}/`) && (!best || o.path.length > best.path.length)) best = o;
      }
      if (best) c.parent = best;
    }
    const appearance = (c: Cg): bigint => appearedAt(c) ?? 0n;
    const cgOrder = [...cgs.values()].sort((a, b) => {
      const ta = appearance(a);
      const tb = appearance(b);
      return ta < tb ? -1 : ta > tb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
    });

    // -- vertices and RUN candidates
    const vertexBy = new Map(input.vertices.map((v) => [v.digest, v]));
    const runCandidates = new Map<string, Candidate>();
    for (const s of input.steps) {
      if (!s.execArgs || s.execArgs.length === 0 || runCandidates.has(s.vertex)) continue;
      const v = vertexBy.get(s.vertex);
      if (v?.cached) continue;
      runCandidates.set(s.vertex, { vertex: s.vertex, args: s.execArgs, ...vertexTimes(v) });
    }
    const allRunArgs = input.steps.filter((s) => s.execArgs && s.execArgs.length > 0).map((s) => s.execArgs as readonly string[]);
    const candOrder = (a: Candidate, b: Candidate): number => {
      const sa = a.start ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
      const sb = b.start ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
      return sa < sb ? -1 : sa > sb ? 1 : byString(a.vertex, b.vertex);
    };
    const candidatesFor = (exec: ExecEventData, t: bigint | undefined): { tier: Tier; list: Candidate[] } | undefined => {
      const matching = [...runCandidates.values()].filter((c) => argvMatches(c.args, exec));
      if (matching.length === 0) return undefined;
      if (t !== undefined) {
        const w = wall(t);
        const running = matching.filter((c) => c.start !== undefined && c.start <= w && (c.end === undefined || w <= c.end));
        if (running.length) return { tier: 'running', list: running.sort(candOrder) };
        const near = matching.filter(
          (c) => c.start !== undefined && c.start - toleranceNs <= w && (c.end === undefined || w <= c.end + toleranceNs),
        );
        if (near.length) return { tier: 'tolerance', list: near.sort(candOrder) };
      }
      const untimed = matching.filter((c) => c.start === undefined);
      if (untimed.length) return { tier: 'untimed', list: untimed.sort(candOrder) };
      return undefined;
    };

    // -- match top-level cgroups
    interface Match {
      cg: Cg;
      startIndex: number;
      tier: Tier;
      list: Candidate[];
    }
    const matches: Match[] = [];
    const unmatched: Cg[] = [];
    for (const c of cgOrder) {
      if (c.parent) continue;
      let found: Match | undefined;
      for (const i of c.execs) {
        const ev = this.event(i);
        if (ev.kind !== 'exec') continue;
        const r = candidatesFor(ev, appearedAt(c));
        if (r) {
          found = { cg: c, startIndex: i, tier: r.tier, list: r.list };
          break;
        }
      }
      if (found) matches.push(found);
      else unmatched.push(c);
    }
    const attributions = new Map<bigint, Attribution>();
    const taken = new Set<string>();
    const ambiguities: TraceAmbiguityRecord[] = [];
    for (const m of matches) {
      if (m.list.length !== 1) continue;
      const v = (m.list[0] as Candidate).vertex;
      taken.add(v);
      attributions.set(m.cg.id, { vertex: v, startIndex: m.startIndex, how: m.tier, candidates: [v] });
    }
    for (const m of matches) {
      if (m.list.length === 1) continue;
      const pick = m.list.find((c) => !taken.has(c.vertex)) ?? (m.list[0] as Candidate);
      taken.add(pick.vertex);
      const candidates = m.list.map((c) => c.vertex);
      attributions.set(m.cg.id, { vertex: pick.vertex, startIndex: m.startIndex, how: m.tier, candidates });
      ambiguities.push({
        cgroupId: m.cg.id.toString(),
        cgroupPath: m.cg.path,
        candidates,
        chosen: pick.vertex,
        reason: ambiguityReason(m.list.length),
      });
    }
    // nested cgroups follow their top-level ancestor
    const rootOf = (c: Cg): Cg => (c.parent ? rootOf(c.parent) : c);
    for (const c of cgOrder) {
      if (!c.parent) continue;
      const a = attributions.get(rootOf(c).id);
      if (a) attributions.set(c.id, { ...a, how: 'nested' });
    }

    // -- per vertex: its cgroups' events (after the step started), setup counts, losses
    interface VertexData {
      cgroups: Array<{ cg: Cg; a: Attribution }>;
      /** The step's events (from each cgroup's start on), when not built while the build ran. */
      events: KernelEvent[];
      /** What was built while the build ran, when it holds exactly the step's events. */
      spec?: Speculation;
      setup: number;
      lost: number;
      firstTs?: bigint;
      lastTs?: bigint;
    }
    const perVertex = new Map<string, VertexData>();
    const vdata = (v: string): VertexData => {
      let d = perVertex.get(v);
      if (!d) {
        d = { cgroups: [], events: [], setup: 0, lost: 0 };
        perVertex.set(v, d);
      }
      return d;
    };
    let unattributedEvents = 0;
    let runcSetupEvents = 0;
    const unattributedCgroups: TraceUnattributedCgroup[] = [];
    for (const c of cgOrder) {
      const a = attributions.get(c.id);
      if (!a) {
        if (c.events.length === 0 && !c.mkdir) continue;
        unattributedEvents += c.events.length;
        unattributedCgroups.push(unattributedRecord(c, c.execs.map((i) => this.event(i) as ExecEventData), allRunArgs, iso));
        continue;
      }
      const d = vdata(a.vertex);
      d.cgroups.push({ cg: c, a });
      d.lost += c.lossy;
      const setup = countBelow(c.events, a.startIndex);
      d.setup += setup;
      runcSetupEvents += setup;
    }
    const sameClock = offset === this.pushOffset;
    for (const d of perVertex.values()) {
      const spec = sameClock && this.speculate ? speculation(d.cgroups) : undefined;
      if (spec) {
        d.spec = spec;
        d.firstTs = spec.firstTs;
        d.lastTs = spec.lastTs;
        this.stats.speculated++;
        continue;
      }
      this.stats.rebuilt++;
      // the step's events, decoded again, merged in arrival order
      const indices: number[] = [];
      for (const { cg: c, a } of d.cgroups) for (let k = countBelow(c.events, a.startIndex); k < c.events.length; k++) indices.push(c.events[k] as number);
      if (d.cgroups.length > 1) indices.sort((x, y) => x - y);
      for (const i of indices) {
        const ev = this.event(i) as KernelEvent;
        if (ev.kind === 'unknown') continue;
        d.events.push(ev);
        const ts = ev.header.tsNs;
        if (d.firstTs === undefined || ts < d.firstTs) d.firstTs = ts;
        if (d.lastTs === undefined || ts > d.lastTs) d.lastTs = ts;
      }
    }

    // -- losses by time: an increase between two loss reports while one vertex's cgroups were the only ones alive
    let prev = lossCountersFromSlots([]);
    let prevTs: bigint | undefined = ready?.header.tsNs;
    const known = [...cgs.values()].filter((c) => c.mkdir || c.events.length > 0);
    for (const rec of lossRecords) {
      const delta = inferableLoss(rec.counters) - inferableLoss(prev);
      const mkdirLost = rec.counters.ringbuf['cgroup-mkdir'] - prev.ringbuf['cgroup-mkdir'];
      const tracedFull = rec.counters.tracedFull - prev.tracedFull;
      if (delta > 0n && mkdirLost === 0n && tracedFull === 0n) {
        const lo = prevTs;
        const hi = rec.ts;
        const live = known.filter((c) => {
          const start = appearedAt(c);
          const end = c.rmdir?.header.tsNs;
          return (start === undefined || start <= hi) && (end === undefined || lo === undefined || end >= lo);
        });
        const owners = new Set(live.map((c) => attributions.get(c.id)?.vertex ?? `unattributed:${c.id}`));
        const owner = owners.size === 1 ? [...owners][0] : undefined;
        if (owner !== undefined && perVertex.has(owner)) vdata(owner).lost += Number(delta);
      }
      prev = rec.counters;
      prevTs = rec.ts;
    }
    const finalCounters = input.losses ?? lossRecords[lossRecords.length - 1]?.counters ?? lossCountersFromSlots([]);
    const gaps = (input.monitorGaps ?? []).map((g) => ({
      fromNs: BigInt(Math.floor(g.fromMs)) * 1_000_000n,
      record: { kind: g.kind, startedOn: isoWall(BigInt(Math.floor(g.fromMs)) * 1_000_000n), reason: g.reason } satisfies TraceMonitorGap,
    }));
    const gapsInSteps = new Set<number>();
    const lostEvents = Number(totalLost(finalCounters)) + undecodedRecords + gaps.length;

    // -- steps
    const served = input.servedFiles ?? [];
    const traceReads = ready?.traceReads ?? false;
    const stepsByVertex = new Map<string, CorrelateStep[]>();
    for (const s of input.steps) stepsByVertex.set(s.vertex, [...(stepsByVertex.get(s.vertex) ?? []), s]);
    const built = new Map<string, { processes: TraceProcess[]; files: TraceFiles; network: TraceNetwork[]; warnings: string[] }>();
    const ambiguityOf = new Map<string, string[]>();
    for (const a of ambiguities) for (const v of a.candidates) if (!ambiguityOf.has(v)) ambiguityOf.set(v, a.candidates);

    const buildSteps: TraceBuildStep[] = input.steps.map((s) => {
      const v = vertexBy.get(s.vertex);
      const { start, end } = vertexTimes(v);
      const cached = v?.cached ?? false;
      const status: TraceStepStatus = !v
        ? 'not-reported'
        : v.cached
          ? 'cached'
          : v.error
            ? 'failed'
            : end !== undefined
              ? 'done'
              : 'incomplete';
      const keyword = s.keyword.toUpperCase();
      const step: TraceBuildStep = {
        instruction: s.instruction,
        keyword,
        line: s.line,
        endLine: s.endLine ?? s.line,
        stage: s.stage,
        vertex: s.vertex,
        cached,
        status,
        startedOn: start !== undefined ? isoWall(start) : null,
        finishedOn: end !== undefined ? isoWall(end) : null,
        durationMs: start !== undefined && end !== undefined ? ms(end - start) : null,
        cgroup: null,
        processes: [],
        files: emptyFiles(false),
        network: [],
        resources: null,
        runcSetupEvents: 0,
        lostEvents: 0,
        warnings: [],
      };
      if (v?.error) step.error = v.error;
      if (!v) step.warnings.push('BuildKit never reported this vertex (not solved, or the status stream was cut)');
      // A step the probe watches (a RUN) that ran and had not finished when a gap began.
      const watched = keyword === 'RUN' || (s.execArgs !== undefined && s.execArgs.length > 0);
      if (watched && !cached && start !== undefined) {
        gaps.forEach((g, i) => {
          if (end !== undefined && end < g.fromNs) return;
          gapsInSteps.add(i);
          (step.monitorGaps ??= []).push({ ...g.record });
          step.lostEvents += 1;
          step.warnings.push(`the probe stopped watching at ${g.record.startedOn}, before this step finished (${g.record.reason}): its record may be incomplete`);
        });
      }
      const sharing = (stepsByVertex.get(s.vertex) ?? []).filter((o) => o !== s);
      if (sharing.length) {
        step.warnings.push(`the same vertex is also Dockerfile:${sharing.map((o) => o.line).join(', ')}: its record is shared`);
      }
      if ((keyword === 'COPY' || keyword === 'ADD') && (s.copySources || s.copyFrom !== undefined)) {
        step.copy = copyRecord(s, served, cached);
      }
      if (cached) return step;

      const d = perVertex.get(s.vertex);
      const isRun = keyword === 'RUN' || (s.execArgs !== undefined && s.execArgs.length > 0);
      if (!d) {
        if (isRun && (!s.execArgs || s.execArgs.length === 0)) {
          step.warnings.push('the exec args of this RUN were not given: it cannot be matched to a cgroup');
        } else if (isRun && start !== undefined) {
          step.warnings.push('no traced cgroup ran this command: its exec was not seen (events lost, or the probe was not tracing)');
        }
        return step;
      }
      const [primary, ...extra] = d.cgroups.map(({ cg: c, a }) => cgroupRecord(c, a, iso));
      step.cgroup = primary ?? null;
      if (extra.length) step.extraCgroups = extra;
      const amb = ambiguityOf.get(s.vertex);
      if (amb) {
        step.ambiguous = { candidates: [...amb], reason: ambiguityReason(amb.length) };
      }
      let b = built.get(s.vertex);
      if (!b) {
        const warnings: string[] = [];
        const warn = (w: string): void => {
          warnings.push(w);
        };
        // Built while the build ran when the step's container is the one the speculation
        // followed from its first exec; else (another exec started the step, another
        // container was attributed to it as well) from its events now. The same builders.
        const spec = d.spec?.builder;
        b = spec
          ? {
              processes: spec.processes.finish(digests, iso),
              files: spec.files.finish(traceReads, warn),
              network: spec.network.finish(),
              warnings,
            }
          : {
              processes: buildProcesses(d.events, digests, iso),
              files: buildFiles(d.events, traceReads, warn),
              network: buildNetwork(d.events),
              warnings,
            };
        built.set(s.vertex, b);
        // the first step of the vertex takes the records; a step sharing it gets copies
        step.processes = b.processes;
        step.files = b.files;
        step.network = b.network;
      } else {
        step.processes = structuredClone(b.processes);
        step.files = structuredClone(b.files);
        step.network = structuredClone(b.network);
      }
      step.warnings.push(...b.warnings);
      step.runcSetupEvents = d.setup;
      step.lostEvents += d.lost;
      step.resources = d.spec
        ? resourcesOf(d.spec.userNs, d.spec.sysNs, d.spec.maxRssKiB, start, end, d.firstTs, d.lastTs)
        : resources(d.events, start, end, d.firstTs, d.lastTs);
      if (d.lost > 0) step.warnings.push(`${d.lost} event(s) of this step were lost: the record is incomplete`);
      const containers = d.cgroups.filter(({ a }) => a.how !== 'nested').length;
      if (containers > 1) {
        // one RUN runs in one container: the others ran the same command at the same time,
        // e.g. another build on this daemon (every running probe traces every build)
        step.warnings.push(
          `${containers} containers ran this step's command while it ran (another build may have run the same command): their records are merged here`,
        );
      }
      if (d.cgroups.some(({ a }) => a.how === 'tolerance')) {
        step.warnings.push('the cgroup appeared just outside the vertex\'s reported running time (attributed within the tolerance)');
      }
      return step;
    });

    const attributedLost = [...perVertex.entries()]
      .filter(([v]) => stepsByVertex.has(v))
      .reduce((n, [, d]) => n + d.lost, 0);
    const attributedToSteps = Math.min(attributedLost + gapsInSteps.size, lostEvents);
    const losses: TraceLosses = {
      ringbuf: {
        'cgroup-mkdir': Number(finalCounters.ringbuf['cgroup-mkdir']),
        'cgroup-rmdir': Number(finalCounters.ringbuf['cgroup-rmdir']),
        exec: Number(finalCounters.ringbuf.exec),
        fork: Number(finalCounters.ringbuf.fork),
        exit: Number(finalCounters.ringbuf.exit),
        file: Number(finalCounters.ringbuf.file),
        net: Number(finalCounters.ringbuf.net),
      },
      pendingFull: Number(finalCounters.pendingFull),
      tracedFull: Number(finalCounters.tracedFull),
      scratchBusy: Number(finalCounters.scratchBusy),
      digestSkipped: Number(finalCounters.digestSkipped),
      signalFailed: Number(finalCounters.signalFailed),
      digestFailed: Number(finalCounters.digestFailed),
      output: Number(finalCounters.output),
      argsUnread: Number(finalCounters.argsUnread),
      netSuppressed: Number(finalCounters.netSuppressed),
      undecodedRecords,
      monitorGaps: gaps.length,
      attributedToSteps,
      unattributedToSteps: lostEvents - attributedToSteps,
    };

    const starts = input.vertices.map((v) => vertexTimes(v).start).filter((x): x is bigint => x !== undefined);
    const ends = input.vertices.map((v) => vertexTimes(v).end).filter((x): x is bigint => x !== undefined);
    const monitor: TraceMonitor = { ...(input.monitor ?? {}), name: input.monitor?.name ?? 'tracebuild-probe' };
    if (ready) {
      monitor.probe = {
        abiVersion: ready.abiVersion,
        ncpus: ready.ncpus,
        digests: ready.digests,
        traceReads: ready.traceReads,
        ringbufBytes: Number(ready.ringbufBytes),
        realtimeOffsetNs: (offset ?? ready.realtimeOffsetNs).toString(),
      };
    }
    return {
      monitor,
      metadata: {
        buildStartedOn: starts.length ? isoWall(starts.reduce((a, b) => (b < a ? b : a))) : null,
        buildFinishedOn: ends.length ? isoWall(ends.reduce((a, b) => (b > a ? b : a))) : null,
      },
      buildSteps,
      complete: gaps.length === 0 && lostEvents === 0 && untraced.length === 0,
      monitorGaps: gaps.map((g) => g.record),
      lostEvents,
      losses,
      unattributedEvents,
      unattributedCgroups,
      untracedCgroups: untraced,
      runcSetupEvents,
      ambiguities,
    };
  }
}

/**
 * The builder that followed a step's container while the build ran, when it holds exactly
 * what the step's records are made of: the step's one top-level cgroup, started at the exec
 * the attribution chose, and every cgroup it was fed from attributed to the step.
 */
function speculation(cgroups: ReadonlyArray<{ cg: Cg; a: Attribution }>): Speculation | undefined {
  const roots = cgroups.filter(({ a }) => a.how !== 'nested');
  const root = roots[0];
  if (roots.length !== 1 || !root) return undefined;
  const spec = root.cg.spec;
  if (!spec || spec.startIndex !== root.a.startIndex || root.cg.parent || spec.builder.processes.inexact) return undefined;
  const attributed = new Set(cgroups.map(({ cg }) => cg));
  for (const c of spec.fed) if (!attributed.has(c)) return undefined;
  // (a cgroup without `feeds` had only undecoded records: nothing a step takes)
  for (const c of attributed) if (c.feeds !== undefined && c.feeds !== root.cg) return undefined;
  return spec;
}

/** How many of the ascending indices are below `limit`. */
function countBelow(indices: readonly number[], limit: number): number {
  let lo = 0;
  let hi = indices.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((indices[mid] as number) < limit) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function correlate(input: CorrelateInput): Trace {
  const c = new Correlation(input.clock ? { clock: input.clock } : {});
  for (const ev of input.events) c.push(ev);
  const { events: _events, ...rest } = input;
  return c.finish(rest);
}

function ambiguityReason(n: number): string {
  return `${n} steps with identical commands were running when the cgroup appeared; attributed to the earliest-started one without a cgroup of its own`;
}

/** Wall-clock ns since the epoch -> ISO 8601 (ms precision). */
function isoWall(ns: bigint): string {
  const msFloor = Number(ns >= 0n ? ns / 1_000_000n : (ns - 999_999n) / 1_000_000n);
  // Tens of thousands of timestamps, mostly within a few seconds: the date and time up to
  // the second are formatted once per second, and each millisecond's string once (the
  // records of a build share them: fewer strings for the garbage collector to keep). Two
  // seconds are kept: a record's start and end times often lie on either side of one.
  const sec = Math.floor(msFloor / 1000);
  let slot = isoSeconds[0] as IsoSecond;
  if (slot.sec !== sec) {
    slot = isoSeconds[1] as IsoSecond;
    if (slot.sec !== sec) {
      slot = { sec, prefix: isoPrefix(sec), byMs: new Array<string | undefined>(1000) };
    }
    // the one used last first
    isoSeconds[1] = isoSeconds[0] as IsoSecond;
    isoSeconds[0] = slot;
  }
  if (slot.prefix === undefined) return new Date(msFloor).toISOString();
  const m = msFloor - sec * 1000;
  let iso = slot.byMs[m];
  if (iso === undefined) {
    iso = `${slot.prefix}${String(m).padStart(3, '0')}Z`;
    slot.byMs[m] = iso;
  }
  return iso;
}

interface IsoSecond {
  sec: number;
  /** "YYYY-MM-DDTHH:MM:SS.", or undefined for a year toISOString writes otherwise. */
  prefix: string | undefined;
  byMs: Array<string | undefined>;
}

function isoPrefix(sec: number): string | undefined {
  const full = new Date(sec * 1000).toISOString();
  return /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/.test(full) ? full.slice(0, 20) : undefined;
}

// placeholders until the first two seconds are seen (NaN equals no second)
const isoSeconds: IsoSecond[] = [
  { sec: NaN, prefix: undefined, byMs: [] },
  { sec: NaN, prefix: undefined, byMs: [] },
];

function emptyFiles(read: boolean): TraceFiles {
  const f: TraceFiles = { created: [], modified: [], deleted: [], renamed: [], transient: [], attributes: [], links: [] };
  if (read) f.read = [];
  return f;
}

function cgroupRecord(c: Cg, a: Attribution, iso: (ts: bigint) => string): TraceCgroup {
  return {
    id: c.id.toString(),
    path: c.path,
    createdOn: c.mkdir ? iso(c.mkdir.header.tsNs) : null,
    removedOn: c.rmdir ? iso(c.rmdir.header.tsNs) : null,
    attribution: a.how,
  };
}

function unattributedRecord(
  c: Cg,
  execs: readonly ExecEventData[],
  allRunArgs: ReadonlyArray<readonly string[]>,
  iso: (ts: bigint) => string,
): TraceUnattributedCgroup {
  const rec: TraceUnattributedCgroup = {
    id: c.id.toString(),
    path: c.path,
    createdOn: c.mkdir ? iso(c.mkdir.header.tsNs) : null,
    events: c.events.length,
    reason: '',
  };
  const first = execs[0];
  if (first) rec.firstArgv = [...first.argv];
  if (c.parent) rec.reason = 'nested in a cgroup attributed to no step';
  else if (execs.length === 0) rec.reason = 'no exec was seen in it';
  else if (execs.some((e) => allRunArgs.some((args) => argvMatches(args, e)))) {
    rec.reason = 'its command matches a RUN step that was cached or not running when the cgroup appeared';
  } else rec.reason = 'no exec in it matches the command of any RUN step';
  return rec;
}

function resources(
  events: readonly KernelEvent[],
  start: bigint | undefined,
  end: bigint | undefined,
  firstTs: bigint | undefined,
  lastTs: bigint | undefined,
): TraceResources {
  let user = 0n;
  let sys = 0n;
  let rss = 0n;
  for (const ev of events) {
    if (ev.kind !== 'exit') continue;
    user += ev.utimeNs;
    sys += ev.stimeNs;
    if (ev.maxRssKiB > rss) rss = ev.maxRssKiB;
  }
  return resourcesOf(user, sys, rss, start, end, firstTs, lastTs);
}

function resourcesOf(
  user: bigint,
  sys: bigint,
  rss: bigint,
  start: bigint | undefined,
  end: bigint | undefined,
  firstTs: bigint | undefined,
  lastTs: bigint | undefined,
): TraceResources {
  const wallNs = start !== undefined && end !== undefined ? end - start : firstTs !== undefined && lastTs !== undefined ? lastTs - firstTs : 0n;
  return { wallMs: ms(wallNs), cpuUserMs: ms(user), cpuSystemMs: ms(sys), maxRssKb: Number(rss) };
}
