import { describe, expect, it } from 'vitest';
import { fromTimestamp, toStatusBatch } from './status.js';

describe('Status conversion', () => {
  it('keeps nanosecond precision beside the Date', () => {
    const t = fromTimestamp({ seconds: '1700000000', nanos: 123456789 });
    expect(t?.ns).toBe(1_700_000_000_123_456_789n);
    expect(t?.date.toISOString()).toBe('2023-11-14T22:13:20.123Z');
  });

  it("treats Go's zero time and missing timestamps as unset", () => {
    expect(fromTimestamp({ seconds: '-62135596800' })).toBeUndefined();
    expect(fromTimestamp(undefined)).toBeUndefined();
  });

  it('maps vertexes, statuses and logs', () => {
    const batch = toStatusBatch({
      vertexes: [
        { digest: 'sha256:aa', inputs: ['sha256:bb'], name: 'RUN x', cached: true, started: { seconds: '10', nanos: 5 }, completed: { seconds: '11' } },
        { digest: 'sha256:cc', name: 'broken', error: 'exit code: 1' },
      ],
      statuses: [{ ID: 'transferring context', vertex: 'sha256:cc', current: '42', total: '100', timestamp: { seconds: '12', nanos: 1 } }],
      logs: [{ vertex: 'sha256:aa', stream: '2', msg: Buffer.from('oops\n'), timestamp: { seconds: '13' } }],
    });
    expect(batch.vertexes[0]).toMatchObject({ digest: 'sha256:aa', inputs: ['sha256:bb'], name: 'RUN x', cached: true, startedNs: 10_000_000_005n, completedNs: 11_000_000_000n });
    expect(batch.vertexes[1]).toEqual({ digest: 'sha256:cc', inputs: [], name: 'broken', cached: false, error: 'exit code: 1' });
    expect(batch.statuses[0]).toMatchObject({ id: 'transferring context', vertex: 'sha256:cc', current: 42, total: 100, timestampNs: 12_000_000_001n });
    expect(batch.logs[0]).toMatchObject({ vertex: 'sha256:aa', stream: 2, timestampNs: 13_000_000_000n });
    expect(Buffer.from(batch.logs[0]?.data ?? []).toString()).toBe('oops\n');
  });
});
