// The correlator: decoded probe events + what the frontend and BuildKit said about the
// build -> the per-instruction trace (trace-types.ts). No clock, no environment, and no I/O
// but a temporary file of its own (records.ts); the same input gives the same trace. How
// events are attributed to steps: attribution.ts; COPY/ADD: copy.ts. Cached steps did not
// run and are recorded as cached.
import { BatchEvent, EventType, ProcFlag } from '../abi.js';
import type { DigestEventData, ExecEventData, NetEventData, ProcessEventData, ReadyEventData, TraceEvent } from '../decode/events.js';
import { fileChangeAt } from '../decode/file.js';
import { exitInfo, exitInfoAt, type ExitInfo } from '../decode/fork-exit.js';
import { lossCountersFromSlots } from '../decode/losses.js';
import { u64At } from '../decode/fields.js';
import { PROC } from '../decode/proc.js';
import { RAW, decodeAt } from '../decode/record.js';
import type { Trace, TraceMonitor } from '../../model/index.js';
import { attribute } from './attribution.js';
import { nest, newCg, newFeed, newSpeculation, parentNow, type Cg, type Feed, type Speculation } from './cgroups.js';
import type { DigestInfo } from './digests.js';
import { CorrelateError, type CorrelateInput, type CorrelateVertex } from './input.js';
import { attributeLossesByTime, gapsOf, lossesRecord, lostEventsOf, lostInSteps, type LossRecord } from './losses.js';
import type { ProcParts, RecordContext } from './processes.js';
import { RecordStore, type KernelEvent } from './records.js';
import { stepRecords } from './steps.js';
import { isoWall, vertexTimes } from './time.js';
import { gatherVertices, speculationOf, type VertexData } from './vertices.js';

/** Kernel events seen, by kind: a process record is a fork (when it has one) and an exit
 * (when seen), an exec record with its digests an exec and its digests. */
export interface EventCounts {
  exec: number;
  digest: number;
  fork: number;
  exit: number;
  file: number;
  net: number;
}

/** Where a cgroup's events go while a rebuilt vertex's records are read again. */
interface Target {
  d: VertexData;
  feed: Feed;
  startIndex: number;
}

/**
 * The correlator, fed one record at a time while the build runs (pushRecord, push), finished
 * when the solve is over (finish). A RUN step's records are most of the work: a top-level
 * cgroup's events are fed, from its first exec other than runc's init on, to a builder of
 * its own (with those of the cgroups nested in it), on the speculation that this exec is
 * the one that will start a step (it is the RUN's command: runc execs it first). With the
 * runc of Docker 26 and 20.10 here, every RUN container's first exec is `runc init`:
 * starting there, no speculation held and every step was built again at the end. Per
 * cgroup only counters are kept (and its execs), so memory grows with the build's execs
 * and steps, not with its records.
 * finish() keeps a builder only when the attribution agrees exactly, and otherwise builds
 * the step from its records, read again from the store: either way the trace is the one
 * correlate() makes of the same events.
 */
export class Correlation {
  /** Every record pushed, by index: execs and the like decoded, the rest as bytes. */
  private readonly store: RecordStore;
  private lastCg: Cg | undefined;
  private lastLo = 0;
  private lastHi = 0;
  private readonly cgs = new Map<bigint, Cg>();
  private readonly digests: DigestInfo = { enabled: undefined, byExec: new Map() };
  private readonly lossRecords: LossRecord[] = [];
  private readonly untraced: Array<{ id: string; path: string }> = [];
  private undecodedRecords = 0;
  private ready: ReadyEventData | undefined;
  private hasKernelEvents = false;
  /** How the speculative builders make records (the clock: given, else the READY record's). */
  private readonly recordCtx: RecordContext;
  private pushOffset: bigint | undefined;

  /** Steps whose records were built while the build ran / built again at the end. */
  readonly stats = { speculated: 0, rebuilt: 0 };
  readonly events: EventCounts = { exec: 0, digest: 0, fork: 0, exit: 0, file: 0, net: 0 };
  private readonly speculate: boolean;
  private readonly onDenied: ((ev: NetEventData) => void) | undefined;

  /** `speculate: false` builds every step at the end (tests compare both ways).
   * `forkOnlyListed`: how many processes that never exec'd a step lists (the rest are
   * counted; default FORK_ONLY_LISTED_MAX). `recordsInMemory`: bytes of records kept in
   * memory before the temporary file (default RECORDS_IN_MEMORY). */
  constructor(
    options: {
      clock?: { realtimeOffsetNs: bigint };
      speculate?: boolean;
      forkOnlyListed?: number;
      recordsInMemory?: number;
      /** Called for each action build --enforce refused, as its record arrives. */
      onDenied?: (ev: NetEventData) => void;
    } = {},
  ) {
    this.onDenied = options.onDenied;
    this.speculate = options.speculate ?? true;
    this.store = new RecordStore(options.recordsInMemory);
    this.recordCtx = { digests: this.digests, iso: undefined };
    if (options.forkOnlyListed !== undefined) this.recordCtx.forkOnlyListed = options.forkOnlyListed;
    if (options.clock) this.useClock(options.clock.realtimeOffsetNs);
  }

  private useClock(offset: bigint): void {
    this.pushOffset = offset;
    this.recordCtx.iso = (ts) => isoWall(ts + offset);
  }

  /** Records pushed so far (a batch counts one). */
  get records(): number {
    return this.store.count;
  }

  private cg(id: bigint): Cg {
    let c = this.cgs.get(id);
    if (!c) {
      c = newCg(id);
      this.cgs.set(id, c);
    }
    return c;
  }

  /** The cgroup of a record's header. */
  private cgAt(buf: Buffer, base: number): Cg {
    return this.cgIdAt(buf, base + RAW.cgroupId);
  }

  /** The cgroup whose id is at `at` (the last one is remembered: events come in runs). */
  private cgIdAt(buf: Buffer, at: number): Cg {
    const lo = buf.readUInt32LE(at);
    const hi = buf.readUInt32LE(at + 4);
    if (this.lastCg !== undefined && lo === this.lastLo && hi === this.lastHi) return this.lastCg;
    const c = this.cg(buf.readBigUInt64LE(at));
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

  /** `k` events of cgroup c at `ts`: counted; its step's speculation, if one runs (else they
   * are runc's setup, as far as known now). */
  private note(c: Cg, ts: bigint, k: number): Speculation | undefined {
    c.count += k;
    if (c.firstTs === undefined || ts < c.firstTs) c.firstTs = ts;
    if (c.lastTs === undefined || ts > c.lastTs) c.lastTs = ts;
    const spec = this.rootOf(c).spec;
    if (spec === undefined) c.preSpec += k;
    return spec;
  }

  /** An event of c at ts goes to its speculation. */
  private fed(spec: Speculation, c: Cg, ts: bigint): Speculation {
    if (spec.firstTs === undefined || ts < spec.firstTs) spec.firstTs = ts;
    if (spec.lastTs === undefined || ts > spec.lastTs) spec.lastTs = ts;
    if (spec.lastFed !== c) {
      spec.fed.add(c);
      spec.lastFed = c;
    }
    return spec;
  }

  /** A fork of cgroup c at ts (read from a process record that came later): a step's only
   * when it came after the exec the step started at. */
  private forkAt(c: Cg, ts: bigint): Speculation | undefined {
    const spec = this.note(c, ts, 1);
    if (spec === undefined) return undefined;
    if (ts < spec.startTs) {
      c.preSpec++;
      return undefined;
    }
    return this.fed(spec, c, ts);
  }

  /** One event, in arrival order (kept as it is). */
  push(ev: TraceEvent): void {
    this.pushEvent(ev);
  }

  /** A record as the probe delivers it to onRecord: its event, or the undecoded bytes of a
   * file, process, batch (or, from a loader before ABI 3, fork or exit) record, read here
   * without making events: the same builders take the same fields. */
  pushRecord(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void {
    if (ev) {
      this.pushEvent(ev);
      return;
    }
    const i = this.store.addBytes(buf, base, len);
    this.hasKernelEvents = true;
    const type = buf.readUInt32LE(base + RAW.type);
    if (type !== EventType.Batch) {
      this.lazyRecord(buf, base, type, i);
      return;
    }
    const end = base + len;
    for (let at = base + BatchEvent.size; at < end; at += buf.readUInt32LE(at + RAW.size)) {
      this.lazyRecord(buf, at, buf.readUInt32LE(at + RAW.type), i);
    }
  }

  /** One valid record of a lazy type (not a batch), read where it lies. */
  private lazyRecord(buf: Buffer, at: number, type: number, i: number): void {
    if (type === EventType.Proc) {
      this.procRecord(buf, at);
      return;
    }
    if (type === EventType.Net) {
      this.kernelEvent(decodeAt(buf, at, buf.readUInt32LE(at + RAW.size)) as KernelEvent, i);
      return;
    }
    const c = this.cgAt(buf, at);
    const ts = buf.readBigUInt64LE(at + RAW.tsNs);
    const note = this.note(c, ts, 1);
    const spec = note === undefined ? undefined : this.fed(note, c, ts);
    const tgid = buf.readUInt32LE(at + RAW.tgid);
    if (type === EventType.File) {
      this.events.file++;
      spec?.builder.files.add(fileChangeAt(buf, at));
    } else if (type === EventType.Fork) {
      this.events.fork++;
      spec?.builder.processes.fork(tgid, ts, buf.readUInt32LE(at + RAW.forkChildTgid), buf.readBigUInt64LE(at + RAW.forkChildStart));
    } else {
      this.events.exit++;
      if (spec !== undefined) takeExit(spec, tgid, exitInfoAt(buf, at, ts));
    }
  }

  /** A process record read where it lies (the same as processEvent for its event). */
  private procRecord(buf: Buffer, at: number): void {
    const flags = buf.readUInt32LE(at + PROC.flags);
    const tgid = buf.readUInt32LE(at + RAW.tgid);
    const start = buf.readBigUInt64LE(at + PROC.start);
    let fork: ProcParts['fork'];
    let forkFeed: Speculation | undefined;
    if ((flags & ProcFlag.Forked) !== 0) {
      const ts = buf.readBigUInt64LE(at + PROC.forkTs);
      this.events.fork++;
      forkFeed = this.forkAt(this.cgIdAt(buf, at + PROC.forkCgroup), ts);
      fork = { ts, ppid: buf.readUInt32LE(at + PROC.ppid) };
    }
    let exit: ExitInfo | undefined;
    let exitFeed: Speculation | undefined;
    if ((flags & ProcFlag.Exited) !== 0) {
      const c = this.cgAt(buf, at);
      const ts = buf.readBigUInt64LE(at + RAW.tsNs);
      this.events.exit++;
      const spec = this.note(c, ts, 1);
      exitFeed = spec === undefined ? undefined : this.fed(spec, c, ts);
      exit = exitFeed === undefined ? undefined : procExitAt(buf, at, ts, start);
    }
    if (forkFeed === undefined && exitFeed === undefined) return;
    const image =
      forkFeed !== undefined && (flags & ProcFlag.Image) !== 0
        ? { tgid: buf.readUInt32LE(at + PROC.imageTgid), start: buf.readBigUInt64LE(at + PROC.imageStart), execId: buf.readBigUInt64LE(at + PROC.imageExecId) }
        : undefined;
    takeProcess(forkFeed, exitFeed, tgid, start, fork, image, exit);
  }

  /** A decoded process record: its fork (if this step's) and its exit, as procRecord. */
  private processEvent(ev: ProcessEventData): void {
    let forkFeed: Speculation | undefined;
    if (ev.fork !== undefined) {
      this.events.fork++;
      forkFeed = this.forkAt(this.cg(ev.fork.cgroupId), ev.fork.tsNs);
    }
    let exitFeed: Speculation | undefined;
    if (ev.exit !== undefined) {
      this.events.exit++;
      const c = this.cg(ev.header.cgroupId);
      const spec = this.note(c, ev.header.tsNs, 1);
      exitFeed = spec === undefined ? undefined : this.fed(spec, c, ev.header.tsNs);
    }
    if (forkFeed === undefined && exitFeed === undefined) return;
    takeProcessEvent(forkFeed, exitFeed, ev);
  }

  /** A decoded record: the probe's own, a cgroup's, or a kernel event of a cgroup. */
  private pushEvent(ev: TraceEvent): void {
    const i = this.store.keep(ev);
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
        if (c.path !== '') c.parentNow = parentNow(this.cgs, c);
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
      case 'batch':
        this.hasKernelEvents = true;
        for (const e of ev.events) this.kernelEvent(e, i);
        return;
      default:
        this.kernelEvent(ev, i);
    }
  }

  /** A kernel event of a cgroup (or a digest, or a record that could not be decoded), the
   * record at index i or one its batch held. */
  private kernelEvent(ev: KernelEvent, i: number): void {
    if (ev.kind === 'unknown') {
      this.undecodedRecords++;
      if (!ev.header || ev.header.cgroupId === 0n) return;
      const c = this.cg(ev.header.cgroupId);
      this.note(c, ev.header.tsNs, 1);
      c.lossy++;
      return; // no step takes it
    }
    this.hasKernelEvents = true;
    if (ev.kind === 'process') {
      this.processEvent(ev);
      return;
    }
    const h = ev.header;
    const c = this.cg(h.cgroupId);
    if (ev.kind === 'digest') {
      this.digestEvent(ev, c);
      return;
    }
    if (ev.kind === 'exec') {
      this.execEvent(ev, c, i);
      return;
    }
    const spec = this.note(c, h.tsNs, 1);
    if (ev.kind === 'file') this.events.file++;
    else if (ev.kind === 'net') {
      this.events.net++;
      if (ev.deniedRule !== undefined) this.onDenied?.(ev);
    }
    else if (ev.kind === 'fork') this.events.fork++;
    else if (ev.kind === 'exit') this.events.exit++;
    if (spec === undefined) return;
    this.fed(spec, c, h.tsNs);
    if (ev.kind === 'exit') takeExit(spec, h.tgid, exitInfo(ev));
    else spec.builder.add(ev);
  }

  private digestEvent(ev: DigestEventData, c: Cg): void {
    this.events.digest++;
    const list = this.digests.byExec.get(ev.header.tgid);
    if (list) list.push(ev);
    else this.digests.byExec.set(ev.header.tgid, [ev]);
    if (ev.error !== 0) c.lossy++;
    const spec = this.note(c, ev.header.tsNs, 1);
    if (spec === undefined) return;
    // the step's times, not a builder's input (its exec names it)
    if (spec.firstTs === undefined || ev.header.tsNs < spec.firstTs) spec.firstTs = ev.header.tsNs;
    if (spec.lastTs === undefined || ev.header.tsNs > spec.lastTs) spec.lastTs = ev.header.tsNs;
  }

  private execEvent(ev: ExecEventData, c: Cg, i: number): void {
    this.events.exec++;
    c.execs.push(i);
    if (ev.digestSkipped) c.lossy++;
    const ts = ev.header.tsNs;
    const root = this.rootOf(c);
    if (root.spec === undefined && root === c && !isRuncInit(ev)) root.spec = newSpeculation(i, ts, this.recordCtx);
    const spec = this.note(c, ts, 1);
    if (spec !== undefined) {
      this.fed(spec, c, ts);
      spec.builder.add(ev);
    }
    // the digests the loader appended: as digest records right after it
    if (ev.digests !== undefined) for (const d of ev.digests) this.digestEvent(d, c);
  }

  /** The trace of the events pushed so far: a sequence of phases, each of a module here. */
  finish(input: Omit<CorrelateInput, 'events'> & { events?: undefined }): Trace {
    try {
      return this.finishTrace(input);
    } finally {
      this.store.close();
    }
  }

  private finishTrace(input: Omit<CorrelateInput, 'events'>): Trace {
    const offset = this.offsetFor(input);
    const off = offset ?? 0n;
    const iso = (ts: bigint): string => isoWall(ts + off);
    const toleranceNs = BigInt(Math.round((input.options?.toleranceMs ?? 1000) * 1e6));
    const vertexBy = new Map(input.vertices.map((v) => [v.digest, v]));

    const cgOrder = nest(this.cgs);
    const attributions = attribute(cgOrder, input.steps, vertexBy, this.store, off, toleranceNs);
    const vertices = gatherVertices(cgOrder, attributions.byCgroup, input.steps, this.store, iso);
    this.takeStepFeeds(vertices.byVertex, offset === this.pushOffset && this.speculate);
    vertices.runcSetupEvents = [...vertices.byVertex.values()].reduce((n, d) => n + d.setup, 0);
    attributeLossesByTime(this.lossRecords, this.ready?.header.tsNs, this.cgs, attributions.byCgroup, vertices.byVertex);
    const finalCounters = input.losses ?? this.lossRecords[this.lossRecords.length - 1]?.counters ?? lossCountersFromSlots([]);
    const gaps = gapsOf(input.monitorGaps);
    const steps = stepRecords(input.steps, attributions.ambiguities, {
      vertexBy,
      perVertex: vertices.byVertex,
      gaps,
      served: input.servedFiles ?? [],
      traceReads: this.ready?.traceReads ?? false,
      digests: this.digests,
      iso,
    });
    const lostEvents = lostEventsOf(finalCounters, this.undecodedRecords, gaps.length, steps.unseenSteps);
    const lost = lostInSteps(vertices.byVertex, steps.stepsByVertex, steps.gapsInSteps.size + steps.unseenSteps);

    return {
      monitor: this.monitorRecord(input, offset),
      metadata: buildTimes(input.vertices),
      buildSteps: steps.buildSteps,
      complete: gaps.length === 0 && lostEvents === 0 && this.untraced.length === 0,
      monitorGaps: gaps.map((g) => g.record),
      lostEvents,
      losses: lossesRecord(finalCounters, this.undecodedRecords, gaps.length, steps.unseenSteps, lost, lostEvents),
      unattributedEvents: vertices.unattributedEvents,
      unattributedCgroups: vertices.unattributedCgroups,
      untracedCgroups: this.untraced,
      runcSetupEvents: vertices.runcSetupEvents,
      ambiguities: attributions.ambiguities,
    };
  }

  /**
   * Each vertex's speculation when it holds exactly (`speculate`: may it); else its records
   * are read again from the store, in arrival order, into a feed of its own: the events of
   * its cgroups from the exec the attribution chose on (a fork by its time), the ones
   * before it counted as runc's setup. Counted in `stats`.
   */
  private takeStepFeeds(perVertex: ReadonlyMap<string, VertexData>, speculate: boolean): void {
    const targets = new Map<bigint, Target>();
    // records made at the end only, as one builder fed all of them at once would (a process
    // whose exit came twice keeps the last one)
    const ctx: RecordContext = { ...this.recordCtx, iso: undefined };
    for (const d of perVertex.values()) {
      const spec = speculate ? speculationOf(d.cgroups) : undefined;
      if (spec) {
        d.feed = spec;
        for (const { cg } of d.cgroups) d.setup += cg.preSpec;
        this.stats.speculated++;
        continue;
      }
      this.stats.rebuilt++;
      const startIndex = d.cgroups[0]?.a.startIndex ?? 0;
      const start = this.store.event(startIndex);
      const feed = newFeed(start?.kind === 'exec' ? start.header.tsNs : 0n, ctx);
      d.feed = feed;
      for (const { cg, a } of d.cgroups) targets.set(cg.id, { d, feed, startIndex: a.startIndex });
    }
    if (targets.size === 0) return;
    this.store.replay((i, ev) => replayEvent(ev, i, targets));
  }

  /** Kernel timestamps are boot-clock ns: the offset to wall-clock ns (given, else the READY
   * record's), which only a trace of no kernel event can do without. */
  private offsetFor(input: { clock?: { realtimeOffsetNs: bigint } }): bigint | undefined {
    const offset = input.clock?.realtimeOffsetNs ?? this.ready?.realtimeOffsetNs;
    if (offset === undefined && this.hasKernelEvents) {
      throw new CorrelateError('no-clock', 'cannot convert kernel timestamps: no clock offset given and no READY record among the events');
    }
    return offset;
  }

  private monitorRecord(input: Pick<CorrelateInput, 'monitor'>, offset: bigint | undefined): TraceMonitor {
    const ready = this.ready;
    const monitor: TraceMonitor = { ...(input.monitor ?? {}), name: input.monitor?.name ?? 'tracebuild-probe' };
    // the kernel events the records carried (a batch or a process record holds several)
    if (this.hasKernelEvents) monitor.events = { ...this.events };
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
    return monitor;
  }
}

/** An exit a step takes: its process's record, and the step's resources. */
function takeExit(feed: Feed, tgid: number, x: ExitInfo): void {
  feed.builder.processes.exit(tgid, x);
  feed.userNs += x.utimeNs;
  feed.sysNs += x.stimeNs;
  if (x.maxRssKiB > feed.maxRssKiB) feed.maxRssKiB = x.maxRssKiB;
}

/** A process record's parts to the steps that take them: both to one, or its fork to one and
 * its exit to another (a process that moved between top-level cgroups). */
function takeProcess(
  forkFeed: Feed | undefined,
  exitFeed: Feed | undefined,
  tgid: number,
  start: bigint,
  fork: ProcParts['fork'],
  image: ProcParts['image'],
  exit: ExitInfo | undefined,
): void {
  if (forkFeed !== undefined && forkFeed === exitFeed) {
    forkFeed.builder.processes.process({ tgid, start, fork, image, exit });
  } else {
    forkFeed?.builder.processes.process({ tgid, start, fork, image, exit: undefined });
    exitFeed?.builder.processes.process({ tgid, start, fork: undefined, image: undefined, exit });
  }
  if (exitFeed !== undefined && exit !== undefined) {
    exitFeed.userNs += exit.utimeNs;
    exitFeed.sysNs += exit.stimeNs;
    if (exit.maxRssKiB > exitFeed.maxRssKiB) exitFeed.maxRssKiB = exit.maxRssKiB;
  }
}

function takeProcessEvent(forkFeed: Feed | undefined, exitFeed: Feed | undefined, ev: ProcessEventData): void {
  const fork = ev.fork === undefined ? undefined : { ts: ev.fork.tsNs, ppid: ev.fork.ppid };
  const image = forkFeed !== undefined && ev.image !== undefined ? { tgid: ev.image.tgid, start: ev.image.startBoottimeNs, execId: ev.image.execId } : undefined;
  const exit: ExitInfo | undefined =
    exitFeed === undefined || ev.exit === undefined
      ? undefined
      : {
          tsNs: ev.header.tsNs,
          startBoottimeNs: ev.startBoottimeNs,
          exitCode: ev.exit.exitCode,
          signal: ev.exit.signal,
          utimeNs: Number(ev.exit.utimeNs),
          stimeNs: Number(ev.exit.stimeNs),
          maxRssKiB: Number(ev.exit.maxRssKiB),
        };
  takeProcess(forkFeed, exitFeed, ev.header.tgid, ev.startBoottimeNs, fork, image, exit);
}

/** The exit part of a process record where it lies (`ts` its header's). */
function procExitAt(buf: Buffer, at: number, ts: bigint, start: bigint): ExitInfo {
  const status = buf.readUInt32LE(at + PROC.exitCode);
  return {
    tsNs: ts,
    startBoottimeNs: start,
    exitCode: (status & 0x7f) === 0 ? (status >> 8) & 0xff : undefined,
    signal: (status & 0x7f) !== 0 ? status & 0x7f : undefined,
    utimeNs: u64At(buf, at + PROC.utime),
    stimeNs: u64At(buf, at + PROC.stime),
    maxRssKiB: u64At(buf, at + PROC.maxRss),
  };
}

/**
 * runc's own init exec'd inside the container's cgroup (newer runc runs `runc init` from a
 * copy of itself, /dev/fd/N, after joining the cgroup): container setup, never the step's
 * command, so no speculation starts at it. Were a RUN's command ever `runc init`, the
 * speculation would start at the wrong exec, finish() would see it and rebuild the step.
 */
function isRuncInit(ev: ExecEventData): boolean {
  return ev.argv.length === 2 && ev.argv[0] === 'runc' && ev.argv[1] === 'init';
}

/** A record read again for the vertices built at the end (takeStepFeeds). */
function replayEvent(ev: TraceEvent, i: number, targets: ReadonlyMap<bigint, Target>): void {
  switch (ev.kind) {
    case 'ready':
    case 'loss':
    case 'ack':
    case 'cgroup-mkdir':
    case 'cgroup-rmdir':
      return;
    case 'batch':
      for (const e of ev.events) replayEvent(e, i, targets);
      return;
    case 'unknown': {
      // counted as the step's setup when before its start, like any event of its cgroups
      const t = ev.header ? targets.get(ev.header.cgroupId) : undefined;
      if (t !== undefined && i < t.startIndex) t.d.setup++;
      return;
    }
    case 'process': {
      let forkFeed: Feed | undefined;
      if (ev.fork !== undefined) {
        const t = targets.get(ev.fork.cgroupId);
        if (t !== undefined) {
          if (i < t.startIndex || ev.fork.tsNs < t.feed.startTs) t.d.setup++;
          else forkFeed = span(t.feed, ev.fork.tsNs);
        }
      }
      let exitFeed: Feed | undefined;
      if (ev.exit !== undefined) {
        const t = targets.get(ev.header.cgroupId);
        if (t !== undefined) {
          if (i < t.startIndex) t.d.setup++;
          else exitFeed = span(t.feed, ev.header.tsNs);
        }
      }
      if (forkFeed !== undefined || exitFeed !== undefined) takeProcessEvent(forkFeed, exitFeed, ev);
      return;
    }
    default: {
      const t = targets.get(ev.header.cgroupId);
      if (t === undefined) return;
      const parts = ev.kind === 'exec' ? 1 + (ev.digests?.length ?? 0) : 1;
      if (i < t.startIndex) {
        t.d.setup += parts;
        return;
      }
      span(t.feed, ev.header.tsNs);
      if (ev.kind === 'digest') return;
      if (ev.kind === 'exit') takeExit(t.feed, ev.header.tgid, exitInfo(ev));
      else t.feed.builder.add(ev);
    }
  }
}

/** The feed's times take ts. */
function span(feed: Feed, ts: bigint): Feed {
  if (feed.firstTs === undefined || ts < feed.firstTs) feed.firstTs = ts;
  if (feed.lastTs === undefined || ts > feed.lastTs) feed.lastTs = ts;
  return feed;
}

/** The build's first start and last end, of the vertices BuildKit gave times for. */
function buildTimes(vertices: readonly CorrelateVertex[]): Trace['metadata'] {
  const starts = vertices.map((v) => vertexTimes(v).start).filter((x): x is bigint => x !== undefined);
  const ends = vertices.map((v) => vertexTimes(v).end).filter((x): x is bigint => x !== undefined);
  return {
    buildStartedOn: starts.length ? isoWall(starts.reduce((a, b) => (b < a ? b : a))) : null,
    buildFinishedOn: ends.length ? isoWall(ends.reduce((a, b) => (b > a ? b : a))) : null,
  };
}

export function correlate(input: CorrelateInput): Trace {
  const listed = input.options?.forkOnlyListed;
  const c = new Correlation({ ...(input.clock ? { clock: input.clock } : {}), ...(listed !== undefined ? { forkOnlyListed: listed } : {}) });
  for (const ev of input.events) c.push(ev);
  const { events: _events, ...rest } = input;
  return c.finish(rest);
}
