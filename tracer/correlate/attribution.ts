// Attribution (docs/ARCHITECTURE.md "Attributing kernel events to instructions"):
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
import { ARGV_MAX } from '../abi.js';
import type { ExecEventData } from '../decode/events.js';
import type { TraceAmbiguityRecord, TraceCgroup, TraceUnattributedCgroup } from '../../model/index.js';
import { appearedAt, type Cg } from './cgroups.js';
import type { CorrelateStep, CorrelateVertex } from './input.js';
import { byString } from './order.js';
import type { RecordStore } from './records.js';
import { vertexTimes } from './time.js';

/** Splits NUL-separated bytes the way decode/exec.ts splits an exec's argv. */
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

type Tier = 'running' | 'tolerance' | 'untimed';

interface Candidate {
  vertex: string;
  args: readonly string[];
  start?: bigint;
  end?: bigint;
}

export interface Attribution {
  vertex: string;
  startIndex: number;
  how: TraceCgroup['attribution'];
  candidates: string[];
}

/** The attribution of every cgroup attributed to a step, by cgroup id. */
export interface Attributions {
  byCgroup: Map<bigint, Attribution>;
  ambiguities: TraceAmbiguityRecord[];
}

/** Attributes the top-level cgroups (`cgOrder`: all, nested, in order of appearance) to
 * RUN steps by their execs; nested cgroups follow their top-level ancestor. */
export function attribute(
  cgOrder: readonly Cg[],
  steps: readonly CorrelateStep[],
  vertexBy: ReadonlyMap<string, CorrelateVertex>,
  records: RecordStore,
  offsetNs: bigint,
  toleranceNs: bigint,
): Attributions {
  // -- vertices and RUN candidates
  const runCandidates = new Map<string, Candidate>();
  for (const s of steps) {
    if (!s.execArgs || s.execArgs.length === 0 || runCandidates.has(s.vertex)) continue;
    const v = vertexBy.get(s.vertex);
    if (v?.cached) continue;
    runCandidates.set(s.vertex, { vertex: s.vertex, args: s.execArgs, ...vertexTimes(v) });
  }
  const candOrder = (a: Candidate, b: Candidate): number => {
    const sa = a.start ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
    const sb = b.start ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
    return sa < sb ? -1 : sa > sb ? 1 : byString(a.vertex, b.vertex);
  };
  const candidatesFor = (exec: ExecEventData, t: bigint | undefined): { tier: Tier; list: Candidate[] } | undefined => {
    const matching = [...runCandidates.values()].filter((c) => argvMatches(c.args, exec));
    if (matching.length === 0) return undefined;
    if (t !== undefined) {
      const w = t + offsetNs;
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
  for (const c of cgOrder) {
    if (c.parent) continue;
    let found: Match | undefined;
    for (const i of c.execs) {
      const ev = records.event(i);
      if (ev?.kind !== 'exec') continue;
      const r = candidatesFor(ev, appearedAt(c));
      if (r) {
        found = { cg: c, startIndex: i, tier: r.tier, list: r.list };
        break;
      }
    }
    if (found) matches.push(found);
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
  return { byCgroup: attributions, ambiguities };
}

export function ambiguityReason(n: number): string {
  return `${n} steps with identical commands were running when the cgroup appeared; attributed to the earliest-started one without a cgroup of its own`;
}

/** Why a cgroup was attributed to no step. */
export function unattributedRecord(
  c: Cg,
  execs: readonly ExecEventData[],
  allRunArgs: ReadonlyArray<readonly string[]>,
  iso: (ts: bigint) => string,
): TraceUnattributedCgroup {
  const rec: TraceUnattributedCgroup = {
    id: c.id.toString(),
    path: c.path,
    createdOn: c.mkdir ? iso(c.mkdir.header.tsNs) : null,
    events: c.count,
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
