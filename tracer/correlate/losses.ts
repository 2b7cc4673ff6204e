// Losses: the probe's loss counters, attributed to a step by time where only its cgroups
// were alive; the gaps where the probe stopped watching; the trace's losses record.
import { lossCountersFromSlots, totalLost, type LossCounters } from '../decode/losses.js';
import type { MonitorGap } from '../probe.js';
import type { TraceLosses, TraceMonitorGap } from '../../model/index.js';
import type { Attribution } from './attribution.js';
import { appearedAt, type Cg } from './cgroups.js';
import { isoWall } from './time.js';
import type { VertexData } from './vertices.js';

const INFERRED_KEYS = ['pendingFull', 'scratchBusy', 'output', 'argsUnread'] as const;

/** Losses of the counters attributable by time: everything but per-exec digest losses, traced-map and netSuppressed. */
function inferableLoss(c: LossCounters): bigint {
  let n = c.ringbufTotal;
  for (const k of INFERRED_KEYS) n += c[k];
  return n;
}

/** A loss record of the probe: its cumulative counters at `ts`. */
export interface LossRecord {
  ts: bigint;
  counters: LossCounters;
}

/** Losses by time: an increase between two loss reports while one vertex's cgroups were the
 * only ones alive is that vertex's (added to its `lost`). `since`: the READY record's time. */
export function attributeLossesByTime(
  lossRecords: readonly LossRecord[],
  since: bigint | undefined,
  cgs: ReadonlyMap<bigint, Cg>,
  attributions: ReadonlyMap<bigint, Attribution>,
  perVertex: ReadonlyMap<string, VertexData>,
): void {
  let prev = lossCountersFromSlots([]);
  let prevTs: bigint | undefined = since;
  const known = [...cgs.values()].filter((c) => c.mkdir || c.count > 0);
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
      const d = owner !== undefined ? perVertex.get(owner) : undefined;
      if (d) d.lost += Number(delta);
    }
    prev = rec.counters;
    prevTs = rec.ts;
  }
}

/** Where the probe stopped watching (from the wall-clock ms it gave). */
export interface Gap {
  fromNs: bigint;
  record: TraceMonitorGap;
}

export function gapsOf(monitorGaps: readonly MonitorGap[] | undefined): Gap[] {
  return (monitorGaps ?? []).map((g) => ({
    fromNs: BigInt(Math.floor(g.fromMs)) * 1_000_000n,
    record: { kind: g.kind, startedOn: isoWall(BigInt(Math.floor(g.fromMs)) * 1_000_000n), reason: g.reason } satisfies TraceMonitorGap,
  }));
}

/** Every event lost: the counters', the records not decoded, one per gap and one per RUN step
 * whose container the probe never saw. */
export function lostEventsOf(final: LossCounters, undecodedRecords: number, gaps: number, unseenSteps: number): number {
  return Number(totalLost(final)) + undecodedRecords + gaps + unseenSteps;
}

/** The losses attributed to steps: their vertices' (by cgroup and by time), and the gaps
 * that began before a step the probe watched had finished. */
export function lostInSteps(
  perVertex: ReadonlyMap<string, VertexData>,
  stepsByVertex: ReadonlyMap<string, unknown>,
  gapsInSteps: number,
): number {
  // gapsInSteps: the gaps, and the unseen steps, that count in some step's lostEvents
  const attributedLost = [...perVertex.entries()]
    .filter(([v]) => stepsByVertex.has(v))
    .reduce((n, [, d]) => n + d.lost, 0);
  return attributedLost + gapsInSteps;
}

/** The trace's losses record. `lostInSteps`: the losses attributed to steps' vertices (by
 * cgroup and by time) and the gaps that began while a step ran (at most lostEvents). */
export function lossesRecord(
  final: LossCounters,
  undecodedRecords: number,
  gaps: number,
  unseenSteps: number,
  lostInSteps: number,
  lostEvents: number,
): TraceLosses {
  const attributedToSteps = Math.min(lostInSteps, lostEvents);
  return {
    ringbuf: {
      'cgroup-mkdir': Number(final.ringbuf['cgroup-mkdir']),
      'cgroup-rmdir': Number(final.ringbuf['cgroup-rmdir']),
      exec: Number(final.ringbuf.exec),
      fork: Number(final.ringbuf.fork),
      exit: Number(final.ringbuf.exit),
      file: Number(final.ringbuf.file),
      net: Number(final.ringbuf.net),
    },
    pendingFull: Number(final.pendingFull),
    tracedFull: Number(final.tracedFull),
    scratchBusy: Number(final.scratchBusy),
    digestSkipped: Number(final.digestSkipped),
    signalFailed: Number(final.signalFailed),
    digestFailed: Number(final.digestFailed),
    output: Number(final.output),
    argsUnread: Number(final.argsUnread),
    netSuppressed: Number(final.netSuppressed),
    undecodedRecords,
    monitorGaps: gaps,
    unseenSteps,
    attributedToSteps,
    unattributedToSteps: lostEvents - attributedToSteps,
  };
}
