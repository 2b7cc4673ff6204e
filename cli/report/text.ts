// `tracebuild show` as text: where the trace came from, the per-instruction table
// (tracer's formatTraceTable), then per step its process tree, files and network, compact.
// Pure. Untrusted strings are made visible (common/text.ts) before they are printed.

import { formatDurationMs, formatTraceTable } from '../../tracer/index.js';
import type { TraceBuildStep, TraceProcess } from '../../model/index.js';
import { describeSource, type TraceInput } from '../trace-input.js';
import {
  buildSpan,
  commandLine,
  exitText,
  location,
  oneLineInstruction,
  processForest,
  shortDigest,
  type ProcessNode,
} from './model.js';
import { visible } from '../../common/index.js';

export interface ShowTextOptions {
  /** Table width (default 100). */
  width?: number;
  /** At most this many paths per file list (default 10); the rest is counted. */
  maxPaths?: number;
}

const LABEL_WIDTH = 10;
const INDENT = '  ';

function field(label: string, lines: readonly string[]): string[] {
  return lines.map((l, i) => `${INDENT}${(i === 0 ? label : '').padEnd(LABEL_WIDTH)}${l}`);
}

function digestText(sha256: string | null, missing: string | undefined): string {
  return sha256 !== null ? shortDigest(sha256) : `digest missing (${visible(missing ?? 'no reason given')})`;
}

function imageText(p: TraceProcess): string {
  const parts: string[] = [];
  if (p.execed === false) parts.push('forked, no exec');
  parts.push(`${visible(p.exe === '' ? '(exe unknown)' : p.exe)} ${digestText(p.exeSha256, p.digestMissing)}`);
  if (p.script !== undefined) parts.push(`script ${visible(p.script.path)} ${digestText(p.script.sha256, p.script.digestMissing)}`);
  parts.push(exitText(p));
  return `${commandLine(p.argv)}${p.argvTruncated ? ' …(argv truncated)' : ''}  (${parts.join(', ')})`;
}

function treeLines(nodes: readonly ProcessNode[], prefix: string, top: boolean): string[] {
  const out: string[] = [];
  nodes.forEach((node, i) => {
    const last = i === nodes.length - 1;
    const branch = top ? '' : last ? '└─ ' : '├─ ';
    const below = top ? '' : last ? '   ' : '│  ';
    node.images.forEach((image, j) => {
      if (j === 0) out.push(`${prefix}${branch}${node.pid} ${imageText(image)}`);
      else out.push(`${prefix}${below}${' '.repeat(String(node.pid).length)} ↳ exec ${imageText(image)}`);
    });
    out.push(...treeLines(node.children, prefix + below, false));
  });
  return out;
}

function capped(items: readonly string[], max: number): string[] {
  if (items.length <= max) return [...items];
  return [...items.slice(0, max), `… ${items.length - max} more (all in --html)`];
}

function stepLines(step: TraceBuildStep, maxPaths: number): string[] {
  const lines = [`${location(step)} ${oneLineInstruction(step)}`];
  if (step.cached || step.status === 'cached') {
    lines.push(...field('cached', [`did not run (vertex ${visible(step.vertex)})`]));
    return lines;
  }
  if (step.status !== 'done') lines.push(...field('status', [step.status === 'failed' ? 'failed' : visible(step.status)]));
  if (step.error !== undefined) lines.push(...field('error', [visible(step.error)]));
  if (step.ambiguous !== undefined) {
    lines.push(...field('ambiguous', [`${visible(step.ambiguous.reason)} (candidates: ${step.ambiguous.candidates.map(visible).join(', ')})`]));
  }
  if (step.lostEvents > 0) lines.push(...field('LOST', [`${step.lostEvents} event(s): this step's record is incomplete`]));
  for (const w of step.warnings) lines.push(...field('warning', [visible(w)]));

  if (step.processes.length > 0) {
    lines.push(`${INDENT}processes`);
    lines.push(...treeLines(processForest(step.processes), INDENT.repeat(2), true));
  }
  if (step.copy !== undefined) {
    const c = step.copy;
    const what = c.from !== undefined ? `from ${visible(c.from)}` : c.remote !== undefined ? `remote ${c.remote.map(visible).join(', ')}` : 'from the context';
    lines.push(...field('copy', [`${what} -> ${visible(c.destination)}`]));
    const sources = c.sources.map((s) => `${visible(s.path)} ${s.size} B ${shortDigest(s.sha256)}`);
    if (sources.length > 0) lines.push(...field('served', capped(sources, maxPaths)));
    if (c.unmatchedPatterns.length > 0) lines.push(...field('unserved', [c.unmatchedPatterns.map(visible).join(', ')]));
  }
  const f = step.files;
  const lists: [string, string[]][] = [
    ['created', f.created.map(visible)],
    ['modified', f.modified.map(visible)],
    ['deleted', f.deleted.map(visible)],
    ['renamed', f.renamed.map((r) => `${visible(r.from)} ${r.exchange ? '<->' : '->'} ${visible(r.to)}`)],
    ['transient', f.transient.map(visible)],
    [
      'attrs',
      f.attributes.map((a) =>
        a.op === 'chmod' ? `chmod ${visible(String(a.mode))} ${visible(a.path)}` : `chown ${a.uid ?? '-'}:${a.gid ?? '-'} ${visible(a.path)}`,
      ),
    ],
    ['links', f.links.map((l) => `${visible(l.path)} ${l.kind === 'symlink' ? '->' : '=>'} ${visible(l.target)}`)],
  ];
  for (const [label, items] of lists) if (items.length > 0) lines.push(...field(label, capped(items, maxPaths)));
  if (step.network.length > 0) {
    lines.push(
      ...field(
        'network',
        step.network.map((n) => {
          const counts = n.attempts > 1 || n.failures > 0 ? ` (${n.attempts} attempt${n.attempts === 1 ? '' : 's'}, ${n.failures} failed)` : '';
          return `${visible(n.protocol)} ${visible(n.direction)} ${visible(n.address)}:${n.port}${counts}`;
        }),
      ),
    );
  }
  if (lines.length === 1) lines.push(...field('', ['no processes, file changes or network']));
  return lines;
}

function headerLines(input: TraceInput): string[] {
  const { trace, source } = input;
  const lines = [`trace     ${visible(describeSource(source))}`];
  for (const s of source.subjects) {
    lines.push(`image     ${visible(s.name ?? '(no name)')}${s.digest === undefined ? '' : `@${visible(s.digest)}`}`);
  }
  const m = trace.monitor;
  const monitor = [m.name, m.version].filter((x): x is string => typeof x === 'string' && x !== '').map(visible).join(' ');
  const kernel = typeof m.kernel === 'string' ? `, kernel ${visible(m.kernel)}` : '';
  if (monitor !== '' || kernel !== '') lines.push(`monitor   ${monitor || '(unnamed)'}${kernel}`);
  const span = buildSpan(trace);
  if (span.startedOn !== null && span.finishedOn !== null && span.startMs !== null && span.endMs !== null) {
    const note = span.fromSteps ? ', from the steps' : '';
    lines.push(`build     ${span.startedOn} -> ${span.finishedOn} (${formatDurationMs(span.endMs - span.startMs)}${note})`);
  } else {
    lines.push('build     times not recorded');
  }
  return lines;
}

/** The whole text of `tracebuild show`. */
export function formatShowText(input: TraceInput, options: ShowTextOptions = {}): string {
  const maxPaths = options.maxPaths ?? 10;
  const table = formatTraceTable(input.trace, { width: options.width ?? 100 })
    .replace(/\n$/, '')
    .split('\n')
    .map(visible);
  const sections = [headerLines(input), table, ...input.trace.buildSteps.map((s) => stepLines(s, maxPaths))];
  return `${sections.map((s) => s.join('\n')).join('\n\n')}\n`;
}
