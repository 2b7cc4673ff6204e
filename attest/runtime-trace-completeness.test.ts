// The tracer's completeness records (complete, gaps, losses, unattributed events,
// ambiguities...) are carried into the runtime-trace predicate unchanged, so that a reader
// of the attestation sees the same figures as the build did; and read back the same.
import { describe, expect, it } from 'vitest';
import { normalizeTrace, type Trace } from '../model/index.js';
import { buildRuntimeTraceStatement, traceFromPredicate } from './index.js';

const image = { name: '127.0.0.1:5000/app', digest: `sha256:${'0a'.repeat(32)}` };
const build = (trace: Trace) =>
  buildRuntimeTraceStatement({
    image,
    trace,
    monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/h', event: 'e' },
    timestamps: { buildStartedOn: '2025-01-01T00:00:00Z', buildFinishedOn: '2025-01-01T00:00:01Z' },
  }).predicate;

describe('runtime-trace completeness fields', () => {
  const losses = { ringbuf: { exec: 1 }, monitorGaps: 1, attributedToSteps: 0, unattributedToSteps: 3 };
  const trace = normalizeTrace({
    monitor: { name: 'tracebuild-probe' },
    buildSteps: [],
    lostEvents: 3,
    complete: false,
    monitorGaps: [{ kind: 'loader-exited', startedOn: '2025-01-01T00:00:00.500Z', reason: 'the probe loader exited (signal SIGKILL)' }],
    losses,
    unattributedEvents: 5,
    unattributedCgroups: [{ id: '9', path: '/x', events: 5, reason: 'no step running' }],
    untracedCgroups: [],
    runcSetupEvents: 7,
    ambiguities: [{ cgroupId: '9', candidates: ['a', 'b'], chosen: 'a', reason: 'same argv' }],
  });

  it('are copied into the predicate', () => {
    const p = build(trace);
    expect(p).toMatchObject({ lostEvents: 3, complete: false, unattributedEvents: 5, runcSetupEvents: 7, untracedCgroups: [] });
    expect(p.monitorGaps).toEqual(trace.monitorGaps);
    expect(p.losses).toEqual(trace.losses);
    expect(p.losses).not.toBe(trace.losses);
    expect(p.unattributedCgroups).toHaveLength(1);
    expect(p.ambiguities).toHaveLength(1);
  });

  it('are read back from the predicate as they were', () => {
    const back = traceFromPredicate(build(trace));
    for (const k of ['complete', 'monitorGaps', 'losses', 'unattributedEvents', 'unattributedCgroups', 'untracedCgroups', 'runcSetupEvents', 'ambiguities'] as const) {
      expect(back[k], k).toEqual(trace[k]);
    }
  });
});
