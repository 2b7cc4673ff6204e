// Which build's are a container's events: the agent's one probe sees every container
// BuildKit runs; each build gets the records of its own only (docs/ARCHITECTURE.md "The
// tracebuild agent"). The rule is the correlator's (tracer/correlate/attribution.ts), over
// every build passing through the agent:
//
//   A top-level cgroup (a RUN's container) belongs to the exec vertex that was running
//   when it appeared and whose command its first matching exec runs: the exec op's args
//   when the agent saw the LLB (argvMatches), else the RUN's text in the vertex's name
//   (vertex-names.ts). A nested cgroup follows its top-level one. Vertices come from the
//   builds' Status streams, which the agent follows itself.
//
// The records of a cgroup are held until it is decided: at least `settleMs` after it
// appeared (the Status streams of builds running at once have then reported their
// vertices), and then sent, in order, to the builds of its vertex (a vertex two builds
// share is one execution: both asked for it). When the candidates belong to different
// builds, a vertex that already has its container is not one (an exec op runs one), nor is
// one whose run does not contain the container's lifetime; if candidates of more than one
// build remain, the container is given to none of them, and each is told (a gap,
// `agent-withheld`): its trace is then incomplete, never someone else's.
//
// Loss reports go to every build running, counted from the build's start (the probe's
// counters are cumulative for the agent's lifetime): a lost event cannot be placed.
import type { LlbOpInfo } from '../frontend/index.js';
import type { Vertex } from '../model/index.js';
import { abi, argvMatches, decodeRecord, type ExecEventData, type MonitorGap, type TraceEvent } from '../tracer/index.js';
import { FRAMED_BASE, LOSS_SLOTS, framedCopy, lossSlots, rebaseSlots, recordCgroup, recordTs, recordType, withLossSlots } from './records.js';
import { nameMatchesExec, parseVertexName, runCommandOf, type ParsedVertexName } from './vertex-names.js';

const { EventType } = abi;

/** Where a build's records go. */
export interface BuildSink {
  /** A record of the build's containers, or a loss report counted from the build's start:
   * at `base` in `buf`, its u32 length just before it (as the loader frames records). */
  record(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void;
  /** A container that may have been the build's was given to no build. */
  gap(gap: MonitorGap): void;
}

export interface RouterOptions {
  /** How long after a container appeared its owner is decided (Status streams catch up). */
  settleMs?: number;
  /** Slack around a vertex's started/completed (the correlator's default). */
  toleranceMs?: number;
  /** A container no build claims is given up after this long (its records dropped). */
  orphanAfterMs?: number;
  /** Bytes of records held for one undecided container; beyond, they are counted lost. */
  maxPendingBytes?: number;
  /** Wall clock, ms (tests). */
  now?: () => number;
  log?: (line: string) => void;
}

interface RVertex {
  digest: string;
  builds: Set<string>;
  parsed?: ParsedVertexName;
  execArgs?: readonly string[];
  startedNs?: bigint;
  completedNs?: bigint;
  cached: boolean;
  /** Top-level cgroups decided to it. */
  cgroups: number;
  /** The argv of the exec that started its container. */
  argv?: readonly string[];
}

interface Held {
  buf: Buffer;
  ev: TraceEvent | undefined;
}

interface RCgroup {
  id: bigint;
  path: string;
  top: RCgroup | undefined;
  appearedTs: bigint | undefined;
  removedTs: bigint | undefined;
  /** Agent wall clock (ms) when first seen / removed. */
  seenAt: number;
  removedAt: number | undefined;
  execs: ExecEventData[];
  held: Held[];
  heldBytes: number;
  /** Records dropped while held (over maxPendingBytes). */
  overflow: number;
  decided: boolean;
  builds: string[];
}

interface RBuild {
  ref: string;
  sink: BuildSink;
  baseline: bigint[];
  /** Records dropped for this build: added to its `output` loss counter. */
  dropped: bigint;
}

/** Execs of a container considered when matching (runc's own come first). */
const MAX_EXECS_CONSIDERED = 32;

export class Router {
  private readonly builds = new Map<string, RBuild>();
  private readonly vertices = new Map<string, RVertex>();
  private readonly cgroups = new Map<bigint, RCgroup>();
  private readonly byPath = new Map<string, RCgroup>();
  private offsetNs = 0n;
  /** The latest kernel time seen in a record: a cgroup not removed by then was alive. */
  private lastTs = 0n;
  private latestLoss: bigint[] = new Array<bigint>(LOSS_SLOTS).fill(0n);
  private readonly settleMs: number;
  private readonly toleranceNs: bigint;
  private readonly orphanAfterMs: number;
  private readonly maxPendingBytes: number;
  private readonly now: () => number;
  /** Containers given to no build (withheld or unclaimed), for the agent's log and tests. */
  readonly stats = { decided: 0, withheld: 0, unclaimed: 0, overflow: 0 };

  constructor(private readonly options: RouterOptions = {}) {
    this.settleMs = options.settleMs ?? 1000;
    this.toleranceNs = BigInt(options.toleranceMs ?? 1000) * 1_000_000n;
    this.orphanAfterMs = options.orphanAfterMs ?? 30_000;
    this.maxPendingBytes = options.maxPendingBytes ?? 64 << 20;
    this.now = options.now ?? Date.now;
  }

  /** The probe's clock: kernel ts + offset = wall clock ns. */
  setClock(realtimeOffsetNs: bigint): void {
    this.offsetNs = realtimeOffsetNs;
  }

  /** The probe restarted: what it had said is gone, and its counters start from 0. */
  reset(): void {
    this.cgroups.clear();
    this.byPath.clear();
    this.latestLoss = new Array<bigint>(LOSS_SLOTS).fill(0n);
    for (const b of this.builds.values()) b.baseline = [...this.latestLoss];
  }

  addBuild(ref: string, sink: BuildSink): void {
    if (this.builds.has(ref)) return;
    this.builds.set(ref, { ref, sink, baseline: [...this.latestLoss], dropped: 0n });
  }

  removeBuild(ref: string): void {
    this.builds.delete(ref);
    for (const [d, v] of this.vertices) {
      v.builds.delete(ref);
      if (v.builds.size === 0) this.vertices.delete(d);
    }
  }

  /** The argv of the exec that started the container given to this vertex. */
  argvOf(digest: string): readonly string[] | undefined {
    return this.vertices.get(digest)?.argv;
  }

  hasBuild(ref: string): boolean {
    return this.builds.has(ref);
  }

  private vertex(ref: string, digest: string): RVertex {
    let v = this.vertices.get(digest);
    if (v === undefined) {
      v = { digest, builds: new Set(), cached: false, cgroups: 0 };
      this.vertices.set(digest, v);
    }
    v.builds.add(ref);
    return v;
  }

  /** What a build's Status stream said about its vertices. */
  updateVertices(ref: string, reports: readonly Vertex[]): void {
    if (!this.builds.has(ref)) return;
    for (const r of reports) {
      const v = this.vertex(ref, r.digest);
      if (r.name !== undefined && r.name !== '' && v.parsed === undefined) {
        const parsed = parseVertexName(r.name);
        if (parsed !== undefined) v.parsed = parsed;
      }
      v.cached = v.cached || r.cached;
      if (r.startedNs !== undefined) v.startedNs = r.startedNs;
      if (r.completedNs !== undefined) v.completedNs = r.completedNs;
    }
  }

  /** The ops of an LLB definition the build sent (exec args exactly). */
  addOps(ref: string, ops: readonly LlbOpInfo[]): void {
    if (!this.builds.has(ref)) return;
    for (const op of ops) {
      if (op.execArgs === undefined) continue;
      const v = this.vertex(ref, op.digest);
      v.execArgs = op.execArgs;
      if (op.name !== undefined && v.parsed === undefined) {
        const parsed = parseVertexName(op.name);
        if (parsed !== undefined) v.parsed = parsed;
      }
    }
  }

  /** Records this build could not get (its reader was too slow): counted as lost. */
  countDropped(ref: string, n: number): void {
    const b = this.builds.get(ref);
    if (b !== undefined) b.dropped += BigInt(n);
  }

  /** Every record of the probe, in its order. */
  push(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void {
    const type = recordType(buf, base);
    // the loader's own records (acks of the watchdog's pings every second) carry its clock too
    const ts = recordTs(buf, base);
    if (ts > this.lastTs) this.lastTs = ts;
    if (type === EventType.Loss) {
      this.loss(buf, base, len);
      return;
    }
    if (type === EventType.Ready || type === EventType.Ack) return;
    if (ev?.kind === 'cgroup-mkdir' || ev?.kind === 'cgroup-rmdir') {
      this.cgroupEvent(buf, base, len, ev);
      return;
    }
    const id = recordCgroup(buf, base);
    if (id === 0n) return;
    const c = this.cgroupOf(id, ts);
    const top = c.top ?? c;
    if (ev?.kind === 'exec' && c === top && !top.decided && top.execs.length < MAX_EXECS_CONSIDERED) top.execs.push(ev);
    this.route(top, buf, base, len, ev);
    if (ev?.kind === 'exec' && !top.decided) this.decide(top, false);
  }

  private cgroupOf(id: bigint, ts: bigint): RCgroup {
    let c = this.cgroups.get(id);
    if (c === undefined) {
      // its mkdir was lost (or it was traced before): a top-level cgroup of unknown path
      c = this.newCgroup(id, '', undefined, ts);
    }
    return c;
  }

  private newCgroup(id: bigint, path: string, parent: RCgroup | undefined, ts: bigint): RCgroup {
    const c: RCgroup = {
      id,
      path,
      top: parent === undefined ? undefined : (parent.top ?? parent),
      appearedTs: ts,
      removedTs: undefined,
      seenAt: this.now(),
      removedAt: undefined,
      execs: [],
      held: [],
      heldBytes: 0,
      overflow: 0,
      decided: false,
      builds: [],
    };
    this.cgroups.set(id, c);
    if (path !== '') this.byPath.set(path, c);
    return c;
  }

  private cgroupEvent(buf: Buffer, base: number, len: number, ev: Extract<TraceEvent, { kind: 'cgroup-mkdir' | 'cgroup-rmdir' }>): void {
    let c = this.cgroups.get(ev.id);
    if (ev.kind === 'cgroup-mkdir') {
      if (c === undefined) {
        const slash = ev.path.lastIndexOf('/');
        const parent = slash > 0 ? this.byPath.get(ev.path.slice(0, slash)) : undefined;
        c = this.newCgroup(ev.id, ev.path, parent, ev.header.tsNs);
      }
      this.route(c.top ?? c, buf, base, len, ev);
      return;
    }
    c ??= this.newCgroup(ev.id, ev.path, undefined, ev.header.tsNs);
    c.removedTs = ev.header.tsNs;
    c.removedAt = this.now();
    const top = c.top ?? c;
    this.route(top, buf, base, len, ev);
    if (c === top && !top.decided) this.decide(top, false);
    this.forget(c);
  }

  /** A removed cgroup is forgotten once decided (its records went where they belong). */
  private forget(c: RCgroup): void {
    const top = c.top ?? c;
    if (!top.decided || c.removedTs === undefined) return;
    this.cgroups.delete(c.id);
    if (c.path !== '' && this.byPath.get(c.path) === c) this.byPath.delete(c.path);
  }

  private route(top: RCgroup, buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void {
    if (top.decided) {
      for (const ref of top.builds) this.builds.get(ref)?.sink.record(buf, base, len, ev);
      return;
    }
    if (top.heldBytes + len > this.maxPendingBytes) {
      top.overflow++;
      this.stats.overflow++;
      return;
    }
    top.held.push({ buf: framedCopy(buf, base, len), ev });
    top.heldBytes += len;
  }

  private loss(buf: Buffer, base: number, len: number): void {
    this.latestLoss = lossSlots(buf, base);
    for (const b of this.builds.values()) b.sink.record(...this.lossFor(b, buf, base, len));
  }

  private lossFor(b: RBuild, buf: Buffer, base: number, len: number): [Buffer, number, number, TraceEvent] {
    const slots = rebaseSlots(this.latestLoss, b.baseline);
    slots[abi.Loss.Output] = (slots[abi.Loss.Output] ?? 0n) + b.dropped;
    const rec = withLossSlots(buf, base, len, slots);
    return [rec, FRAMED_BASE, len, decodeRecord(rec.subarray(FRAMED_BASE))];
  }

  /** Decides what can be decided now (called periodically). One decision can make another
   * (a vertex that has its container is no candidate for the next): until nothing changes. */
  tick(): void {
    for (let pass = 0; pass < 8; pass++) {
      const before = this.stats.decided + this.stats.withheld + this.stats.unclaimed;
      for (const c of [...this.cgroups.values()]) if (c.top === undefined && !c.decided) this.decide(c, false);
      if (this.stats.decided + this.stats.withheld + this.stats.unclaimed === before) return;
    }
  }

  /** Undecided containers that may be this build's (a command of its that matches). */
  undecidedFor(ref: string): number {
    let n = 0;
    for (const c of this.cgroups.values()) {
      if (c.top !== undefined || c.decided) continue;
      if (c.execs.some((e) => [...this.vertices.values()].some((v) => v.builds.has(ref) && this.matches(v, e) !== 'no'))) n++;
    }
    return n;
  }

  /** Decides now every undecided container that may be this build's, with what is known. */
  forceFor(ref: string): void {
    for (const c of [...this.cgroups.values()]) {
      if (c.top !== undefined || c.decided) continue;
      if (c.execs.some((e) => [...this.vertices.values()].some((v) => v.builds.has(ref) && this.matches(v, e) !== 'no'))) this.decide(c, true);
    }
  }

  private matches(v: RVertex, exec: ExecEventData): 'exact' | 'compatible' | 'no' {
    if (v.execArgs !== undefined) return argvMatches(v.execArgs, exec) ? 'exact' : 'no';
    if (v.parsed === undefined || runCommandOf(v.parsed) === undefined) return 'no';
    return nameMatchesExec(v.parsed, exec);
  }

  private decide(c: RCgroup, force: boolean): void {
    if (c.decided) return;
    const now = this.now();
    if (c.execs.length === 0) {
      if (c.removedAt !== undefined && (force || now >= c.removedAt + this.settleMs)) this.giveUp(c, 'no exec was seen in it');
      else if (now >= c.seenAt + this.orphanAfterMs) this.giveUp(c, 'no exec was seen in it');
      return;
    }
    const appeared = (c.appearedTs ?? (c.execs[0] as ExecEventData).header.tsNs) + this.offsetNs;
    let list: RVertex[] = [];
    let matched: ExecEventData | undefined;
    for (const exec of c.execs) {
      const running: RVertex[] = [];
      const near: RVertex[] = [];
      const strength = new Map<RVertex, 'exact' | 'compatible'>();
      for (const v of this.vertices.values()) {
        if (v.cached || v.startedNs === undefined) continue;
        const m = this.matches(v, exec);
        if (m === 'no') continue;
        strength.set(v, m);
        if (v.startedNs <= appeared && (v.completedNs === undefined || appeared <= v.completedNs)) running.push(v);
        else if (v.startedNs - this.toleranceNs <= appeared && (v.completedNs === undefined || appeared <= v.completedNs + this.toleranceNs)) near.push(v);
      }
      const tier = running.length > 0 ? running : near;
      if (tier.length === 0) continue;
      const exact = tier.filter((v) => strength.get(v) === 'exact');
      list = exact.length > 0 ? exact : tier;
      matched = exec;
      break;
    }
    if (list.length === 0) {
      const gone = c.removedAt !== undefined && now >= c.removedAt + this.settleMs;
      if (force || gone || now >= c.seenAt + this.orphanAfterMs) this.giveUp(c, 'no vertex of a build through this agent was running its command');
      return;
    }
    const appearedMs = Number(appeared / 1_000_000n);
    if (!force && now < Math.max(appearedMs, c.seenAt) + this.settleMs) return;
    const owners = (vs: readonly RVertex[]): Set<string> => new Set(vs.flatMap((v) => [...v.builds]));
    const argv = (matched as ExecEventData).argv;
    if (list.length === 1 || owners(list).size <= 1) return this.assign(c, list, argv);
    // Candidates of several builds: an exec op runs one container...
    const free = list.filter((v) => v.cgroups === 0);
    if (free.length > 0 && owners(free).size === 1) return this.assign(c, free, argv);
    // ...within its own run: a container that outlived a vertex's run is not its.
    const alive = (c.removedTs ?? this.lastTs) + this.offsetNs;
    const within = (free.length > 0 ? free : list).filter((v) => v.completedNs === undefined || alive <= v.completedNs + this.toleranceNs);
    if (within.length > 0 && owners(within).size === 1) return this.assign(c, within, argv);
    // Nothing more can be learnt once the container is gone and every candidate's run is
    // over; until then, another decision may still settle it.
    const settled = c.removedTs !== undefined && list.every((v) => v.completedNs !== undefined);
    if (!force && !settled) return;
    this.withhold(c, list, owners(list));
  }

  private assign(c: RCgroup, vs: readonly RVertex[], argv: readonly string[]): void {
    c.decided = true;
    this.stats.decided++;
    const builds = new Set<string>();
    for (const v of vs) {
      v.cgroups++;
      v.argv ??= argv;
      for (const b of v.builds) builds.add(b);
    }
    c.builds = [...builds].filter((b) => this.builds.has(b));
    const held = c.held;
    c.held = [];
    c.heldBytes = 0;
    for (const ref of c.builds) {
      const b = this.builds.get(ref) as RBuild;
      for (const h of held) b.sink.record(h.buf, FRAMED_BASE, h.buf.length - FRAMED_BASE, h.ev);
      if (c.overflow > 0) b.dropped += BigInt(c.overflow);
    }
    this.forgetGroup(c);
  }

  private withhold(c: RCgroup, candidates: readonly RVertex[], owners: ReadonlySet<string>): void {
    this.stats.withheld++;
    const fromMs = Number((((c.appearedTs ?? 0n) + this.offsetNs) / 1_000_000n));
    const where = c.path === '' ? `cgroup ${c.id}` : `${c.path} (cgroup ${c.id})`;
    const gap: MonitorGap = {
      kind: 'agent-withheld',
      fromMs,
      reason: `the tracebuild agent could not tell which of ${owners.size} builds running at once the container ${where} belonged to (${candidates.length} RUN steps with its command were running), so it gave its events to none of them`,
    };
    this.options.log?.(`withheld ${where} from ${owners.size} builds`);
    for (const ref of owners) this.builds.get(ref)?.sink.gap(gap);
    this.drop(c);
  }

  private giveUp(c: RCgroup, why: string): void {
    this.stats.unclaimed++;
    this.options.log?.(`no build claims ${c.path === '' ? `cgroup ${c.id}` : c.path}: ${why}; its ${c.held.length} records are dropped`);
    this.drop(c);
  }

  private drop(c: RCgroup): void {
    c.decided = true;
    c.builds = [];
    c.held = [];
    c.heldBytes = 0;
    this.forgetGroup(c);
  }

  /** A decided top-level cgroup and its nested ones are forgotten when removed. */
  private forgetGroup(top: RCgroup): void {
    for (const c of [...this.cgroups.values()]) if ((c.top ?? c) === top) this.forget(c);
  }
}
