// The traced cgroups: what is known of each (from its mkdir/rmdir events and the events
// tagged with it), how they nest, and a top-level one's speculation while the build runs.
import type { CgroupEventData } from '../decode/events.js';
import type { RecordContext } from './processes.js';
import { StepBuilder } from './step-builder.js';

export interface Cg {
  id: bigint;
  path: string;
  mkdir?: CgroupEventData;
  rmdir?: CgroupEventData;
  /** Kernel events tagged with this cgroup (not mkdir/rmdir): a process record counts its
   * fork here when the fork was in this cgroup, and its exit; an exec record its digests. */
  count: number;
  /** Of them, those before its top-level cgroup's speculation started (runc's setup, if the
   * speculation holds; a fork counts by its time). */
  preSpec: number;
  firstTs?: bigint;
  lastTs?: bigint;
  parent?: Cg;
  /** While pushing: the cgroup it was nested in when it appeared (the final nesting is parent). */
  parentNow?: Cg;
  /** While pushing: the top-level cgroup whose builder its events went to. */
  feeds?: Cg;
  /** A top-level cgroup's speculative builder, from its first exec on. */
  spec?: Speculation;
  /** Indices of its exec records (kept decoded: attribution reads them). */
  execs: number[];
  /** Its events that say something was lost (undecoded, an exec not stopped, a failed digest). */
  lossy: number;
}

/** Where a step's events go as they are read, and what is summed over them: a top-level
 * cgroup's speculation while the build runs, or a vertex built again at the end. */
export interface Feed {
  builder: StepBuilder;
  /** The time of the exec the step starts at: a fork before it was runc's setup, even when
   * its process record came later (at the exit). */
  startTs: bigint;
  /** Over all the step's events (digests too), as the per-step figures are. */
  firstTs?: bigint;
  lastTs?: bigint;
  userNs: number;
  sysNs: number;
  maxRssKiB: number;
}

/** What a top-level cgroup's events made while the build ran (see Correlation, correlation.ts). */
export interface Speculation extends Feed {
  startIndex: number;
  /** The cgroups whose events the builder took (the last one: events come in runs). */
  fed: Set<Cg>;
  lastFed?: Cg;
}

export function newCg(id: bigint): Cg {
  // Every field from the start, so that all cgroups share one object shape: fields
  // added later gave each a shape of its own, and the compiled record path was thrown
  // away and compiled again as new shapes met it.
  return {
    id,
    path: '',
    mkdir: undefined,
    rmdir: undefined,
    count: 0,
    preSpec: 0,
    firstTs: undefined,
    lastTs: undefined,
    parent: undefined,
    parentNow: undefined,
    feeds: undefined,
    spec: undefined,
    execs: [],
    lossy: 0,
  };
}

/** A step's feed from the exec at `startTs` on. */
export function newFeed(startTs: bigint, ctx: RecordContext): Feed {
  return { builder: new StepBuilder(ctx), startTs, firstTs: undefined, lastTs: undefined, userNs: 0, sysNs: 0, maxRssKiB: 0 };
}

/** A top-level cgroup's builder, from its exec at `startIndex` (time `startTs`) on. */
export function newSpeculation(startIndex: number, startTs: bigint, ctx: RecordContext): Speculation {
  return {
    builder: new StepBuilder(ctx),
    startTs,
    firstTs: undefined,
    lastTs: undefined,
    userNs: 0,
    sysNs: 0,
    maxRssKiB: 0,
    startIndex,
    fed: new Set(),
    lastFed: undefined,
  };
}

export function appearedAt(cg: Cg): bigint | undefined {
  return cg.mkdir?.header.tsNs ?? cg.firstTs;
}

/** The cgroup a new one is nested in, as far as known now (see nest: the same rule). */
export function parentNow(cgs: ReadonlyMap<bigint, Cg>, c: Cg): Cg | undefined {
  let best: Cg | undefined;
  for (const o of cgs.values()) {
    if (o !== c && o.path !== '' && c.path.startsWith(`${o.path}/`) && (!best || o.path.length > best.path.length)) best = o;
  }
  return best;
}

/** Sets each cgroup's parent: the longest known path that is a strict prefix of its own.
 * Returns the cgroups in order of appearance. */
export function nest(cgs: ReadonlyMap<bigint, Cg>): Cg[] {
  const withPath = [...cgs.values()].filter((c) => c.path !== '');
  for (const c of withPath) {
    let best: Cg | undefined;
    for (const o of withPath) {
      if (o !== c && c.path.startsWith(`${o.path}/`) && (!best || o.path.length > best.path.length)) best = o;
    }
    if (best) c.parent = best;
  }
  const appearance = (c: Cg): bigint => appearedAt(c) ?? 0n;
  return [...cgs.values()].sort((a, b) => {
    const ta = appearance(a);
    const tb = appearance(b);
    return ta < tb ? -1 : ta > tb ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  });
}
