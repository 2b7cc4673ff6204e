// Per vertex: the cgroups attributed to it, its events (after the step started), runc's
// setup counts and losses; and whether what was built while the build ran can stand.
import type { ExecEventData } from '../decode/events.js';
import type { TraceUnattributedCgroup } from '../../model/index.js';
import { unattributedRecord, type Attribution } from './attribution.js';
import type { Cg, Speculation } from './cgroups.js';
import type { CorrelateStep } from './input.js';
import type { KernelEvent, RecordStore } from './records.js';

export interface VertexData {
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

export interface Vertices {
  byVertex: Map<string, VertexData>;
  unattributedEvents: number;
  runcSetupEvents: number;
  unattributedCgroups: TraceUnattributedCgroup[];
}

/** The attributed cgroups by vertex (in order of appearance), and the others counted. */
export function gatherVertices(
  cgOrder: readonly Cg[],
  attributions: ReadonlyMap<bigint, Attribution>,
  steps: readonly CorrelateStep[],
  records: RecordStore,
  iso: (ts: bigint) => string,
): Vertices {
  const allRunArgs = steps.filter((s) => s.execArgs && s.execArgs.length > 0).map((s) => s.execArgs as readonly string[]);
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
      unattributedCgroups.push(unattributedRecord(c, c.execs.map((i) => records.event(i) as ExecEventData), allRunArgs, iso));
      continue;
    }
    const d = vdata(a.vertex);
    d.cgroups.push({ cg: c, a });
    d.lost += c.lossy;
    const setup = countBelow(c.events, a.startIndex);
    d.setup += setup;
    runcSetupEvents += setup;
  }
  return { byVertex: perVertex, unattributedEvents, runcSetupEvents, unattributedCgroups };
}

/** Each vertex's speculation when it holds (`speculate`: may it), else its events decoded
 * again; counted in `stats`. */
export function takeStepEvents(
  perVertex: ReadonlyMap<string, VertexData>,
  speculate: boolean,
  records: RecordStore,
  stats: { speculated: number; rebuilt: number },
): void {
  for (const d of perVertex.values()) {
    const spec = speculate ? speculation(d.cgroups) : undefined;
    if (spec) {
      d.spec = spec;
      d.firstTs = spec.firstTs;
      d.lastTs = spec.lastTs;
      stats.speculated++;
      continue;
    }
    stats.rebuilt++;
    // the step's events, decoded again, merged in arrival order
    const indices: number[] = [];
    for (const { cg: c, a } of d.cgroups) for (let k = countBelow(c.events, a.startIndex); k < c.events.length; k++) indices.push(c.events[k] as number);
    if (d.cgroups.length > 1) indices.sort((x, y) => x - y);
    for (const i of indices) {
      const ev = records.event(i) as KernelEvent;
      if (ev.kind === 'unknown') continue;
      d.events.push(ev);
      const ts = ev.header.tsNs;
      if (d.firstTs === undefined || ts < d.firstTs) d.firstTs = ts;
      if (d.lastTs === undefined || ts > d.lastTs) d.lastTs = ts;
    }
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
