// The self-contained HTML report of a trace (`tracebuild show --html OUT`). Pure: trace in,
// one HTML document out. Inline CSS and JS only, no network, no external fonts; a strict
// Content-Security-Policy (default-src 'none', the style and the script allowed by their
// sha256) so that nothing a trace smuggles in could load or run anything. Every trace
// string goes through the escaping `html` tag (html-safe.ts).
//
// Layout: a header (source, verification, image, monitor, build times, totals, and the
// trace's losses loud when non-zero), a timeline (one SVG bar per step, placed by its start
// and finish, coloured by outcome, with CPU and peak memory beside it), and one <details>
// per step (process tree, files, network, resources, digests). The script only adds
// conveniences (expand/collapse all, opening the step a timeline row links to); everything
// is readable without it.

import { createHash } from 'node:crypto';
import { formatDurationMs, formatKb } from '../../tracer/index.js';
import type { Trace, TraceBuildStep, TraceProcess } from '../../model/index.js';
import { describeSource, type TraceInput } from '../trace-input.js';
import { html, raw, type Html } from './html-safe.js';
import {
  buildSpan,
  commandLine,
  executableDigests,
  exitText,
  location,
  oneLineInstruction,
  outcomeText,
  pct2,
  processForest,
  shortDigest,
  stepOutcome,
  timelineBars,
  traceTotals,
  type ProcessNode,
} from './model.js';

export interface HtmlReportOptions {
  /** ISO time the report was made (shown in the footer). */
  generatedAt?: string;
  /** tracebuild's version (shown in the footer). */
  version?: string;
}

const CSS = `
:root{--ran:#2563eb;--cached:#9ca3af;--failed:#dc2626;--incomplete:#d97706;--fg:#1f2937;--muted:#6b7280;--line:#e5e7eb;--bg:#fff;--soft:#f9fafb;--warn-bg:#fef3c7;--warn-fg:#92400e;--bad-bg:#fee2e2;--bad-fg:#991b1b;--ok-bg:#dcfce7;--ok-fg:#166534}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1280px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:16px 0 6px}
code,pre,.mono{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
pre{white-space:pre-wrap;word-break:break-all;margin:0}
.source{color:var(--muted);margin:0 0 12px;word-break:break-all}
.note{padding:8px 12px;border-radius:6px;margin:8px 0;border:1px solid transparent}
.note.warn{background:var(--warn-bg);color:var(--warn-fg);border-color:#fcd34d}
.note.bad{background:var(--bad-bg);color:var(--bad-fg);border-color:#fca5a5;font-weight:600}
.note.ok{background:var(--ok-bg);color:var(--ok-fg);border-color:#86efac}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:12px 0}
.facts dt{color:var(--muted)}
.facts dd{margin:0;word-break:break-all}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(118px,1fr));gap:8px;list-style:none;padding:0;margin:12px 0}
.totals li{border:1px solid var(--line);border-radius:8px;padding:6px 12px;background:var(--soft)}
.totals b{display:block;font-size:18px}
.totals small{color:var(--muted)}
.totals li.alarm{border-color:#fca5a5;background:var(--bad-bg);color:var(--bad-fg)}
.legend{display:flex;gap:16px;color:var(--muted);font-size:12.5px;margin-bottom:6px}
.key::before{content:"";display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:5px;vertical-align:-1px;background:var(--c)}
.key.ran,.tl-bar.ran,.badge.ran{--c:var(--ran)}
.key.cached,.tl-bar.cached,.badge.cached{--c:var(--cached)}
.key.failed,.tl-bar.failed,.badge.failed{--c:var(--failed)}
.key.incomplete,.tl-bar.incomplete,.badge.incomplete{--c:var(--incomplete)}
.tl{border:1px solid var(--line);border-radius:8px;overflow:hidden}
.tl-row,.tl-axis{display:grid;grid-template-columns:minmax(220px,32%) 1fr 260px;align-items:center;gap:12px;padding:3px 10px}
.tl-row{color:inherit;text-decoration:none;border-top:1px solid var(--line)}
.tl-row:hover{background:var(--soft)}
.tl-axis{background:var(--soft);color:var(--muted);font-size:11px}
.tl-label{white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.tl-track{display:block;width:100%;height:18px;overflow:visible}
.tl-grid{stroke:var(--line);stroke-width:1}
.tl-bar{fill:var(--c);stroke:var(--c)}
.tl-bar.marker{fill-opacity:.35;stroke-dasharray:2 1}
.tl-nums{font-size:12px;color:var(--muted);white-space:nowrap;text-align:right;font-variant-numeric:tabular-nums}
.tl-ticks{display:block;width:100%;height:14px;overflow:visible}
.tl-ticks text{fill:var(--muted);font-size:11px}
.loc{font-weight:600;margin-right:6px}
.ins{font-family:ui-monospace,"SFMono-Regular","DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12.5px}
.toolbar{display:flex;gap:8px;margin:0 0 10px}
.toolbar button{font:inherit;font-size:12.5px;padding:3px 10px;border:1px solid var(--line);border-radius:6px;background:var(--soft);cursor:pointer}
details.step{border:1px solid var(--line);border-left:4px solid var(--c);border-radius:6px;margin:6px 0;background:var(--bg)}
details.step.ran{--c:var(--ran)}details.step.cached{--c:var(--cached)}details.step.failed{--c:var(--failed)}details.step.incomplete{--c:var(--incomplete)}
details.step>summary{cursor:pointer;padding:7px 10px;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
details.step>summary .ins{flex:1 1 300px;word-break:break-all}
details.step[open]>summary{border-bottom:1px solid var(--line);background:var(--soft)}
.badge{display:inline-block;min-width:64px;text-align:center;font-size:11.5px;font-weight:600;color:#fff;background:var(--c);border-radius:10px;padding:1px 8px}
.sum-nums{color:var(--muted);font-size:12px;white-space:nowrap;font-variant-numeric:tabular-nums}
.flag{font-size:11.5px;font-weight:600;border-radius:4px;padding:0 6px}
.flag.bad{background:var(--bad-bg);color:var(--bad-fg)}
.flag.warn{background:var(--warn-bg);color:var(--warn-fg)}
.body{padding:6px 14px 14px}
.kv{display:flex;flex-wrap:wrap;gap:4px 22px;margin:8px 0}
.kv>div{display:flex;gap:6px;align-items:baseline}
.kv>div.wide{flex-basis:100%}
.kv dt{color:var(--muted)}
.kv dd{margin:0;word-break:break-all}
.copy{display:grid;grid-template-columns:max-content 1fr;gap:1px 14px;margin:8px 0}
.copy dt{color:var(--muted)}
.copy dd{margin:0;word-break:break-all}
.tree,.tree ul{list-style:none;margin:0;padding:0}
.tree ul{margin-left:10px;padding-left:14px;border-left:1px dashed #cbd5e1}
.proc{padding:3px 0}
.proc .pid{display:inline-block;min-width:44px;color:var(--muted);font-variant-numeric:tabular-nums}
.proc .argv{word-break:break-all}
.proc .exe{margin-left:44px;color:var(--muted);font-size:12px}
.exit{font-size:11.5px;border-radius:4px;padding:0 6px;margin-left:6px;background:var(--soft);border:1px solid var(--line)}
.exit.nonzero{background:var(--bad-bg);color:var(--bad-fg);border-color:#fca5a5}
.missing{color:var(--bad-fg)}
table{border-collapse:collapse;margin:4px 0;font-size:13px}
th,td{text-align:left;padding:3px 10px 3px 0;vertical-align:top;border-bottom:1px solid var(--line)}
th{color:var(--muted);font-weight:500}
td code{word-break:break-all}
.paths{margin:2px 0 8px;padding-left:18px}
.paths li{word-break:break-all}
.muted{color:var(--muted)}
footer{margin-top:30px;color:var(--muted);font-size:12px}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--muted:#9ca3af;--line:#374151;--bg:#111827;--soft:#1f2937;--warn-bg:#422006;--warn-fg:#fcd34d;--bad-bg:#450a0a;--bad-fg:#fca5a5;--ok-bg:#052e16;--ok-fg:#86efac}.tree ul{border-left-color:#4b5563}}
@media print{details.step{break-inside:avoid}.toolbar{display:none}}
`;

const SCRIPT = `
(function () {
  var steps = Array.prototype.slice.call(document.querySelectorAll('details.step'));
  var bar = document.getElementById('toolbar');
  function button(label, open) {
    var b = document.createElement('button');
    b.type = 'button';
    b.textContent = label;
    b.addEventListener('click', function () { steps.forEach(function (d) { d.open = open; }); });
    bar.appendChild(b);
  }
  if (bar) { button('Expand all', true); button('Collapse all', false); }
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var el = id ? document.getElementById(id) : null;
    if (el && el.tagName === 'DETAILS') el.open = true;
  }
  window.addEventListener('hashchange', openTarget);
  openTarget();
  document.documentElement.setAttribute('data-script', 'ran');
})();
`;

const sha256Base64 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('base64');

/** The policy: nothing but this document's own style and script, matched by hash. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${sha256Base64(CSS)}'`,
  `script-src 'sha256-${sha256Base64(SCRIPT)}'`,
  "img-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

// ---- pieces --------------------------------------------------------------------------------

function digestHtml(sha256: string | null, missing: string | undefined, full = false): Html {
  if (sha256 === null) return html`<span class="missing">digest missing (${missing ?? 'no reason given'})</span>`;
  return full ? html`<code class="sha">sha256:${sha256}</code>` : html`<code class="sha" title="sha256:${sha256}">${shortDigest(sha256)}</code>`;
}

/** One exec image; `continued`: a later image of the same process (it exec'd again). */
function imageHtml(p: TraceProcess, continued: boolean): Html {
  const exit = exitText(p);
  const bad = (p.exitCode !== null && p.exitCode !== 0) || p.signal !== undefined;
  const pid = continued ? html`<span class="pid" title="pid ${p.pid} exec'd again">↳</span>` : html`<span class="pid">${p.pid}</span>`;
  return html`<div class="proc">${pid}<code class="argv">${commandLine(p.argv)}${p.argvTruncated ? ' …(argv truncated)' : ''}</code><span class="exit${bad ? ' nonzero' : ''}">${exit}</span>
<div class="exe">${p.execed === false ? 'forked, no exec · ' : ''}exe <code>${p.exe === '' ? '(unknown)' : p.exe}</code> ${digestHtml(p.exeSha256, p.digestMissing)}${
    p.script === undefined ? '' : html` · script <code>${p.script.path}</code> ${digestHtml(p.script.sha256, p.script.digestMissing)}`
  }</div></div>`;
}

function treeHtml(nodes: readonly ProcessNode[]): Html {
  return html`<ul class="tree">${nodes.map(
    (n) => html`<li>${n.images.map((img, i) => imageHtml(img, i > 0))}${n.children.length > 0 ? treeHtml(n.children) : ''}</li>`,
  )}</ul>`;
}

function pathList(title: string, items: readonly (string | Html)[]): Html | '' {
  if (items.length === 0) return '';
  return html`<h3>${title} (${items.length})</h3><ul class="paths">${items.map((i) => html`<li><code>${i}</code></li>`)}</ul>`;
}

function filesHtml(step: TraceBuildStep): Html {
  const f = step.files;
  const parts = [
    pathList('Created', f.created),
    pathList('Modified', f.modified),
    pathList('Deleted', f.deleted),
    pathList(
      'Renamed',
      f.renamed.map((r) => html`${r.from} ${r.exchange ? '⇄' : '→'} ${r.to}`),
    ),
    pathList('Transient (created and gone by the end of the step)', f.transient),
    pathList(
      'Attributes',
      f.attributes.map((a) => (a.op === 'chmod' ? html`chmod ${String(a.mode)} ${a.path}` : html`chown ${a.uid ?? '-'}:${a.gid ?? '-'} ${a.path}`)),
    ),
    pathList(
      'Links',
      f.links.map((l) => html`${l.path} ${l.kind === 'symlink' ? '→' : '⇒'} ${l.target} (${l.kind})`),
    ),
  ];
  const read = f.read === undefined || f.read.length === 0 ? '' : html`<details><summary>Read (${f.read.length})</summary>${pathList('Read', f.read)}</details>`;
  return html`${parts}${read}`;
}

function networkHtml(step: TraceBuildStep): Html | '' {
  if (step.network.length === 0) return '';
  return html`<h3>Network (${step.network.length})</h3><table class="peers"><thead><tr><th>protocol</th><th>direction</th><th>peer</th><th>attempts</th><th>failed</th></tr></thead><tbody>${step.network.map(
    (n) => html`<tr><td>${n.protocol}</td><td>${n.direction}</td><td><code class="peer">${n.address}:${n.port}</code></td><td>${n.attempts}</td><td>${n.failures}</td></tr>`,
  )}</tbody></table>`;
}

function digestsHtml(step: TraceBuildStep): Html | '' {
  const exes = executableDigests(step);
  const sources = step.copy?.sources ?? [];
  if (exes.length === 0 && sources.length === 0) return '';
  return html`<h3>Digests</h3><table class="digests"><thead><tr><th>what</th><th>path</th><th>sha256</th></tr></thead><tbody>${exes.map(
    (d) => html`<tr><td>${d.kind === 'exe' ? 'executable' : 'script'}</td><td><code>${d.path}</code></td><td>${digestHtml(d.sha256, d.digestMissing, true)}</td></tr>`,
  )}${sources.map(
    (s) => html`<tr><td>copied (${s.size} B)</td><td><code>${s.path}</code></td><td><code class="sha">sha256:${s.sha256}</code></td></tr>`,
  )}</tbody></table>`;
}

function resourcesText(step: TraceBuildStep): string {
  const r = step.resources;
  const wall = step.durationMs ?? r?.wallMs ?? null;
  const parts: string[] = [];
  if (wall !== null) parts.push(formatDurationMs(wall));
  // CPU and memory are of the step's processes: none for a step without any (COPY, WORKDIR).
  if (r && step.processes.length > 0) {
    parts.push(`CPU ${formatDurationMs(r.cpuUserMs + r.cpuSystemMs)}`);
    parts.push(`mem ${formatKb(r.maxRssKb)}`);
  }
  return parts.join(' · ');
}

function stepHtml(step: TraceBuildStep, index: number): Html {
  const outcome = stepOutcome(step);
  const r = step.resources;
  const kv: [string, Html | string | number][] = [
    ['status', outcomeText(step)],
    ['stage', step.stage],
  ];
  if (step.startedOn !== null) kv.push(['started', step.startedOn]);
  if (step.finishedOn !== null) kv.push(['finished', step.finishedOn]);
  if (step.durationMs !== null) kv.push(['wall time', formatDurationMs(step.durationMs)]);
  if (r && step.processes.length > 0) {
    kv.push(['CPU', `${formatDurationMs(r.cpuUserMs)} user, ${formatDurationMs(r.cpuSystemMs)} system`]);
    kv.push(['peak memory', formatKb(r.maxRssKb)]);
  }
  kv.push(['lost events', step.lostEvents]);
  if (step.runcSetupEvents > 0) kv.push(['runc setup events (excluded)', step.runcSetupEvents]);
  kv.push(['vertex', html`<code>${step.vertex}</code>`]);
  if (step.cgroup !== null) kv.push(['cgroup', html`<code>${step.cgroup.path || step.cgroup.id}</code>`]);

  const notes: Html[] = [];
  if (outcome === 'cached') notes.push(html`<p class="note ok">Cached: this step did not run in this build; BuildKit reused its result.</p>`);
  if (step.error !== undefined) notes.push(html`<p class="note bad">Error: ${step.error}</p>`);
  if (step.lostEvents > 0) notes.push(html`<p class="note bad">${step.lostEvents} event(s) of this step were lost: its record is incomplete.</p>`);
  if (step.ambiguous !== undefined) {
    notes.push(html`<p class="note warn">Ambiguous attribution: ${step.ambiguous.reason} (candidates: ${step.ambiguous.candidates.join(', ')})</p>`);
  }
  for (const w of step.warnings) notes.push(html`<p class="note warn">${w}</p>`);

  const copy = step.copy;
  const copyHtml =
    copy === undefined
      ? ''
      : html`<h3>Copy</h3><dl class="copy"><dt>from</dt><dd>${copy.from !== undefined ? `stage/image ${copy.from}` : copy.remote !== undefined ? copy.remote.join(', ') : 'the build context'}</dd><dt>to</dt><dd><code>${copy.destination}</code></dd><dt>patterns</dt><dd><code>${copy.patterns.join(' ')}</code></dd>${
          copy.unmatchedPatterns.length > 0 ? html`<dt>not served</dt><dd><code>${copy.unmatchedPatterns.join(' ')}</code></dd>` : ''
        }<dt>served</dt><dd>${copy.sources.length} file(s)</dd></dl>`;

  const flags = [
    step.lostEvents > 0 ? html`<span class="flag bad">${step.lostEvents} lost</span>` : '',
    step.ambiguous !== undefined ? html`<span class="flag warn">ambiguous</span>` : '',
    step.network.length > 0 ? html`<span class="flag warn">network: ${step.network.length}</span>` : '',
  ];
  const empty = step.processes.length === 0 && step.network.length === 0 && copy === undefined && outcome !== 'cached' &&
    Object.values(step.files).every((v) => !Array.isArray(v) || v.length === 0);
  // Open what a reviewer reads first: steps that ran processes or talked to the network.
  const open = outcome === 'failed' || (outcome !== 'cached' && (step.processes.length > 0 || step.network.length > 0));
  return html`<details class="step ${outcome}" id="step-${index}"${open ? raw(' open') : ''}>
<summary><span class="badge ${outcome}">${outcomeText(step)}</span><span class="loc">${location(step)}</span><span class="ins">${oneLineInstruction(step)}</span>${flags}<span class="sum-nums">${resourcesText(step)}</span></summary>
<div class="body">
${step.instruction.includes('\n') ? html`<pre class="instruction">${step.instruction.split('\n').map((l, i) => (i === 0 ? l : [raw('\n'), l]))}</pre>` : ''}
${notes}
<dl class="kv">${kv.map(([k, v]) => html`<div${k === 'vertex' || k === 'cgroup' ? raw(' class="wide"') : ''}><dt>${k}</dt><dd>${v}</dd></div>`)}</dl>
${step.processes.length > 0 ? html`<h3>Processes (${step.processes.length})</h3>${treeHtml(processForest(step.processes))}` : ''}
${copyHtml}
${filesHtml(step)}
${networkHtml(step)}
${digestsHtml(step)}
${empty ? html`<p class="muted">No processes, file changes or network in this step.</p>` : ''}
</div>
</details>`;
}

function timelineHtml(trace: Trace): Html {
  const bars = timelineBars(trace);
  const span = buildSpan(trace);
  const total = span.startMs !== null && span.endMs !== null ? span.endMs - span.startMs : 0;
  const ticks = [0, 25, 50, 75, 100].map((p) => {
    const anchor = p === 0 ? 'start' : p === 100 ? 'end' : 'middle';
    return html`<text x="${p}%" y="11" text-anchor="${anchor}">${formatDurationMs((total * p) / 100)}</text>`;
  });
  const grid = [25, 50, 75].map((p) => html`<line class="tl-grid" x1="${p}%" x2="${p}%" y1="0" y2="18"></line>`);
  const rows = trace.buildSteps.map((step, i) => {
    const bar = bars[i] ?? { left: 0, width: 0.4, marker: true, open: false };
    const outcome = stepOutcome(step);
    const tip = `${location(step)} ${outcomeText(step)}${step.startedOn ? ` ${step.startedOn}` : ''}${step.finishedOn ? ` → ${step.finishedOn}` : ''}`;
    return html`<a class="tl-row ${outcome}" href="#step-${i}"><span class="tl-label" title="${step.instruction}"><span class="loc">${location(step)}</span><span class="ins">${oneLineInstruction(step)}</span></span><svg class="tl-track" role="img" aria-label="${tip}">${grid}<rect class="tl-bar ${outcome}${bar.marker ? ' marker' : ''}" data-step="${i}" x="${pct2(bar.left)}%" width="${pct2(bar.width)}%" y="3" height="12" rx="2"><title>${tip}</title></rect></svg><span class="tl-nums">${step.lostEvents > 0 ? html`<span class="flag bad">${step.lostEvents} lost</span> ` : ''}${outcome === 'cached' ? 'cached' : resourcesText(step) || '—'}</span></a>`;
  });
  return html`<section class="timeline"><h2>Timeline</h2>
<div class="legend"><span class="key ran">ran</span><span class="key cached">cached</span><span class="key failed">failed</span><span class="key incomplete">did not complete</span></div>
<div class="tl"><div class="tl-axis"><span>step</span><svg class="tl-ticks">${ticks}</svg><span class="tl-nums">wall · CPU · peak memory</span></div>
${rows}</div></section>`;
}

function headerHtml(input: TraceInput): Html {
  const { trace, source } = input;
  const t = traceTotals(trace);
  const span = buildSpan(trace);
  const title = source.kind === 'image' ? source.image : source.path;

  const verification =
    source.kind === 'image'
      ? html`<p class="note ok">Attestation verified with key <code>${source.keyId}</code> before it was read.</p>`
      : source.format === 'trace'
        ? html`<p class="note warn">Unsigned trace file: nothing about its origin was verified.</p>`
        : source.verified
          ? html`<p class="note warn">Signature verified with key <code>${source.keyId ?? '?'}</code>; the image it names was not checked (use <code>tracebuild verify</code>).</p>`
          : html`<p class="note warn">Not verified: this ${source.format === 'statement' ? 'statement' : 'bundle'} was decoded without checking any signature. Use <code>tracebuild verify</code>.</p>`;

  const facts: [string, Html | string][] = [];
  for (const s of source.subjects) facts.push(['image', html`<code>${s.name ?? '(no name)'}${s.digest === undefined ? '' : `@${s.digest}`}</code>`]);
  const m = trace.monitor;
  const monitor = [m.name, typeof m.version === 'string' ? m.version : ''].filter((x) => x !== '').join(' ');
  if (monitor !== '' || typeof m.kernel === 'string') facts.push(['monitor', `${monitor || '(unnamed)'}${typeof m.kernel === 'string' ? `, kernel ${m.kernel}` : ''}`]);
  if (span.startedOn !== null && span.finishedOn !== null && span.startMs !== null && span.endMs !== null) {
    facts.push(['build started', span.startedOn]);
    facts.push(['build finished', `${span.finishedOn} (${formatDurationMs(span.endMs - span.startMs)}${span.fromSteps ? ', from the steps' : ''})`]);
  } else {
    facts.push(['build', 'times not recorded']);
  }

  const alerts: Html[] = [];
  if (trace.lostEvents > 0) {
    const inSteps = trace.losses.attributedToSteps;
    alerts.push(html`<p class="note bad">${trace.lostEvents} kernel event(s) were lost${inSteps > 0 ? ` (${inSteps} in steps flagged “lost”)` : ''}: this trace is incomplete.</p>`);
  }
  if (trace.unattributedEvents > 0) {
    alerts.push(html`<p class="note bad">${trace.unattributedEvents} event(s) in ${trace.unattributedCgroups.length} cgroup(s) matched no step (see the end of the report).</p>`);
  }
  if (trace.untracedCgroups.length > 0) {
    alerts.push(html`<p class="note bad">${trace.untracedCgroups.length} cgroup(s) could not be traced (probe map full): their events are missing.</p>`);
  }
  const ambiguous = trace.buildSteps.filter((s) => s.ambiguous !== undefined);
  if (ambiguous.length > 0) {
    alerts.push(html`<p class="note warn">Ambiguous attribution (identical commands ran in parallel): ${ambiguous.map((s) => location(s)).join(', ')}</p>`);
  }

  const total = (value: string | number, label: string, detail: string, alarm = false): Html =>
    html`<li${alarm ? raw(' class="alarm"') : ''}><b>${value}</b>${label}${detail === '' ? '' : html`<br><small>${detail}</small>`}</li>`;
  const some = (pairs: [number, string][]): string =>
    pairs
      .filter(([n]) => n > 0)
      .map(([n, what]) => `${n} ${what}`)
      .join(' · ');
  const outcomes = some([
    [t.ran, 'ran'],
    [t.cached, 'cached'],
    [t.failed, 'failed'],
    [t.incomplete, 'incomplete'],
  ]);
  const totals = [
    total(t.steps, 'steps', outcomes),
    total(t.processes, 'processes', ''),
    total(
      t.created + t.modified + t.deleted + t.renamed,
      'file changes',
      some([
        [t.created, 'created'],
        [t.modified, 'modified'],
        [t.deleted, 'deleted'],
        [t.renamed, 'renamed'],
      ]),
    ),
    total(t.peers, 'network peers', ''),
    total(formatDurationMs(t.cpuMs), 'CPU', 'user + system'),
    total(formatKb(t.maxRssKb), 'peak memory', 'largest step'),
    total(trace.lostEvents, 'lost events', '', trace.lostEvents > 0),
    total(trace.unattributedEvents, 'unattributed events', '', trace.unattributedEvents > 0),
  ];

  return html`<header>
<h1>tracebuild report</h1>
<p class="source">${title}</p>
${verification}
${alerts}
<dl class="facts">${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v}</dd>`)}<dt>source</dt><dd>${describeSource(source)}</dd></dl>
<ul class="totals">${totals}</ul>
</header>`;
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v);
}

function leftoversHtml(trace: Trace): Html | '' {
  const parts: Html[] = [];
  if (trace.unattributedCgroups.length > 0) {
    parts.push(html`<h3>Unattributed cgroups (${trace.unattributedCgroups.length})</h3><table><thead><tr><th>cgroup</th><th>events</th><th>first command</th><th>why</th></tr></thead><tbody>${trace.unattributedCgroups.map(
      (c) => html`<tr><td><code>${str(c.path) || str(c.id)}</code></td><td>${str(c.events)}</td><td><code>${Array.isArray(c.firstArgv) ? commandLine(c.firstArgv.map(str)) : ''}</code></td><td>${str(c.reason)}</td></tr>`,
    )}</tbody></table>`);
  }
  if (trace.untracedCgroups.length > 0) {
    parts.push(html`<h3>Untraced cgroups (${trace.untracedCgroups.length})</h3><ul class="paths">${trace.untracedCgroups.map(
      (c) => html`<li><code>${str(c.path) || str(c.id)}</code></li>`,
    )}</ul>`);
  }
  if (trace.ambiguities.length > 0) {
    parts.push(html`<h3>Ambiguities (${trace.ambiguities.length})</h3><ul class="paths">${trace.ambiguities.map(
      (a) => html`<li><code>${str(a.cgroupPath) || str(a.cgroupId)}</code>: attributed to <code>${str(a.chosen)}</code> — ${str(a.reason)}</li>`,
    )}</ul>`);
  }
  return parts.length === 0 ? '' : html`<section class="leftovers"><h2>Not attributed to a step</h2>${parts}</section>`;
}

/** The report as one HTML document. */
export function renderHtmlReport(input: TraceInput, options: HtmlReportOptions = {}): string {
  const { trace, source } = input;
  const title = source.kind === 'image' ? source.image : source.path;
  const footer = [
    'Made by tracebuild',
    options.version === undefined ? '' : ` ${options.version}`,
    options.generatedAt === undefined ? '' : ` on ${options.generatedAt}`,
    '. Self-contained: this file loads nothing from the network.',
  ].join('');
  const doc = html`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CONTENT_SECURITY_POLICY}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>tracebuild report: ${title}</title>
<style>${raw(CSS)}</style>
</head>
<body>
<main>
${headerHtml(input)}
${timelineHtml(trace)}
<section class="steps"><h2>Steps</h2>
<div class="toolbar" id="toolbar"></div>
${trace.buildSteps.map((s, i) => stepHtml(s, i))}
</section>
${leftoversHtml(trace)}
<footer>${footer}</footer>
</main>
<script>${raw(SCRIPT)}</script>
</body>
</html>
`;
  return doc.value;
}
