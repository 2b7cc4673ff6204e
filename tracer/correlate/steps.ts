// The trace's record of each Dockerfile step: its vertex's status and times, and for a RUN
// its cgroups, processes, files, network peers, resources and warnings.
import type {
  TraceAmbiguityRecord,
  TraceBuildStep,
  TraceCgroup,
  TraceFiles,
  TraceNetwork,
  TraceProcess,
  TraceResources,
  TraceStepStatus,
  TraceUnlistedProcesses,
} from '../../model/index.js';
import { ambiguityReason, type Attribution } from './attribution.js';
import type { Cg, Feed } from './cgroups.js';
import { copyRecord } from './copy.js';
import type { DigestInfo } from './digests.js';
import { emptyFiles } from './files.js';
import type { CorrelateServedFile, CorrelateStep, CorrelateVertex } from './input.js';
import type { Gap } from './losses.js';
import type { Unlisted } from './processes.js';
import { isoWall, ms, vertexTimes } from './time.js';
import type { VertexData } from './vertices.js';

/** What the step records are made from. */
export interface StepsContext {
  vertexBy: ReadonlyMap<string, CorrelateVertex>;
  perVertex: ReadonlyMap<string, VertexData>;
  gaps: readonly Gap[];
  served: readonly CorrelateServedFile[];
  traceReads: boolean;
  digests: DigestInfo;
  iso: (ts: bigint) => string;
}

export interface StepRecords {
  buildSteps: TraceBuildStep[];
  /** The Dockerfile steps of each vertex. */
  stepsByVertex: Map<string, CorrelateStep[]>;
  /** The gaps (indices) that began before a step the probe watched had finished. */
  gapsInSteps: Set<number>;
  /** RUN steps that completed with no traced cgroup seen and no gap to explain it. */
  unseenSteps: number;
}

interface Built {
  processes: TraceProcess[];
  unlisted: TraceUnlistedProcesses | undefined;
  files: TraceFiles;
  network: TraceNetwork[];
  warnings: string[];
}

/** While the records are made: the records of each vertex, built once, and its ambiguity. */
interface StepsState extends StepsContext {
  built: Map<string, Built>;
  ambiguityOf: Map<string, string[]>;
  stepsByVertex: Map<string, CorrelateStep[]>;
  gapsInSteps: Set<number>;
  unseenSteps: number;
}

export function stepRecords(steps: readonly CorrelateStep[], ambiguities: readonly TraceAmbiguityRecord[], ctx: StepsContext): StepRecords {
  const stepsByVertex = new Map<string, CorrelateStep[]>();
  for (const s of steps) stepsByVertex.set(s.vertex, [...(stepsByVertex.get(s.vertex) ?? []), s]);
  const ambiguityOf = new Map<string, string[]>();
  for (const a of ambiguities) for (const v of a.candidates) if (!ambiguityOf.has(v)) ambiguityOf.set(v, a.candidates);
  const x: StepsState = { ...ctx, built: new Map(), ambiguityOf, stepsByVertex, gapsInSteps: new Set(), unseenSteps: 0 };
  const buildSteps = steps.map((s) => stepRecord(s, x));
  return { buildSteps, stepsByVertex, gapsInSteps: x.gapsInSteps, unseenSteps: x.unseenSteps };
}

function stepRecord(s: CorrelateStep, x: StepsState): TraceBuildStep {
  const v = x.vertexBy.get(s.vertex);
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
    x.gaps.forEach((g, i) => {
      if (end !== undefined && end < g.fromNs) return;
      x.gapsInSteps.add(i);
      (step.monitorGaps ??= []).push({ ...g.record });
      step.lostEvents += 1;
      step.warnings.push(`the probe stopped watching at ${g.record.startedOn}, before this step finished (${g.record.reason}): its record may be incomplete`);
    });
  }
  const sharing = (x.stepsByVertex.get(s.vertex) ?? []).filter((o) => o !== s);
  if (sharing.length) {
    step.warnings.push(`the same vertex is also Dockerfile:${sharing.map((o) => o.line).join(', ')}: its record is shared`);
  }
  if ((keyword === 'COPY' || keyword === 'ADD') && (s.copySources || s.copyFrom !== undefined)) {
    step.copy = copyRecord(s, x.served, cached);
  }
  if (!cached) runRecord(step, s, start, end, x);
  return step;
}

/** A step that ran: what its cgroups did. */
function runRecord(step: TraceBuildStep, s: CorrelateStep, start: bigint | undefined, end: bigint | undefined, x: StepsState): void {
  const d = x.perVertex.get(s.vertex);
  const keyword = step.keyword;
  const isRun = keyword === 'RUN' || (s.execArgs !== undefined && s.execArgs.length > 0);
  if (!d) {
    if (isRun && (!s.execArgs || s.execArgs.length === 0)) {
      step.warnings.push('the exec args of this RUN were not given: it cannot be matched to a cgroup');
    } else if (isRun && start !== undefined) {
      step.warnings.push('no traced cgroup ran this command: its exec was not seen (events lost, or the probe was not tracing)');
      // A RUN that completed ran at least its command: with no gap to account for it, the
      // probe missed the step's container (for example, a daemon whose RUN containers live
      // under a cgroup parent the probe does not watch). One lost event, and the trace is
      // not complete.
      if (step.status === 'done' && step.monitorGaps === undefined) {
        step.lostEvents += 1;
        x.unseenSteps += 1;
      }
    }
    return;
  }
  const [primary, ...extra] = d.cgroups.map(({ cg: c, a }) => cgroupRecord(c, a, x.iso));
  step.cgroup = primary ?? null;
  if (extra.length) step.extraCgroups = extra;
  const amb = x.ambiguityOf.get(s.vertex);
  if (amb) {
    step.ambiguous = { candidates: [...amb], reason: ambiguityReason(amb.length) };
  }
  let b = x.built.get(s.vertex);
  if (!b) {
    const warnings: string[] = [];
    const warn = (w: string): void => {
      warnings.push(w);
    };
    // Built while the build ran when the step's container is the one the speculation
    // followed from its first exec; else (another exec started the step, another
    // container was attributed to it as well) from its records read again. The same builders.
    const builder = (d.feed as Feed).builder;
    b = {
      processes: builder.processes.finish(x.digests, x.iso),
      unlisted: unlistedRecord(builder.processes.unlisted, builder.processes.listedMax, x.iso),
      files: builder.files.finish(x.traceReads, warn),
      network: builder.network.finish(),
      warnings,
    };
    x.built.set(s.vertex, b);
    // the first step of the vertex takes the records; a step sharing it gets copies
    step.processes = b.processes;
    step.files = b.files;
    step.network = b.network;
  } else {
    step.processes = structuredClone(b.processes);
    step.files = structuredClone(b.files);
    step.network = structuredClone(b.network);
  }
  if (b.unlisted !== undefined) {
    step.unlistedProcesses = { ...b.unlisted };
    step.warnings.push(
      `${b.unlisted.count} process(es) that forked and never exec'd are counted in unlistedProcesses, not listed: the step lists the first ${b.unlisted.listedLimit} to exit`,
    );
  }
  step.warnings.push(...b.warnings);
  step.runcSetupEvents = d.setup;
  step.lostEvents += d.lost;
  const f = d.feed as Feed;
  step.resources = resourcesOf(f.userNs, f.sysNs, f.maxRssKiB, start, end, f.firstTs, f.lastTs);
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

function resourcesOf(
  user: number,
  sys: number,
  rss: number,
  start: bigint | undefined,
  end: bigint | undefined,
  firstTs: bigint | undefined,
  lastTs: bigint | undefined,
): TraceResources {
  const wallNs = start !== undefined && end !== undefined ? end - start : firstTs !== undefined && lastTs !== undefined ? lastTs - firstTs : 0n;
  return { wallMs: ms(wallNs), cpuUserMs: ms(user), cpuSystemMs: ms(sys), maxRssKb: Number(rss) };
}

/** The processes a step counted instead of listing, if any. */
function unlistedRecord(u: Unlisted, listedLimit: number, iso: (ts: bigint) => string): TraceUnlistedProcesses | undefined {
  if (u.count === 0) return undefined;
  return {
    count: u.count,
    listedLimit,
    exitedZero: u.exitedZero,
    exitedNonZero: u.exitedNonZero,
    killed: u.killed,
    firstStartedOn: u.firstStart === undefined ? null : iso(u.firstStart),
    lastFinishedOn: u.lastExit === undefined ? null : iso(u.lastExit),
    cpuUserMs: ms(u.userNs),
    cpuSystemMs: ms(u.sysNs),
  };
}
