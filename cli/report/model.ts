// What the text and HTML views of a trace share: labels, the process tree, totals, the
// timeline's geometry, and making untrusted strings visible. Pure.
//
// Every string in a trace is influenced by what ran in the build (argv, paths, peers) and a
// trace file can be written by anyone: control characters, ANSI escapes and bidi overrides
// are shown as escapes (`\x1b`, `\u202e`), never passed through.

import { visible } from '../../common/index.js';
import type { Trace, TraceBuildStep, TraceProcess } from '../../model/index.js';

/** One argument as a shell would need it, made visible. */
export function shellWord(arg: string): string {
  if (arg === '') return "''";
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  return visible(`'${arg.replace(/'/g, `'\\''`)}'`);
}

export function commandLine(argv: readonly string[]): string {
  return argv.map(shellWord).join(' ');
}

/** The instruction on one line (continuations and runs of whitespace become one space). */
export function oneLineInstruction(step: TraceBuildStep): string {
  return visible(step.instruction.replace(/\\\r?\n/g, ' ').replace(/\s+/g, ' ').trim());
}

/** `Dockerfile:5` (`Dockerfile:5-7` for a multi-line instruction). */
export function location(step: TraceBuildStep): string {
  return step.endLine > step.line ? `Dockerfile:${step.line}-${step.endLine}` : `Dockerfile:${step.line}`;
}

/** First 12 hex digits of a sha256 (with or without its `sha256:` prefix). */
export function shortDigest(hex: string): string {
  const h = hex.startsWith('sha256:') ? hex.slice(7) : hex;
  return `sha256:${visible(h.slice(0, 12))}`;
}

/** What a step's status means for a person: ran, cached, failed, or did not finish. */
export type StepOutcome = 'ran' | 'cached' | 'failed' | 'incomplete';

export function stepOutcome(step: TraceBuildStep): StepOutcome {
  if (step.cached || step.status === 'cached') return 'cached';
  if (step.status === 'failed') return 'failed';
  if (step.status === 'done') return 'ran';
  return 'incomplete';
}

export function outcomeText(step: TraceBuildStep): string {
  switch (step.status) {
    case 'done':
      return 'ran';
    case 'cached':
      return 'cached';
    case 'failed':
      return 'failed';
    case 'incomplete':
      return 'did not complete';
    case 'not-reported':
      return 'not reported by BuildKit';
    default:
      return step.cached ? 'cached' : visible(String(step.status));
  }
}

/** How a process image ended. */
export function exitText(p: TraceProcess): string {
  if (p.replacedByExec) return 'exec';
  if (p.signal !== undefined) return `killed by signal ${p.signal}`;
  if (p.exitCode !== null) return `exit ${p.exitCode}`;
  if (p.exitMissing) return 'no exit seen';
  return 'exit unknown';
}

// ---- the process tree ----------------------------------------------------------------------

/** One process (pid): its exec images in order, and the processes it started. */
export interface ProcessNode {
  pid: number;
  ppid: number;
  images: TraceProcess[];
  children: ProcessNode[];
}

function startMs(p: TraceProcess): number {
  const t = Date.parse(p.startedOn);
  return Number.isNaN(t) ? Number.POSITIVE_INFINITY : t;
}

/**
 * The step's processes as a forest by pid/ppid, in start order. A pid's later entries are
 * further images of the same process when the previous one was replaced by an exec;
 * otherwise the pid was reused and it is another process. A parent is the latest process
 * with that pid that started before the child; processes without one are roots.
 */
export function processForest(processes: readonly TraceProcess[]): ProcessNode[] {
  const ordered = processes.map((p, i) => ({ p, i })).sort((a, b) => startMs(a.p) - startMs(b.p) || a.i - b.i);
  const latest = new Map<number, ProcessNode>();
  const roots: ProcessNode[] = [];
  for (const { p } of ordered) {
    const current = latest.get(p.pid);
    const last = current?.images[current.images.length - 1];
    if (current !== undefined && last?.replacedByExec === true) {
      current.images.push(p);
      continue;
    }
    const node: ProcessNode = { pid: p.pid, ppid: p.ppid, images: [p], children: [] };
    const parent = p.ppid !== p.pid ? latest.get(p.ppid) : undefined;
    if (parent !== undefined) parent.children.push(node);
    else roots.push(node);
    latest.set(p.pid, node);
  }
  return roots;
}

/** Distinct executables (and #! scripts) of a step with their digests, sorted by path. */
export interface ExecutableDigest {
  kind: 'exe' | 'script';
  path: string;
  sha256: string | null;
  digestMissing?: string;
}

export function executableDigests(step: TraceBuildStep): ExecutableDigest[] {
  const seen = new Map<string, ExecutableDigest>();
  const add = (d: ExecutableDigest): void => {
    const key = `${d.kind}\u0000${d.path}\u0000${d.sha256 ?? ''}\u0000${d.digestMissing ?? ''}`;
    if (!seen.has(key)) seen.set(key, d);
  };
  for (const p of step.processes) {
    if (p.execed === false) continue;
    add({ kind: 'exe', path: p.exe, sha256: p.exeSha256, ...(p.digestMissing === undefined ? {} : { digestMissing: p.digestMissing }) });
    if (p.script !== undefined) {
      add({
        kind: 'script',
        path: p.script.path,
        sha256: p.script.sha256,
        ...(p.script.digestMissing === undefined ? {} : { digestMissing: p.script.digestMissing }),
      });
    }
  }
  return [...seen.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}

// ---- totals and times ------------------------------------------------------------------------

export interface TraceTotals {
  steps: number;
  ran: number;
  cached: number;
  failed: number;
  incomplete: number;
  processes: number;
  created: number;
  modified: number;
  deleted: number;
  renamed: number;
  /** Distinct (protocol, direction, address, port) over all steps. */
  peers: number;
  cpuMs: number;
  /** Largest peak RSS of any step. */
  maxRssKb: number;
}

export function traceTotals(trace: Trace): TraceTotals {
  const peers = new Set<string>();
  const t: TraceTotals = {
    steps: trace.buildSteps.length,
    ran: 0,
    cached: 0,
    failed: 0,
    incomplete: 0,
    processes: 0,
    created: 0,
    modified: 0,
    deleted: 0,
    renamed: 0,
    peers: 0,
    cpuMs: 0,
    maxRssKb: 0,
  };
  for (const s of trace.buildSteps) {
    t[stepOutcome(s)]++;
    t.processes += s.processes.length;
    t.created += s.files.created.length;
    t.modified += s.files.modified.length;
    t.deleted += s.files.deleted.length;
    t.renamed += s.files.renamed.length;
    for (const n of s.network) peers.add(`${n.protocol}\u0000${n.direction}\u0000${n.address}\u0000${n.port}`);
    if (s.resources) {
      t.cpuMs += s.resources.cpuUserMs + s.resources.cpuSystemMs;
      t.maxRssKb = Math.max(t.maxRssKb, s.resources.maxRssKb);
    }
  }
  t.peers = peers.size;
  return t;
}

function ms(s: string | null | undefined): number | null {
  if (s === null || s === undefined) return null;
  const t = Date.parse(s);
  return Number.isNaN(t) ? null : t;
}

/** The build's span: from its metadata, else from its steps (`fromSteps`). */
export interface BuildSpan {
  startedOn: string | null;
  finishedOn: string | null;
  startMs: number | null;
  endMs: number | null;
  fromSteps: boolean;
}

export function buildSpan(trace: Trace): BuildSpan {
  const meta = trace.metadata;
  const stepTimes = trace.buildSteps.flatMap((s) => [ms(s.startedOn), ms(s.finishedOn)]).filter((t): t is number => t !== null);
  const metaStart = ms(meta.buildStartedOn);
  const metaEnd = ms(meta.buildFinishedOn);
  const start = metaStart ?? (stepTimes.length > 0 ? Math.min(...stepTimes) : null);
  const end = metaEnd ?? (stepTimes.length > 0 ? Math.max(...stepTimes) : null);
  return {
    startedOn: start === null ? null : new Date(start).toISOString(),
    finishedOn: end === null ? null : new Date(end).toISOString(),
    startMs: start,
    endMs: end,
    fromSteps: metaStart === null || metaEnd === null,
  };
}

/** A step's bar on the timeline, in percent of the build's span. */
export interface TimelineBar {
  /** 0..100 */
  left: number;
  /** > 0; left + width <= 100 */
  width: number;
  /** The step has no times of its own (cached, never reported): a marker, not a span. */
  marker: boolean;
  /** Started but never finished: the bar runs to the end of the build. */
  open: boolean;
}

const MIN_BAR_PERCENT = 0.4;
const MARKER_PERCENT = 0.8;

export function timelineBars(trace: Trace): TimelineBar[] {
  const steps = trace.buildSteps;
  const allTimes = [buildSpan(trace).startMs, buildSpan(trace).endMs, ...steps.flatMap((s) => [ms(s.startedOn), ms(s.finishedOn)])].filter(
    (t): t is number => t !== null,
  );
  const t0 = allTimes.length > 0 ? Math.min(...allTimes) : 0;
  const t1 = allTimes.length > 0 ? Math.max(...allTimes) : 0;
  const span = Math.max(t1 - t0, 1);
  const pct = (t: number): number => ((t - t0) / span) * 100;
  return steps.map((s) => {
    const start = ms(s.startedOn);
    const end = ms(s.finishedOn);
    if (start === null) {
      // cached or never reported: a marker at the start of the build
      return { left: 0, width: MARKER_PERCENT, marker: true, open: false };
    }
    const left = Math.min(pct(start), 100 - MIN_BAR_PERCENT);
    const right = end === null ? 100 : Math.max(pct(end), left);
    const width = Math.min(Math.max(right - left, MIN_BAR_PERCENT), 100 - left);
    return { left, width, marker: false, open: end === null };
  });
}

/** Round to 2 decimals for attributes (stable output). */
export function pct2(n: number): string {
  return String(Math.round(n * 100) / 100);
}
