import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { diffTraces, formatDiff } from './index.js';
import { normalizeTrace, type Trace, type TraceBuildStep } from '../model/index.js';

const TRACES = fileURLToPath(new URL('../testdata/policies/traces/', import.meta.url));
const CC_CLEAN = '2f35a59509411ec14a5693ee873aca2fbe87197826b7061984ef4efb58699873';
const CC_TROJAN = '5b4128b353821961824884ffd9274c8fa9101ec0b3acc79ffb3c85b64d26bf18';

function trace(name: 'clean' | 'trojanized'): Trace {
  return normalizeTrace(JSON.parse(readFileSync(`${TRACES}${name}.json`, 'utf8')));
}

/** A hand-written trace, completed as every reader gets one (model/trace-schema.ts). */
const t = (partial: object): Trace => normalizeTrace(partial);

function withSteps(trace: Trace, f: (steps: TraceBuildStep[]) => TraceBuildStep[]): Trace {
  return { ...trace, buildSteps: f([...trace.buildSteps]) };
}

/** A step as a trace file may hold it (the reader completes it: `t`). */
function step(instruction: string, line: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    instruction,
    line,
    stage: 0,
    vertex: `sha256:${String(line).padStart(64, '0')}`,
    cached: false,
    processes: [],
    files: { created: [], modified: [], deleted: [], renamed: [] },
    network: [],
    lostEvents: 0,
    ...extra,
  };
}

const EMPTY = { added: [], removed: [] };

describe('diffTraces', () => {
  it('finds nothing between identical traces', () => {
    const d = diffTraces(trace('clean'), trace('clean'));
    expect(d).toEqual({ identical: true, steps: [] });
    expect(formatDiff(d)).toBe('');
    expect(formatDiff(d, { labelA: 'a.json', labelB: 'b.json' })).toBe('');
  });

  it('ignores timing, pids, argv, resources and the order of items', () => {
    const a = trace('clean');
    const b = withSteps(trace('clean'), (steps) =>
      steps.map((s) => ({
        ...s,
        startedOn: '2030-01-01T00:00:00Z',
        resources: { wallMs: 1, cpuUserMs: 1, cpuSystemMs: 1, maxRssKb: 1 },
        processes: [...s.processes].reverse().map((p) => ({ ...p, pid: p.pid + 1000, argv: ['x'] })),
        files: { ...s.files, created: [...s.files.created].reverse() },
      })),
    );
    expect(diffTraces(t(a), t(b)).identical).toBe(true);
  });

  it('shows exactly the changed digest, the extra file and the connection of the trojanized build', () => {
    const d = diffTraces(trace('clean'), trace('trojanized'));
    expect(d).toEqual({
      identical: false,
      steps: [
        {
          status: 'changed',
          stage: '0',
          instruction: 'RUN cc -o /out/app main.c',
          occurrence: 0,
          lineA: 6,
          lineB: 6,
          processes: EMPTY,
          digests: [{ exe: '/usr/local/bin/cc', removed: [CC_CLEAN], added: [CC_TROJAN] }],
          network: { added: [{ protocol: 'tcp', address: '127.0.0.1', port: 9999, direction: 'outbound' }], removed: [] },
          files: { added: [{ change: 'created', path: '/src/.cc-implant.o' }], removed: [] },
        },
      ],
    });
    expect(formatDiff(d, { labelA: 'clean.json', labelB: 'trojanized.json' })).toBe(
      [
        '--- clean.json',
        '+++ trojanized.json',
        'Dockerfile:6 RUN cc -o /out/app main.c  [stage 0]',
        `- exec /usr/local/bin/cc sha256:${CC_CLEAN}`,
        `+ exec /usr/local/bin/cc sha256:${CC_TROJAN}  (digest changed)`,
        '+ connect tcp outbound 127.0.0.1:9999',
        '+ write created /src/.cc-implant.o',
        '',
      ].join('\n'),
    );
  });

  it('is symmetric: B -> A swaps added and removed', () => {
    const d = diffTraces(trace('trojanized'), trace('clean'));
    const s = d.steps[0];
    expect(s?.digests).toEqual([{ exe: '/usr/local/bin/cc', removed: [CC_TROJAN], added: [CC_CLEAN] }]);
    expect(s?.network.removed).toHaveLength(1);
    expect(s?.files.removed).toEqual([{ change: 'created', path: '/src/.cc-implant.o' }]);
  });

  it('reports executables added and removed by path and digest, and unknown digests', () => {
    const a = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN make', 2, { processes: [proc('/usr/bin/make', 'aa'), proc('/usr/bin/gcc', 'bb')] })] };
    const b = {
      monitor: {},
      lostEvents: 0,
      buildSteps: [step('RUN make', 2, { processes: [proc('/usr/bin/make', 'aa'), proc('/usr/bin/curl', null), proc('/usr/bin/clang', 'cc')] })],
    };
    const d = diffTraces(t(a), t(b));
    expect(d.steps[0]?.processes).toEqual({
      added: [
        { exe: '/usr/bin/clang', sha256: 'cc' },
        { exe: '/usr/bin/curl', sha256: null },
      ],
      removed: [{ exe: '/usr/bin/gcc', sha256: 'bb' }],
    });
    expect(d.steps[0]?.digests).toEqual([]);
    expect(formatDiff(d)).toBe(
      ['Dockerfile:2 RUN make  [stage 0]', '- exec /usr/bin/gcc sha256:bb', '+ exec /usr/bin/clang sha256:cc', '+ exec /usr/bin/curl sha256:(unknown)', ''].join('\n'),
    );
  });

  it('reports a second digest for the same path as a digest change', () => {
    const a = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN make', 2, { processes: [proc('/bin/cc', 'aa')] })] };
    const b = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN make', 2, { processes: [proc('/bin/cc', 'aa'), proc('/bin/cc', 'ff')] })] };
    expect(diffTraces(t(a), t(b)).steps[0]?.digests).toEqual([{ exe: '/bin/cc', removed: [], added: ['ff'] }]);
  });

  it('reports file writes of every kind, renames with both ends', () => {
    const a = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN x', 2, { files: { created: ['/a'], modified: ['/m'], deleted: [], renamed: [] } })] };
    const b = {
      monitor: {},
      lostEvents: 0,
      buildSteps: [step('RUN x', 2, { files: { created: ['/a'], modified: [], deleted: ['/d'], renamed: [{ from: '/r1', to: '/r2' }] } })],
    };
    const d = diffTraces(t(a), t(b));
    expect(d.steps[0]?.files).toEqual({
      added: [
        { change: 'deleted', path: '/d' },
        { change: 'renamed', path: '/r2', from: '/r1' },
      ],
      removed: [{ change: 'modified', path: '/m' }],
    });
    expect(formatDiff(d)).toContain('+ write renamed /r1 -> /r2\n');
  });

  it('matches repeated instructions by occurrence and reports steps only in A or only in B', () => {
    const a = {
      monitor: {},
      lostEvents: 0,
      buildSteps: [step('FROM alpine', 1), step('RUN true', 2), step('RUN rm -rf /tmp/x', 3), step('RUN true', 4)],
    };
    const b = {
      monitor: {},
      lostEvents: 0,
      buildSteps: [
        step('FROM alpine', 1),
        step('RUN true', 2),
        step('RUN true', 3, { network: [{ protocol: 'udp', address: '10.0.0.2', port: 53, direction: 'outbound' }] }),
        step('RUN true', 4),
        step('RUN true', 4, { stage: 'final' }),
      ],
    };
    const d = diffTraces(t(a), t(b));
    expect(d.steps.map((s) => [s.status, s.stage, s.instruction, s.occurrence, s.lineA, s.lineB])).toEqual([
      ['only-a', '0', 'RUN rm -rf /tmp/x', 0, 3, null],
      ['changed', '0', 'RUN true', 1, 4, 3],
      ['only-b', '0', 'RUN true', 2, null, 4],
      ['only-b', 'final', 'RUN true', 0, null, 4],
    ]);
    expect(formatDiff(d)).toBe(
      [
        'Dockerfile:3 RUN rm -rf /tmp/x  [stage 0]',
        '- step only in A',
        'Dockerfile:3 RUN true  [stage 0] (line 4 in A)',
        '+ connect udp outbound 10.0.0.2:53',
        'Dockerfile:4 RUN true  [stage 0]',
        '+ step only in B',
        'Dockerfile:4 RUN true  [stage "final"]',
        '+ step only in B',
        '',
      ].join('\n'),
    );
  });

  it('lists the contents of a step present on one side only', () => {
    const a = { monitor: {}, lostEvents: 0, buildSteps: [] };
    const b = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN curl x', 2, { processes: [proc('/usr/bin/curl', 'cc')] })] };
    expect(formatDiff(diffTraces(t(a), t(b)))).toBe(['Dockerfile:2 RUN curl x  [stage 0]', '+ step only in B', '+ exec /usr/bin/curl sha256:cc', ''].join('\n'));
    expect(formatDiff(diffTraces(t(b), t(a)))).toBe(['Dockerfile:2 RUN curl x  [stage 0]', '- step only in A', '- exec /usr/bin/curl sha256:cc', ''].join('\n'));
  });

  it('reports cache and lost-event differences', () => {
    const a = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN make', 2, { cached: true })] };
    const b = { monitor: {}, lostEvents: 0, buildSteps: [step('RUN make', 2, { lostEvents: 4 })] };
    const d = diffTraces(t(a), t(b));
    expect(d.steps[0]).toMatchObject({ cached: { a: true, b: false }, lostEvents: { a: 0, b: 4 } });
    expect(formatDiff(d)).toBe(['Dockerfile:2 RUN make  [stage 0]', '- cached: true', '+ cached: false', '- lost events: 0', '+ lost events: 4', ''].join('\n'));
  });

  it('produces stable JSON', () => {
    const d1 = JSON.stringify(diffTraces(trace('clean'), trace('trojanized')));
    const d2 = JSON.stringify(diffTraces(trace('clean'), trace('trojanized')));
    expect(d1).toBe(d2);
  });
});

function proc(exe: string, sha: string | null) {
  return { pid: 1, ppid: 0, argv: [exe], exe, exeSha256: sha, exitCode: 0, startedOn: '2025-01-01T00:00:00Z' };
}
