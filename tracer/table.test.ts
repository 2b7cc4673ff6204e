import { describe, expect, it } from 'vitest';
import { formatDurationMs, formatKb, formatTraceTable } from './table.js';
import type { Trace, TraceBuildStep, TraceFiles } from '../model/index.js';

const files = (p: Partial<TraceFiles> = {}): TraceFiles => ({
  created: [],
  modified: [],
  deleted: [],
  renamed: [],
  transient: [],
  attributes: [],
  links: [],
  ...p,
});

function step(p: Partial<TraceBuildStep> & Pick<TraceBuildStep, 'instruction' | 'keyword' | 'line'>): TraceBuildStep {
  return {
    endLine: p.line,
    stage: '0',
    vertex: `sha256:${'0'.repeat(64)}`,
    cached: false,
    status: 'done',
    startedOn: null,
    finishedOn: null,
    durationMs: null,
    cgroup: null,
    processes: [],
    files: files(),
    network: [],
    resources: null,
    runcSetupEvents: 0,
    lostEvents: 0,
    warnings: [],
    ...p,
  };
}

const proc = (pid: number): TraceBuildStep['processes'][number] => ({
  pid,
  ppid: 1,
  argv: ['x'],
  exe: '/x',
  exeSha256: null,
  digestMissing: 'no digest record (lost)',
  execed: true,
  exitCode: 0,
  startedOn: '2025-01-01T00:00:00.000Z',
  finishedOn: '2025-01-01T00:00:01.000Z',
});

function trace(p: Partial<Trace> = {}): Trace {
  return {
    monitor: { name: 'tracebuild-probe' },
    metadata: { buildStartedOn: null, buildFinishedOn: null },
    buildSteps: [
      step({ instruction: 'FROM debian:bookworm', keyword: 'FROM', line: 1 }),
      step({
        instruction: 'COPY src/ /app/src/',
        keyword: 'COPY',
        line: 2,
        copy: {
          patterns: ['src/'],
          sources: [
            { path: 'src/a.c', size: 1000, sha256: 'a'.repeat(64) },
            { path: 'src/b.c', size: 1048, sha256: 'b'.repeat(64) },
          ],
          unmatchedPatterns: [],
          destination: '/app/src/',
        },
      }),
      step({ instruction: 'RUN apt-get update && apt-get install -y build-essential', keyword: 'RUN', line: 3, cached: true, status: 'cached' }),
      step({
        instruction: 'RUN make -C /app \\\n    all',
        keyword: 'RUN',
        line: 4,
        endLine: 5,
        durationMs: 83_400,
        processes: [proc(10), proc(11), proc(12)],
        files: files({ created: ['/app/a.o', '/app/b.o', '/app/prog'], modified: ['/app/Makefile'], deleted: ['/tmp/cc1'] }),
        network: [{ protocol: 'tcp', address: '1.2.3.4', port: 443, direction: 'outbound', family: 'inet', attempts: 1, failures: 0 }],
        resources: { wallMs: 83_400, cpuUserMs: 61_250, cpuSystemMs: 3_120.5, maxRssKb: 251_904 },
      }),
      step({ instruction: 'RUN true', keyword: 'RUN', line: 6, status: 'done' }),
    ],
    complete: true,
    monitorGaps: [],
    lostEvents: 0,
    losses: {
      ringbuf: { 'cgroup-mkdir': 0, 'cgroup-rmdir': 0, exec: 0, fork: 0, exit: 0, file: 0, net: 0 },
      pendingFull: 0,
      argsUnread: 0,
      tracedFull: 0,
      scratchBusy: 0,
      digestSkipped: 0,
      signalFailed: 0,
      digestFailed: 0,
      output: 0,
      netSuppressed: 0,
      undecodedRecords: 0,
      monitorGaps: 0,
      unseenSteps: 0,
      attributedToSteps: 0,
      unattributedToSteps: 0,
    },
    unattributedEvents: 0,
    unattributedCgroups: [],
    untracedCgroups: [],
    runcSetupEvents: 14,
    ambiguities: [],
    ...p,
  };
}

describe('formatTraceTable', () => {
  it('renders one row per instruction and a quiet footer when nothing was lost', () => {
    expect(formatTraceTable(trace(), { width: 90 })).toBe(
      [
        'STEP                                  PROCS   NEW   MOD   DEL  NET     CPU     MEM    WALL',
        '------------------------------------------------------------------------------------------',
        'Dockerfile:1 FROM debian:bookworm     -',
        'Dockerfile:2 COPY src/ /app/src/      copy: 2 files served, 2.0 KiB',
        'Dockerfile:3 RUN apt-get update && …  cached',
        'Dockerfile:4 RUN make -C /app all         3     3     1     1    1   1m04s  246.0M   1m23s',
        'Dockerfile:6 RUN true                 not traced',
        '------------------------------------------------------------------------------------------',
        'lost events: 0   unattributed events: 0   runc setup events (excluded): 14',
        '',
      ].join('\n'),
    );
  });

  it('makes losses, unattributed events and ambiguities loud', () => {
    const t = trace();
    const run = t.buildSteps[3] as TraceBuildStep;
    run.lostEvents = 3;
    run.ambiguous = { candidates: ['sha256:1', 'sha256:2'], reason: 'r' };
    t.lostEvents = 10;
    t.losses.attributedToSteps = 3;
    t.unattributedEvents = 40;
    t.unattributedCgroups = [{ id: '5', path: '/docker/buildkit/x', createdOn: null, events: 40, reason: 'r' }];
    expect(formatTraceTable(t, { width: 90 }).split('\n').slice(5)).toEqual([
      'Dockerfile:4 RUN make -C /app a… ? !      3     3     1     1    1   1m04s  246.0M   1m23s',
      'Dockerfile:6 RUN true                 not traced',
      '------------------------------------------------------------------------------------------',
      'lost events: 10   unattributed events: 40   runc setup events (excluded): 14',
      'WARNING: 10 event(s) lost (3 in steps marked !): the trace is incomplete',
      'WARNING: 40 event(s) in 1 cgroup(s) matched no step',
      'NOTE: ambiguous attribution (identical commands ran in parallel), marked ?: Dockerfile:4',
      '',
    ]);
  });

  it('keeps the step column at least 20 wide on a narrow terminal', () => {
    const lines = formatTraceTable(trace(), { width: 40 }).split('\n');
    expect(lines[4]).toBe('Dockerfile:3 RUN ap…  cached');
  });
});

describe('formatters', () => {
  it('formats durations and sizes', () => {
    expect([850, 1234, 59_999, 125_000].map(formatDurationMs)).toEqual(['850ms', '1.23s', '60.00s', '2m05s']);
    expect([512, 12_595, 1_572_864].map(formatKb)).toEqual(['512K', '12.3M', '1.5G']);
  });
});
