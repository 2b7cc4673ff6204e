// Per vertex: the cgroups attributed to it, runc's setup counts and losses, and whether what
// was built while the build ran can stand (speculationOf; else Correlation builds it again).
import type { ExecEventData } from '../decode/events.js';
import type { TraceUnattributedCgroup } from '../../model/index.js';
import { unattributedRecord, type Attribution } from './attribution.js';
import type { Cg, Feed, Speculation } from './cgroups.js';
import type { CorrelateStep } from './input.js';
import type { RecordStore } from './records.js';

export interface VertexData {
  cgroups: Array<{ cg: Cg; a: Attribution }>;
  /** What the step's records are made of: the speculation that held, or its events read
   * again (set by Correlation.finish). */
  feed?: Feed;
  setup: number;
  lost: number;
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
      d = { cgroups: [], setup: 0, lost: 0 };
      perVertex.set(v, d);
    }
    return d;
  };
  let unattributedEvents = 0;
  const unattributedCgroups: TraceUnattributedCgroup[] = [];
  for (const c of cgOrder) {
    const a = attributions.get(c.id);
    if (!a) {
      if (c.count === 0 && !c.mkdir) continue;
      unattributedEvents += c.count;
      const execs = c.execs.map((i) => records.event(i)).filter((e): e is ExecEventData => e?.kind === 'exec');
      unattributedCgroups.push(unattributedRecord(c, execs, allRunArgs, iso));
      continue;
    }
    const d = vdata(a.vertex);
    d.cgroups.push({ cg: c, a });
    d.lost += c.lossy;
  }
  return { byVertex: perVertex, unattributedEvents, runcSetupEvents: 0, unattributedCgroups };
}

/**
 * The builder that followed a step's container while the build ran, when it holds exactly
 * what the step's records are made of: the step's one top-level cgroup, started at the exec
 * the attribution chose, and every cgroup it was fed from attributed to the step.
 */
export function speculationOf(cgroups: ReadonlyArray<{ cg: Cg; a: Attribution }>): Speculation | undefined {
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
