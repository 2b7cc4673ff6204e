// Pure text rendering of a trace (trace-types.ts): one row per Dockerfile instruction,
// then a footer with the losses, unattributed events and ambiguities (loud when non-zero).
import { unseenRunSteps, type Trace, type TraceBuildStep } from '../model/index.js';

export interface TraceTableOptions {
  /** Total line width (default 100; the step column shrinks to at least 20). */
  width?: number;
}

const COLUMNS = [
  { title: 'PROCS', width: 5 },
  { title: 'NEW', width: 4 },
  { title: 'MOD', width: 4 },
  { title: 'DEL', width: 4 },
  { title: 'NET', width: 3 },
  { title: 'CPU', width: 6 },
  { title: 'MEM', width: 6 },
  { title: 'WALL', width: 6 },
] as const;
const GAP = '  ';
const MIN_STEP_WIDTH = 20;

/** 850 -> "850ms", 1234 -> "1.23s", 125000 -> "2m05s". */
export function formatDurationMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
}

/** KiB -> "512K", "12.3M", "1.5G". */
export function formatKb(kb: number): string {
  if (kb < 1024) return `${kb}K`;
  if (kb < 1024 * 1024) return `${(kb / 1024).toFixed(1)}M`;
  return `${(kb / (1024 * 1024)).toFixed(1)}G`;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
  return `${(n / (1024 * 1024 * 1024)).toFixed(1)} GiB`;
}

function truncate(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, Math.max(0, width - 1))}…`;
}

/** `Dockerfile:LINE`; `Dockerfile:?` for a step whose line is not known (line 0: a trace a
 * tracebuild agent made from BuildKit's vertex names alone). */
function where(step: TraceBuildStep): string {
  return `Dockerfile:${step.line > 0 ? step.line : '?'}`;
}

function label(step: TraceBuildStep): string {
  // one line: continuations and runs of whitespace become one space
  return `${where(step)} ${step.instruction.replace(/\\\r?\n/g, ' ').replace(/\s+/g, ' ').trim()}`;
}

/** What a row without measurements says instead of numbers. */
function unmeasured(step: TraceBuildStep): string {
  if (step.cached) return 'cached';
  if (step.copy) {
    if (step.copy.from !== undefined) return `copy from ${step.copy.from}`;
    const n = step.copy.sources.length;
    const bytes = step.copy.sources.reduce((a, s) => a + s.size, 0);
    return `copy: ${n} file${n === 1 ? '' : 's'} served, ${formatBytes(bytes)}`;
  }
  if (step.keyword === 'RUN') return step.status === 'not-reported' ? 'not run' : 'not traced';
  return '-';
}

export function formatTraceTable(trace: Trace, options: TraceTableOptions = {}): string {
  const width = options.width ?? 100;
  const fixed = COLUMNS.reduce((n, c) => n + c.width + GAP.length, 0);
  const stepWidth = Math.max(MIN_STEP_WIDTH, width - fixed);
  const lines: string[] = [];
  const row = (first: string, cells: readonly string[]): string =>
    (truncate(first, stepWidth).padEnd(stepWidth) + cells.map((c, i) => GAP + c.padStart(COLUMNS[i]?.width ?? 0)).join('')).trimEnd();

  lines.push(row('STEP', COLUMNS.map((c) => c.title)));
  lines.push('-'.repeat(stepWidth + fixed));
  for (const step of trace.buildSteps) {
    const name = label(step);
    const r = step.resources;
    if (!r) {
      lines.push(`${truncate(name, stepWidth).padEnd(stepWidth)}${GAP}${unmeasured(step)}`.trimEnd());
      continue;
    }
    const flags = `${step.ambiguous ? ' ?' : ''}${step.lostEvents > 0 ? ' !' : ''}`;
    const first = flags ? `${truncate(name, stepWidth - flags.length)}${flags}` : name;
    lines.push(
      row(first, [
        String(step.processes.length),
        String(step.files.created.length),
        String(step.files.modified.length),
        String(step.files.deleted.length),
        String(step.network.length),
        formatDurationMs(r.cpuUserMs + r.cpuSystemMs),
        formatKb(r.maxRssKb),
        formatDurationMs(step.durationMs ?? r.wallMs),
      ]),
    );
  }
  lines.push('-'.repeat(stepWidth + fixed));
  lines.push(
    `lost events: ${trace.lostEvents}   unattributed events: ${trace.unattributedEvents}   runc setup events (excluded): ${trace.runcSetupEvents}`,
  );
  for (const gap of trace.monitorGaps ?? []) {
    const steps = trace.buildSteps.filter((s) => s.monitorGaps?.length).map(where);
    lines.push(
      `WARNING: the probe stopped watching at ${gap.startedOn}${steps.length ? ` (${steps.join(', ')} ran unobserved, at least in part)` : ''}: ${gap.reason}`,
    );
  }
  if (trace.lostEvents > 0) {
    const inSteps = trace.losses.attributedToSteps;
    const gaps = trace.losses.monitorGaps ?? 0;
    // a gap is counted in the steps it affected too: say it once, as the gap
    const why = gaps ? `, ${gaps} of them for the gap(s) in the monitoring above` : inSteps ? ` (${inSteps} in steps marked !)` : '';
    lines.push(`WARNING: ${trace.lostEvents} event(s) lost${why}: the trace is incomplete`);
  }
  const unseen = trace.losses.unseenSteps ?? 0;
  if (unseen > 0) {
    const steps = unseenRunSteps(trace).map(where);
    lines.push(`WARNING: ${unseen} RUN step(s) ran with no process seen by the probe${steps.length ? ` (${steps.join(', ')})` : ''}: their record is empty`);
  }
  if (trace.unattributedEvents > 0) {
    const n = trace.unattributedCgroups.length;
    lines.push(`WARNING: ${trace.unattributedEvents} event(s) in ${n} cgroup(s) matched no step`);
  }
  if (trace.untracedCgroups.length > 0) {
    lines.push(`WARNING: ${trace.untracedCgroups.length} cgroup(s) could not be traced (probe map full): their events are missing`);
  }
  const ambiguous = trace.buildSteps.filter((s) => s.ambiguous).map(where);
  if (ambiguous.length > 0) {
    lines.push(`NOTE: ambiguous attribution (identical commands ran in parallel), marked ?: ${ambiguous.join(', ')}`);
  }
  return `${lines.join('\n')}\n`;
}
