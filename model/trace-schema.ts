// Reads an untrusted JSON value as a trace (model/trace.ts), pure. A trace file may come
// from the tracer itself, from an attestation's predicate (attest/runtime-trace.ts), or from
// an older producer that wrote only the fields every reader relies on; all are accepted. What every reader relies on is checked (type and presence); the fields the
// tracer added later are filled with their documented defaults so that the renderers see
// one shape. Unknown fields are kept as they are.
//
// The first problem found is reported with its JSON path (`$.buildSteps[4].processes[1].argv`).

import type {
  Trace,
  TraceBuildStep,
  TraceFiles,
  TraceLosses,
  TraceMonitorGap,
  TraceEnforcement,
  TraceEnforcedStep,
  TraceNetwork,
  TraceProcess,
  TraceResources,
  TraceScript,
  TraceStepStatus,
} from './trace.js';
import { TracebuildError, type ExitKind } from '../common/index.js';

/** The value does not have the shape of a trace; `path` is where the first problem is. */
export class TraceShapeError extends TracebuildError<'not-a-trace'> {
  override readonly name = 'TraceShapeError';
  readonly exit: ExitKind = 'input';
  constructor(
    /** JSON path, e.g. `$.buildSteps[0].line`. */
    readonly path: string,
    /** What is wrong there, e.g. `is missing`, `must be a number (got string)`. */
    readonly problem: string,
  ) {
    super('not-a-trace', `${path} ${problem}`);
  }
}

type Json = Record<string, unknown>;

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/** `$.a` + `b` -> `$.a.b`; keys that are not identifiers use `["..."]`. */
function child(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function object(v: unknown, path: string): Json {
  if (!isObject(v)) throw new TraceShapeError(path, `must be an object (got ${kindOf(v)})`);
  return v;
}

function present(o: Json, key: string, path: string): unknown {
  if (!(key in o) || o[key] === undefined) throw new TraceShapeError(child(path, key), 'is missing');
  return o[key];
}

function wrong(path: string, want: string, v: unknown): never {
  throw new TraceShapeError(path, `must be ${want} (got ${kindOf(v)})`);
}

function str(o: Json, key: string, path: string): string {
  const v = present(o, key, path);
  return typeof v === 'string' ? v : wrong(child(path, key), 'a string', v);
}

function num(o: Json, key: string, path: string): number {
  const v = present(o, key, path);
  return typeof v === 'number' && Number.isFinite(v) ? v : wrong(child(path, key), 'a number', v);
}

function bool(o: Json, key: string, path: string): boolean {
  const v = present(o, key, path);
  return typeof v === 'boolean' ? v : wrong(child(path, key), 'true or false', v);
}

function arr(o: Json, key: string, path: string): unknown[] {
  const v = present(o, key, path);
  return Array.isArray(v) ? v : wrong(child(path, key), 'an array', v);
}

function optional<T>(o: Json, key: string, path: string, read: (o: Json, key: string, path: string) => T): T | undefined {
  return o[key] === undefined ? undefined : read(o, key, path);
}

function strOrNull(o: Json, key: string, path: string): string | null {
  const v = present(o, key, path);
  return v === null || typeof v === 'string' ? v : wrong(child(path, key), 'a string or null', v);
}

function numOrNull(o: Json, key: string, path: string): number | null {
  const v = present(o, key, path);
  return v === null || (typeof v === 'number' && Number.isFinite(v)) ? v : wrong(child(path, key), 'a number or null', v);
}

function strings(o: Json, key: string, path: string): string[] {
  const list = arr(o, key, path);
  list.forEach((s, i) => {
    if (typeof s !== 'string') wrong(child(child(path, key), i), 'a string', s);
  });
  return list as string[];
}

function objects(o: Json, key: string, path: string): Json[] {
  return arr(o, key, path).map((v, i) => object(v, child(child(path, key), i)));
}

// ---- the parts ---------------------------------------------------------------------------

function script(v: unknown, path: string): TraceScript {
  const o = object(v, path);
  const out: TraceScript = { ...o, path: str(o, 'path', path), sha256: o.sha256 === undefined ? null : strOrNull(o, 'sha256', path) };
  const missing = optional(o, 'digestMissing', path, str);
  if (out.sha256 === null) out.digestMissing = missing ?? 'not recorded in the trace';
  return out;
}

function processEntry(v: unknown, path: string): TraceProcess {
  const o = object(v, path);
  const exeSha256 = o.exeSha256 === undefined ? null : strOrNull(o, 'exeSha256', path);
  const out: TraceProcess = {
    ...o,
    pid: num(o, 'pid', path),
    ppid: num(o, 'ppid', path),
    argv: strings(o, 'argv', path),
    exe: str(o, 'exe', path),
    exeSha256,
    execed: optional(o, 'execed', path, bool) ?? true,
    exitCode: numOrNull(o, 'exitCode', path),
    startedOn: str(o, 'startedOn', path),
    finishedOn: o.finishedOn === undefined ? null : strOrNull(o, 'finishedOn', path),
  };
  const missing = optional(o, 'digestMissing', path, str);
  if (exeSha256 === null) out.digestMissing = missing ?? 'not recorded in the trace';
  if (o.script !== undefined) out.script = script(o.script, child(path, 'script'));
  for (const key of ['signal', 'cpuUserMs', 'cpuSystemMs', 'maxRssKb'] as const) {
    const n = optional(o, key, path, num);
    if (n !== undefined) out[key] = n;
  }
  return out;
}

function files(v: unknown, path: string): TraceFiles {
  const o = object(v, path);
  const out: TraceFiles = {
    ...o,
    created: strings(o, 'created', path),
    modified: strings(o, 'modified', path),
    deleted: strings(o, 'deleted', path),
    renamed: objects(o, 'renamed', path).map((r, i) => {
      const p = child(child(path, 'renamed'), i);
      return { ...r, from: str(r, 'from', p), to: str(r, 'to', p) };
    }),
    transient: optional(o, 'transient', path, strings) ?? [],
    attributes: (optional(o, 'attributes', path, objects) ?? []).map((a, i) => {
      const p = child(child(path, 'attributes'), i);
      str(a, 'path', p);
      str(a, 'op', p);
      return a as unknown as TraceFiles['attributes'][number];
    }),
    links: (optional(o, 'links', path, objects) ?? []).map((l, i) => {
      const p = child(child(path, 'links'), i);
      return { ...l, path: str(l, 'path', p), target: str(l, 'target', p), kind: str(l, 'kind', p) as 'symlink' | 'hard' };
    }),
  };
  const read = optional(o, 'read', path, strings);
  if (read !== undefined) out.read = read;
  else delete out.read;
  return out;
}

function network(v: unknown, path: string): TraceNetwork {
  const o = object(v, path);
  return {
    ...o,
    protocol: str(o, 'protocol', path),
    address: str(o, 'address', path),
    port: num(o, 'port', path),
    direction: str(o, 'direction', path) as TraceNetwork['direction'],
    family: optional(o, 'family', path, str) ?? '',
    attempts: optional(o, 'attempts', path, num) ?? 1,
    failures: optional(o, 'failures', path, num) ?? 0,
  };
}

function resources(v: unknown, path: string): TraceResources | null {
  if (v === null || v === undefined) return null;
  const o = object(v, path);
  return {
    ...o,
    wallMs: num(o, 'wallMs', path),
    cpuUserMs: num(o, 'cpuUserMs', path),
    cpuSystemMs: num(o, 'cpuSystemMs', path),
    maxRssKb: num(o, 'maxRssKb', path),
  };
}

function timeMs(s: string | null): number | null {
  if (s === null) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

const GAP_KINDS: readonly TraceMonitorGap['kind'][] = ['loader-exited', 'loader-stalled', 'agent-lost', 'agent-withheld'];

function monitorGaps(o: Json, key: string, path: string): TraceMonitorGap[] {
  return objects(o, key, path).map((g, i) => {
    const p = child(child(path, key), i);
    const kind = str(g, 'kind', p);
    if (!(GAP_KINDS as readonly string[]).includes(kind)) wrong(child(p, 'kind'), GAP_KINDS.map((k) => `"${k}"`).join(' or '), kind);
    return { ...g, kind: kind as TraceMonitorGap['kind'], startedOn: str(g, 'startedOn', p), reason: str(g, 'reason', p) };
  });
}

function step(v: unknown, path: string): TraceBuildStep {
  const o = object(v, path);
  const instruction = str(o, 'instruction', path);
  const line = num(o, 'line', path);
  const stageValue = present(o, 'stage', path);
  if (typeof stageValue !== 'string' && typeof stageValue !== 'number') wrong(child(path, 'stage'), 'a string or a number', stageValue);
  const vertex = str(o, 'vertex', path);
  const cached = bool(o, 'cached', path);
  const processes = arr(o, 'processes', path).map((p, i) => processEntry(p, child(child(path, 'processes'), i)));
  const fileChanges = files(present(o, 'files', path), child(path, 'files'));
  const peers = arr(o, 'network', path).map((n, i) => network(n, child(child(path, 'network'), i)));
  const lostEvents = num(o, 'lostEvents', path);
  const startedOn = o.startedOn === undefined ? null : strOrNull(o, 'startedOn', path);
  const finishedOn = o.finishedOn === undefined ? null : strOrNull(o, 'finishedOn', path);
  const started = timeMs(startedOn);
  const finished = timeMs(finishedOn);
  const out: TraceBuildStep = {
    ...o,
    instruction,
    keyword: optional(o, 'keyword', path, str) ?? (instruction.trim().split(/\s+/)[0] ?? '').toUpperCase(),
    line,
    endLine: optional(o, 'endLine', path, num) ?? line,
    stage: String(stageValue),
    vertex,
    cached,
    status: (optional(o, 'status', path, str) as TraceStepStatus | undefined) ?? (cached ? 'cached' : 'done'),
    startedOn,
    finishedOn,
    durationMs:
      o.durationMs === undefined ? (started !== null && finished !== null ? finished - started : null) : numOrNull(o, 'durationMs', path),
    cgroup: o.cgroup === undefined || o.cgroup === null ? null : (object(o.cgroup, child(path, 'cgroup')) as unknown as TraceBuildStep['cgroup']),
    processes,
    files: fileChanges,
    network: peers,
    resources: resources(o.resources, child(path, 'resources')),
    runcSetupEvents: optional(o, 'runcSetupEvents', path, num) ?? 0,
    lostEvents,
    warnings: optional(o, 'warnings', path, strings) ?? [],
  };
  const error = optional(o, 'error', path, str);
  if (error !== undefined) out.error = error;
  const gaps = optional(o, 'monitorGaps', path, monitorGaps);
  if (gaps !== undefined) out.monitorGaps = gaps;
  if (o.unlistedProcesses !== undefined) {
    const p = child(path, 'unlistedProcesses');
    const u = object(o.unlistedProcesses, p);
    out.unlistedProcesses = {
      ...u,
      count: num(u, 'count', p),
      listedLimit: num(u, 'listedLimit', p),
      exitedZero: num(u, 'exitedZero', p),
      exitedNonZero: num(u, 'exitedNonZero', p),
      killed: num(u, 'killed', p),
      firstStartedOn: strOrNull(u, 'firstStartedOn', p),
      lastFinishedOn: strOrNull(u, 'lastFinishedOn', p),
      cpuUserMs: num(u, 'cpuUserMs', p),
      cpuSystemMs: num(u, 'cpuSystemMs', p),
    };
  }
  if (o.copy !== undefined) {
    const p = child(path, 'copy');
    const c = object(o.copy, p);
    out.copy = {
      ...c,
      patterns: optional(c, 'patterns', p, strings) ?? [],
      sources: (optional(c, 'sources', p, objects) ?? []).map((s, i) => {
        const sp = child(child(p, 'sources'), i);
        return { ...s, path: str(s, 'path', sp), size: num(s, 'size', sp), sha256: str(s, 'sha256', sp) };
      }),
      unmatchedPatterns: optional(c, 'unmatchedPatterns', p, strings) ?? [],
      destination: optional(c, 'destination', p, str) ?? '',
    };
    const from = optional(c, 'from', p, str);
    if (from !== undefined) out.copy.from = from;
    const remote = optional(c, 'remote', p, strings);
    if (remote !== undefined) out.copy.remote = remote;
  }
  if (o.ambiguous !== undefined && o.ambiguous !== null) {
    const p = child(path, 'ambiguous');
    const a = object(o.ambiguous, p);
    out.ambiguous = { ...a, candidates: strings(a, 'candidates', p), reason: str(a, 'reason', p) };
  }
  return out;
}

const RINGBUF_KINDS = ['cgroup-mkdir', 'cgroup-rmdir', 'exec', 'fork', 'exit', 'file', 'net'] as const;
const LOSS_COUNTERS = [
  'pendingFull',
  'tracedFull',
  'scratchBusy',
  'digestSkipped',
  'signalFailed',
  'digestFailed',
  'output',
  'argsUnread',
  'netSuppressed',
  'undecodedRecords',
  'monitorGaps',
  'unseenSteps',
  'attributedToSteps',
  'unattributedToSteps',
] as const;

/** The losses record as given, counters it lacks filled in (the split from the steps' own counts). */
function losses(v: unknown, path: string, lostEvents: number, steps: readonly TraceBuildStep[], gaps: number): TraceLosses {
  const given = v === undefined ? {} : object(v, path);
  const inSteps = steps.reduce((n, s) => n + s.lostEvents, 0);
  const ringbufGiven = given.ringbuf === undefined ? {} : object(given.ringbuf, child(path, 'ringbuf'));
  const ringbuf = Object.fromEntries(
    RINGBUF_KINDS.map((k) => [k, optional(ringbufGiven, k, child(path, 'ringbuf'), num) ?? 0]),
  ) as TraceLosses['ringbuf'];
  const counters = Object.fromEntries(LOSS_COUNTERS.map((k) => [k, optional(given, k, path, num)])) as Record<
    (typeof LOSS_COUNTERS)[number],
    number | undefined
  >;
  const attributedToSteps = counters.attributedToSteps ?? inSteps;
  return {
    ...given,
    ringbuf,
    pendingFull: counters.pendingFull ?? 0,
    tracedFull: counters.tracedFull ?? 0,
    scratchBusy: counters.scratchBusy ?? 0,
    digestSkipped: counters.digestSkipped ?? 0,
    signalFailed: counters.signalFailed ?? 0,
    digestFailed: counters.digestFailed ?? 0,
    output: counters.output ?? 0,
    argsUnread: counters.argsUnread ?? 0,
    netSuppressed: counters.netSuppressed ?? 0,
    undecodedRecords: counters.undecodedRecords ?? 0,
    monitorGaps: counters.monitorGaps ?? gaps,
    unseenSteps: counters.unseenSteps ?? 0,
    attributedToSteps,
    unattributedToSteps: counters.unattributedToSteps ?? Math.max(0, lostEvents - attributedToSteps),
  };
}

/**
 * Checks `value` as a trace and returns it in the tracer's full shape. `root` names the
 * value in error paths (`$`, or `$.predicate` for a statement's predicate).
 */
export function normalizeTrace(value: unknown, root = '$'): Trace {
  const o = object(value, root);
  const buildSteps = arr(o, 'buildSteps', root).map((s, i) => step(s, child(child(root, 'buildSteps'), i)));
  const monitor = object(present(o, 'monitor', root), child(root, 'monitor'));
  const lostEvents = num(o, 'lostEvents', root);
  const gaps = optional(o, 'monitorGaps', root, monitorGaps) ?? [];
  const metadataPath = child(root, 'metadata');
  const metadata = o.metadata === undefined ? {} : object(o.metadata, metadataPath);
  const cgroupList = (key: string): Json[] =>
    (optional(o, key, root, objects) ?? []).map((c, i) => {
      const p = child(child(root, key), i);
      str(c, 'id', p);
      return c;
    });
  const untraced = cgroupList('untracedCgroups') as unknown as Trace['untracedCgroups'];
  return {
    ...o,
    monitor: { ...monitor, name: typeof monitor.name === 'string' ? monitor.name : '' },
    metadata: {
      ...metadata,
      buildStartedOn: metadata.buildStartedOn === undefined ? null : strOrNull(metadata, 'buildStartedOn', metadataPath),
      buildFinishedOn: metadata.buildFinishedOn === undefined ? null : strOrNull(metadata, 'buildFinishedOn', metadataPath),
    },
    buildSteps,
    // An older producer's trace does not say: it is complete only if nothing it holds says otherwise.
    complete: optional(o, 'complete', root, bool) ?? (gaps.length === 0 && lostEvents === 0 && untraced.length === 0),
    monitorGaps: gaps,
    lostEvents,
    losses: losses(o.losses, child(root, 'losses'), lostEvents, buildSteps, gaps.length),
    unattributedEvents: optional(o, 'unattributedEvents', root, num) ?? 0,
    unattributedCgroups: cgroupList('unattributedCgroups') as unknown as Trace['unattributedCgroups'],
    untracedCgroups: untraced,
    runcSetupEvents: optional(o, 'runcSetupEvents', root, num) ?? 0,
    ambiguities: (optional(o, 'ambiguities', root, objects) ?? []) as unknown as Trace['ambiguities'],
    ...(o.enforcement === undefined ? {} : { enforcement: enforcement(o.enforcement, child(root, 'enforcement')) }),
  };
}

function enforcement(v: unknown, path: string): TraceEnforcement {
  const o = object(v, path);
  const rules = o.rules;
  const names = o.egressRules;
  if (!Array.isArray(rules)) throw new TraceShapeError(child(path, 'rules'), 'must be an array');
  if (!Array.isArray(names) || !names.every((n) => typeof n === 'string')) throw new TraceShapeError(child(path, 'egressRules'), 'must be an array of strings');
  // Traces from before rules for selected steps had one `cgroupParent` and no `steps`.
  const parents = o.cgroupParents ?? (typeof o.cgroupParent === 'string' ? [o.cgroupParent] : undefined);
  if (!Array.isArray(parents) || !parents.every((n) => typeof n === 'string')) throw new TraceShapeError(child(path, 'cgroupParents'), 'must be an array of strings');
  const steps = o.steps ?? [];
  if (!Array.isArray(steps)) throw new TraceShapeError(child(path, 'steps'), 'must be an array');
  return {
    policy: str(o, 'policy', path),
    rulesDigest: str(o, 'rulesDigest', path),
    cgroupParents: parents,
    rules,
    egressRules: names,
    steps: steps.map((v, i) => enforcedStep(v, child(child(path, 'steps'), i))),
  };
}

function enforcedStep(v: unknown, path: string): TraceEnforcedStep {
  const o = object(v, path);
  const stage = o.stage;
  if (typeof stage !== 'string' && typeof stage !== 'number') throw new TraceShapeError(child(path, 'stage'), 'must be a string or a number');
  const rules = o.rules;
  if (!Array.isArray(rules) || !rules.every((n) => typeof n === 'string')) throw new TraceShapeError(child(path, 'rules'), 'must be an array of strings');
  const cgroupParent = o.cgroupParent;
  if (cgroupParent !== undefined && typeof cgroupParent !== 'string') throw new TraceShapeError(child(path, 'cgroupParent'), 'must be a string');
  if (o.onbuild !== undefined && o.onbuild !== true) throw new TraceShapeError(child(path, 'onbuild'), 'must be true when present');
  return { line: num(o, 'line', path), stage, rules, ...(cgroupParent === undefined ? {} : { cgroupParent }), ...(o.onbuild === true ? { onbuild: true as const } : {}) };
}
