// The tracer's completeness records (losses, unattributed events, ambiguities...) are
// carried into the runtime-trace predicate when the trace has them, and absent otherwise.
import { describe, expect, it } from 'vitest';
import { buildRuntimeTraceStatement, type RuntimeTrace } from './index.js';

const image = { name: '127.0.0.1:5000/app', digest: `sha256:${'0a'.repeat(32)}` };
const base: RuntimeTrace = { monitor: { name: 'tracebuild-probe' }, buildSteps: [], lostEvents: 2 };
const build = (trace: RuntimeTrace) =>
  buildRuntimeTraceStatement({
    image,
    trace,
    monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/h', event: 'e' },
    timestamps: { buildStartedOn: '2025-01-01T00:00:00Z', buildFinishedOn: '2025-01-01T00:00:01Z' },
  }).predicate;

describe('runtime-trace completeness fields', () => {
  it('are copied when present', () => {
    const losses = { ringbuf: { exec: 1 }, attributedToSteps: 0, unattributedToSteps: 2 };
    const p = build({
      ...base,
      losses,
      unattributedEvents: 5,
      unattributedCgroups: [{ id: '9', path: '/x', events: 5, reason: 'no step running' }],
      untracedCgroups: [],
      runcSetupEvents: 7,
      ambiguities: [{ cgroupId: '9', candidates: ['a', 'b'], chosen: 'a', reason: 'same argv' }],
    });
    expect(p).toMatchObject({ lostEvents: 2, losses, unattributedEvents: 5, runcSetupEvents: 7, untracedCgroups: [] });
    expect(p.unattributedCgroups).toHaveLength(1);
    expect(p.ambiguities).toHaveLength(1);
    expect(p.losses).not.toBe(losses);
  });

  it('are absent when the trace lacks them', () => {
    const p = build(base);
    for (const k of ['losses', 'unattributedEvents', 'unattributedCgroups', 'untracedCgroups', 'runcSetupEvents', 'ambiguities']) {
      expect(k in p).toBe(false);
    }
  });
});
