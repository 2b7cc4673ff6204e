import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTraceDocument, type TraceInput, type TraceSource } from '../trace-input.js';
import { escapeHtml, html } from './html-safe.js';
import { CONTENT_SECURITY_POLICY, renderHtmlReport } from './html.js';

const TRACES = join(import.meta.dirname, '..', '..', 'testdata', 'policies', 'traces');
const HOSTILE = '<script>alert(1)</script>';

function load(name: string, edit?: (doc: Record<string, unknown>) => void): TraceInput {
  const doc = JSON.parse(readFileSync(join(TRACES, name), 'utf8')) as Record<string, unknown>;
  edit?.(doc);
  const { trace } = parseTraceDocument(doc, name);
  const source: TraceSource = { kind: 'file', path: name, format: 'trace', verified: false, subjects: [] };
  return { trace, source };
}

type Doc = { buildSteps: { processes: Record<string, unknown>[]; files: Record<string, string[]>; instruction: string }[] };

/** trojanized.json with attacker-controlled strings in argv, a path, the instruction and the monitor. */
function hostile(): TraceInput {
  return load('trojanized.json', (raw) => {
    const doc = raw as unknown as Doc;
    const step = doc.buildSteps[5];
    if (step === undefined) throw new Error('fixture changed');
    step.processes.push({ ...step.processes[1], pid: 203, ppid: 202, argv: ['sh', '-c', HOSTILE, '<img src=x onerror=alert(2)>'] });
    step.files.created = [...(step.files.created ?? []), '/tmp/"><svg onload=alert(3)>'];
    step.instruction = `RUN cc -o /out/app main.c ${HOSTILE}`;
    (raw.monitor as Record<string, unknown>).name = '</title><script>alert(4)</script>';
  });
}

describe('html-safe', () => {
  it('escapes interpolations and keeps nested markup', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(html`<b>${'<i>'}</b>${html`<i>${'&'}</i>`}${[1, '<', null, undefined, false]}`.value).toBe('<b>&lt;i&gt;</b><i>&amp;</i>1&lt;');
    expect(html`<p>${'a\u001bb\u202ec'}</p>`.value).toBe('<p>a\\x1bb\\u202ec</p>');
  });
});

describe('renderHtmlReport', () => {
  it('allows only its own style and script, by hash, and loads nothing', () => {
    const page = renderHtmlReport(load('clean.json'));
    const style = /<style>([\s\S]*?)<\/style>/.exec(page)?.[1] ?? '';
    const script = /<script>([\s\S]*?)<\/script>/.exec(page)?.[1] ?? '';
    const hash = (s: string) => createHash('sha256').update(s).digest('base64');
    expect(CONTENT_SECURITY_POLICY).toBe(
      `default-src 'none'; style-src 'sha256-${hash(style)}'; script-src 'sha256-${hash(script)}'; img-src 'none'; base-uri 'none'; form-action 'none'`,
    );
    expect(page).toContain(`<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CONTENT_SECURITY_POLICY)}">`);
    expect(page).not.toMatch(/\s(?:src|href|action|srcset|poster|xlink:href)="(?!#)/i); // links are in-page only
    expect(page).not.toMatch(/<link|@import|url\(|\ssrc=/i);
    expect(page).not.toMatch(/\sstyle=/i); // the CSP forbids inline style attributes
    expect(page).not.toMatch(/\son[a-z]+=/i); // and inline handlers
  });

  it('renders hostile trace strings as text', () => {
    const page = renderHtmlReport(hostile());
    expect(page.match(/<script/gi)).toHaveLength(1);
    expect(page).not.toMatch(/<img|<svg onload/i);
    expect(page).toContain("sh -c &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &#39;&lt;img src=x onerror=alert(2)&gt;&#39;");
    expect(page).toContain('/tmp/&quot;&gt;&lt;svg onload=alert(3)&gt;');
    expect(page).toContain('title="RUN cc -o /out/app main.c &lt;script&gt;alert(1)&lt;/script&gt;"');
    expect(page).toContain('&lt;/title&gt;&lt;script&gt;alert(4)&lt;/script&gt;');
  });

  it('shows every step, the digests, the peers and one bar per step, sized by wall time', () => {
    const page = renderHtmlReport(load('trojanized.json'));
    for (const [line, text] of [
      [1, 'FROM busybox:local'],
      [2, 'COPY cc /usr/local/bin/cc'],
      [3, 'WORKDIR /src'],
      [4, 'COPY main.c .'],
      [5, 'RUN wget -O /tmp/zlib.tar http://127.0.0.1:8080/zlib.tar'],
      [6, 'RUN cc -o /out/app main.c'],
    ] as const) {
      expect(page).toContain(`<span class="loc">Dockerfile:${line}</span><span class="ins">${escapeHtml(text)}</span>`);
    }
    expect(page).toContain('sha256:5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18');
    expect(page).toContain('<code class="peer">127.0.0.1:9999</code>');
    expect(page).toContain('<li><code>/src/.cc-implant.o</code></li>');
    expect(page).toContain('<li><code>/out/.app.tmp → /out/app.o</code></li>');
    const bars = [...page.matchAll(/<rect class="tl-bar (\w+)( marker)?" data-step="(\d+)" x="([\d.]+)%" width="([\d.]+)%"/g)].map((m) => ({
      outcome: m[1],
      marker: m[2] !== undefined,
      left: Number(m[4]),
      width: Number(m[5]),
    }));
    expect(bars).toHaveLength(6);
    expect(bars[0]).toEqual({ outcome: 'cached', marker: true, left: 0, width: 0.8 });
    // RUN wget: 10:00:00.200-.900 of 10:00:00.000-01.400; RUN cc: 01.000-01.400
    expect(bars[4]).toEqual({ outcome: 'ran', marker: false, left: 14.29, width: 50 });
    expect(bars[5]).toEqual({ outcome: 'ran', marker: false, left: 71.43, width: 28.57 });
    expect(page).toContain('400ms · CPU 250ms · mem 9.0M');
    // the steps that ran processes are open, the rest closed
    expect([...page.matchAll(/<details class="step (\w+)" id="step-(\d)"( open)?>/g)].map((m) => `${m[2]}:${m[1]}${m[3] ?? ''}`)).toEqual([
      '0:cached',
      '1:ran',
      '2:ran',
      '3:ran',
      '4:ran open',
      '5:ran open',
    ]);
  });

  it('says loudly when events were lost or matched no step, and quietly when none were', () => {
    const quiet = renderHtmlReport(load('clean.json'));
    expect(quiet).not.toContain('class="note bad"');
    expect(quiet).toContain('<li><b>0</b>lost events</li>');
    const loud = renderHtmlReport(
      load('clean.json', (doc) => {
        doc.lostEvents = 7;
        doc.unattributedEvents = 4;
        doc.unattributedCgroups = [{ id: '77', path: '/docker/buildkit/zzz', events: 4, firstArgv: ['curl', 'x'], reason: 'no running vertex' }];
        (doc.buildSteps as Record<string, unknown>[])[4]!.lostEvents = 7;
      }),
    );
    expect(loud).toContain('<p class="note bad">7 kernel event(s) were lost (7 in steps flagged “lost”): this trace is incomplete.</p>');
    expect(loud).toContain('<p class="note bad">4 event(s) in 1 cgroup(s) matched no step (see the end of the report).</p>');
    expect(loud).toContain('<li class="alarm"><b>7</b>lost events</li>');
    expect(loud).toContain('<code>/docker/buildkit/zzz</code>');
    expect(loud).toContain('<span class="flag bad">7 lost</span>');
  });

  it('says what was verified', () => {
    const trace = load('clean.json').trace;
    const page = (source: TraceSource) => renderHtmlReport({ trace, source });
    expect(page({ kind: 'file', path: 'b.json', format: 'bundle', verified: false, subjects: [] })).toContain(
      'Not verified: this bundle was decoded without checking any signature. Use <code>tracebuild verify</code>.',
    );
    expect(page({ kind: 'file', path: 't.json', format: 'trace', verified: false, subjects: [] })).toContain(
      'Unsigned trace file: nothing about its origin was verified.',
    );
    expect(
      page({ kind: 'image', reference: 'app', image: `app@sha256:${'1'.repeat(64)}`, verified: true, keyId: 'abc', subjects: [{ name: 'app', digest: `sha256:${'1'.repeat(64)}` }] }),
    ).toContain('Attestation verified with key <code>abc</code> before it was read.');
  });
});
