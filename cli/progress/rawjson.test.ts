import { describe, expect, it } from 'vitest';
import type { StatusBatch } from '../contracts.js';
import { createProgress } from './index.js';
import { goTime, rawJsonText } from './rawjson.js';
import { jsonValues } from '../../test/helpers/json-stream.js';

const D1 = 'sha256:' + '1'.repeat(64);
const D2 = 'sha256:' + '2'.repeat(64);

describe('--progress rawjson', () => {
  it("writes times as Go's time.Time does: UTC, nanoseconds with trailing zeros dropped", () => {
    expect(goTime(undefined, 1_733_620_000_123_456_789n)).toBe('2024-12-08T01:06:40.123456789Z');
    expect(goTime(undefined, 1_733_620_000_120_000_000n)).toBe('2024-12-08T01:06:40.12Z');
    expect(goTime(undefined, 1_733_620_000_000_000_000n)).toBe('2024-12-08T01:06:40Z');
    expect(goTime(new Date(Date.UTC(2024, 11, 8, 1, 6, 40, 500)), undefined)).toBe('2024-12-08T01:06:40.5Z');
    expect(goTime(undefined, undefined)).toBeUndefined();
  });

  it("one object per batch with client.SolveStatus's field names, indented as buildx 0.13 writes it; unset fields left out as omitempty does", () => {
    const batch: StatusBatch = {
      vertexes: [
        { digest: D1, inputs: [], name: '[internal] load build context', cached: false, startedNs: 1_733_620_000_000_000_000n },
        { digest: D2, inputs: [D1], name: 'RUN echo <hi> & bye', cached: true, startedNs: 1_733_620_000_100_000_000n, completedNs: 1_733_620_000_200_000_000n },
      ],
      statuses: [{ id: 'transferring context:', vertex: D1, name: 'transferring context:', current: 0, total: 0, timestampNs: 1_733_620_000_000_000_000n }],
      logs: [{ vertex: D2, stream: 1, data: new TextEncoder().encode('hi\n'), timestampNs: 1_733_620_000_150_000_000n }],
    };
    const line = rawJsonText(batch);
    expect(line.split('\n').slice(0, 3)).toEqual(['{', '  "vertexes": [', '    {']);
    expect(line).toContain('RUN echo \\u003chi\\u003e \\u0026 bye');
    expect(JSON.parse(line)).toEqual({
      vertexes: [
        { digest: D1, name: '[internal] load build context', started: '2024-12-08T01:06:40Z' },
        { digest: D2, inputs: [D1], name: 'RUN echo <hi> & bye', started: '2024-12-08T01:06:40.1Z', completed: '2024-12-08T01:06:40.2Z', cached: true },
      ],
      // id, current and timestamp are never left out
      statuses: [{ id: 'transferring context:', vertex: D1, name: 'transferring context:', current: 0, timestamp: '2024-12-08T01:06:40Z' }],
      logs: [{ vertex: D2, stream: 1, data: Buffer.from('hi\n').toString('base64'), timestamp: '2024-12-08T01:06:40.15Z' }],
    });
    expect(rawJsonText({ vertexes: [], statuses: [], logs: [] })).toBe('{}');
  });

  it('masks secrets in names, errors and logs; a log without one keeps its bytes', () => {
    const redact = (t: string): string => t.replaceAll('s3cret', '****');
    const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x41]);
    const parsed = JSON.parse(
      rawJsonText(
        {
          vertexes: [{ digest: D1, inputs: [], name: 'RUN echo s3cret', cached: false, error: 'exit s3cret' }],
          statuses: [],
          logs: [
            { vertex: D1, stream: 2, data: new TextEncoder().encode('the s3cret is out\n') },
            { vertex: D1, stream: 1, data: binary },
          ],
        },
        redact,
      ),
    ) as { vertexes: Array<{ name: string; error: string }>; logs: Array<{ data: string }> };
    expect(parsed.vertexes[0]).toMatchObject({ name: 'RUN echo ****', error: 'exit ****' });
    expect(Buffer.from(parsed.logs[0]?.data ?? '', 'base64').toString()).toBe('the **** is out\n');
    expect(Buffer.from(parsed.logs[1]?.data ?? '', 'base64')).toEqual(Buffer.from(binary));
  });

  it('the session writes an object per update and keeps the state (what failed)', () => {
    let out = '';
    const progress = createProgress('rawjson', { sink: { write: (s) => (out += s) }, clock: { now: () => 0 }, ticker: () => () => undefined });
    expect(progress.mode).toBe('rawjson');
    progress.update({ vertexes: [{ digest: D1, inputs: [], name: 'RUN false', cached: false, error: 'exit code: 1' }], statuses: [], logs: [] });
    progress.update({ vertexes: [], statuses: [], logs: [{ vertex: D1, stream: 2, data: new TextEncoder().encode('no\n') }] });
    progress.finish();
    expect(jsonValues(out).map((o) => Object.keys(o))).toEqual([['vertexes'], ['logs']]);
    expect(progress.state.vertices().find((v) => v.digest === D1)?.error).toBe('exit code: 1');
  });
});
