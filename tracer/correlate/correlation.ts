// The correlator: decoded probe events + what the frontend and BuildKit said about the
// build -> the per-instruction trace (trace-types.ts). Pure: no I/O, no clock, no
// environment; the same input gives the same trace. How events are attributed to steps:
// attribution.ts; COPY/ADD: copy.ts. Cached steps did not run and are recorded as cached.
import { EventType } from '../abi.js';
import type { ReadyEventData, TraceEvent } from '../decode/events.js';
import { fileChangeAt } from '../decode/file.js';
import { exitInfoAt } from '../decode/fork-exit.js';
import { lossCountersFromSlots } from '../decode/losses.js';
import { RAW } from '../decode/record.js';
import type { Trace, TraceMonitor } from '../../model/index.js';
import { attribute } from './attribution.js';
import { nest, newCg, newSpeculation, parentNow, type Cg } from './cgroups.js';
import type { DigestInfo } from './digests.js';
import { CorrelateError, type CorrelateInput, type CorrelateVertex } from './input.js';
import { attributeLossesByTime, gapsOf, lossesRecord, lostEventsOf, lostInSteps, type LossRecord } from './losses.js';
import type { RecordContext } from './processes.js';
import { RecordStore } from './records.js';
import { stepRecords } from './steps.js';
import { isoWall, vertexTimes } from './time.js';
import { gatherVertices, takeStepEvents } from './vertices.js';

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
  /** Every record pushed, by index (most as bytes, outside the JS heap). */
  private readonly store = new RecordStore();
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
    const i = this.store.addBytes(buf, base);
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
    const i = chunk !== undefined && ev.kind !== 'exec' && ev.kind !== 'unknown' ? this.store.addBytes(chunk, base) : this.store.keep(ev);
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
      spec = newSpeculation(i, this.recordCtx);
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

  /** The trace of the events pushed so far: a sequence of phases, each of a module here. */
  finish(input: Omit<CorrelateInput, 'events'> & { events?: undefined }): Trace {
    const offset = this.offsetFor(input);
    const off = offset ?? 0n;
    const iso = (ts: bigint): string => isoWall(ts + off);
    const toleranceNs = BigInt(Math.round((input.options?.toleranceMs ?? 1000) * 1e6));
    const vertexBy = new Map(input.vertices.map((v) => [v.digest, v]));

    const cgOrder = nest(this.cgs);
    const attributions = attribute(cgOrder, input.steps, vertexBy, this.store, off, toleranceNs);
    const vertices = gatherVertices(cgOrder, attributions.byCgroup, input.steps, this.store, iso);
    takeStepEvents(vertices.byVertex, offset === this.pushOffset && this.speculate, this.store, this.stats);
    attributeLossesByTime(this.lossRecords, this.ready?.header.tsNs, this.cgs, attributions.byCgroup, vertices.byVertex);
    const finalCounters = input.losses ?? this.lossRecords[this.lossRecords.length - 1]?.counters ?? lossCountersFromSlots([]);
    const gaps = gapsOf(input.monitorGaps);
    const lostEvents = lostEventsOf(finalCounters, this.undecodedRecords, gaps.length);
    const steps = stepRecords(input.steps, attributions.ambiguities, {
      vertexBy,
      perVertex: vertices.byVertex,
      gaps,
      served: input.servedFiles ?? [],
      traceReads: this.ready?.traceReads ?? false,
      digests: this.digests,
      iso,
    });
    const lost = lostInSteps(vertices.byVertex, steps.stepsByVertex, steps.gapsInSteps.size);

    return {
      monitor: this.monitorRecord(input, offset),
      metadata: buildTimes(input.vertices),
      buildSteps: steps.buildSteps,
      complete: gaps.length === 0 && lostEvents === 0 && this.untraced.length === 0,
      monitorGaps: gaps.map((g) => g.record),
      lostEvents,
      losses: lossesRecord(finalCounters, this.undecodedRecords, gaps.length, lost, lostEvents),
      unattributedEvents: vertices.unattributedEvents,
      unattributedCgroups: vertices.unattributedCgroups,
      untracedCgroups: this.untraced,
      runcSetupEvents: vertices.runcSetupEvents,
      ambiguities: attributions.ambiguities,
    };
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
  const c = new Correlation(input.clock ? { clock: input.clock } : {});
  for (const ev of input.events) c.push(ev);
  const { events: _events, ...rest } = input;
  return c.finish(rest);
}
