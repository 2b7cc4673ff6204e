import { describe, expect, it } from 'vitest';
import type { StatusBatch } from '../contracts.js';
import { ProgressState, isCanceledError } from './state.js';

const T0 = Date.UTC(2024, 0, 1);
const at = (ms: number) => new Date(T0 + ms);
const bytes = (s: string) => new TextEncoder().encode(s);
const batch = (b: Partial<StatusBatch>): StatusBatch => ({ vertexes: [], statuses: [], logs: [], ...b });
const clock = (t = T0) => ({ now: () => t });

describe('ProgressState', () => {
  it('numbers vertices by first appearance and merges updates', () => {
    const s = new ProgressState(clock());
    s.apply(batch({ vertexes: [{ digest: 'b', inputs: [], name: '[1/2] FROM x', cached: false }] }));
    s.apply(
      batch({
        vertexes: [
          { digest: 'a', inputs: ['b'], name: '[2/2] RUN true', cached: false },
          { digest: 'b', inputs: [], name: '[1/2] FROM x', cached: true, started: at(0), completed: at(0) },
        ],
      }),
    );
    expect(s.vertices().map((v) => [v.number, v.digest, v.cached])).toEqual([
      [1, 'b', true],
      [2, 'a', false],
    ]);
    expect(s.counts()).toEqual({ completed: 1, total: 2 });
    expect(s.get('a')?.inputs).toEqual(['b']);
  });

  it('emits started once, then logs, then completed after the logs of the same batch', () => {
    const s = new ProgressState(clock());
    const e1 = s.apply(batch({ vertexes: [{ digest: 'a', inputs: [], name: 'RUN', cached: false, started: at(0) }] }));
    expect(e1.map((e) => e.type)).toEqual(['started']);
    const e2 = s.apply(
      batch({
        vertexes: [{ digest: 'a', inputs: [], name: 'RUN', cached: false, started: at(0), completed: at(500) }],
        logs: [{ vertex: 'a', stream: 1, timestamp: at(100), data: bytes('one\ntw') }],
      }),
    );
    expect(e2.map((e) => (e.type === 'log' ? `log:${e.line.text}` : e.type))).toEqual(['log:one', 'log:tw', 'completed']);
    expect(s.get('a')?.logs.map((l) => l.text)).toEqual(['one', 'tw']);
  });

  it('joins lines split across chunks and multi-byte characters split across chunks', () => {
    const s = new ProgressState(clock());
    const euro = bytes('€'); // 3 bytes
    s.apply(batch({ logs: [{ vertex: 'a', stream: 1, timestamp: at(10), data: bytes('hel') }] }));
    s.apply(batch({ logs: [{ vertex: 'a', stream: 1, timestamp: at(20), data: new Uint8Array([...bytes('lo '), ...euro.slice(0, 1)]) }] }));
    const e = s.apply(batch({ logs: [{ vertex: 'a', stream: 1, timestamp: at(30), data: new Uint8Array([...euro.slice(1), 10]) }] }));
    expect(e).toHaveLength(1);
    expect(s.get('a')?.logs).toEqual([{ time: T0 + 10, stream: 1, text: 'hello €' }]);
  });

  it('keeps stdout and stderr partial lines apart and keeps only the last carriage-return redraw', () => {
    const s = new ProgressState(clock());
    s.apply(
      batch({
        logs: [
          { vertex: 'a', stream: 1, data: bytes('out') },
          { vertex: 'a', stream: 2, data: bytes('err\r\n') },
          { vertex: 'a', stream: 1, data: bytes(' 10%\r 50%\r100%\n') },
        ],
      }),
    );
    expect(s.get('a')?.logs.map((l) => [l.stream, l.text])).toEqual([
      [2, 'err'],
      [1, '100%'],
    ]);
  });

  it('caps the kept output and counts what it dropped', () => {
    const s = new ProgressState(clock(), { maxLogLines: 3 });
    s.apply(batch({ logs: [{ vertex: 'a', stream: 1, data: bytes('1\n2\n3\n4\n5\n') }] }));
    expect(s.get('a')?.logs.map((l) => l.text)).toEqual(['3', '4', '5']);
    expect(s.get('a')?.droppedLogLines).toBe(2);
  });

  it('masks output lines and errors with the redaction it was given', () => {
    const s = new ProgressState(clock(), { redact: (t) => t.replaceAll('hunter2', '[secret pw]') });
    const events = s.apply(
      batch({
        vertexes: [{ digest: 'a', name: 'RUN echo hunter2', inputs: [], cached: false, error: 'exit code 1: hunter2' }],
        logs: [{ vertex: 'a', stream: 1, data: bytes('pass hun') }, { vertex: 'a', stream: 1, data: bytes('ter2 ok\n') }],
      }),
    );
    expect(s.get('a')?.logs.map((l) => l.text)).toEqual(['pass [secret pw] ok']);
    expect(s.get('a')?.error).toBe('exit code 1: [secret pw]');
    expect(s.get('a')?.name).toBe('RUN echo [secret pw]');
    expect(JSON.stringify(events)).not.toContain('hunter2');
  });

  it('reports a status update until it completes, and its completion once', () => {
    const s = new ProgressState(clock());
    const st = { id: 'ctx', vertex: 'a', name: 'transferring context:', current: 10, total: 0, started: at(0) };
    expect(s.apply(batch({ statuses: [st] })).map((e) => e.type)).toEqual(['status']);
    expect(s.apply(batch({ statuses: [{ ...st, current: 53, completed: at(40) }] })).map((e) => e.type)).toEqual(['status-done']);
    expect(s.apply(batch({ statuses: [{ ...st, current: 53, completed: at(40) }] }))).toEqual([]);
    expect(s.get('a')?.statuses).toEqual([
      { id: 'ctx', name: 'transferring context:', current: 53, total: 0, started: T0, completed: T0 + 40 },
    ]);
  });

  it('tells failures from cancellations, first failure first', () => {
    const s = new ProgressState(clock());
    s.apply(
      batch({
        vertexes: [
          { digest: 'x', inputs: [], name: 'x', cached: false, started: at(0), completed: at(90), error: 'context canceled' },
          { digest: 'y', inputs: [], name: 'y', cached: false, started: at(0), completed: at(80), error: 'exit code: 2' },
          { digest: 'z', inputs: [], name: 'z', cached: false, started: at(0), completed: at(50), error: 'exit code: 1' },
        ],
      }),
    );
    expect(s.failed().map((v) => v.digest)).toEqual(['z', 'y']);
    expect(isCanceledError('context canceled')).toBe(true);
    expect(isCanceledError('process did not complete successfully: exit code: 1')).toBe(false);
  });

  it('flushes unterminated output when the vertex completes or the stream ends', () => {
    const s = new ProgressState(clock(T0 + 5));
    s.apply(batch({ logs: [{ vertex: 'a', stream: 1, data: bytes('no newline') }] }));
    expect(s.get('a')?.logs).toEqual([]);
    const events = s.flush();
    expect(events.map((e) => e.type)).toEqual(['log']);
    expect(s.get('a')?.logs).toEqual([{ time: T0 + 5, stream: 1, text: 'no newline' }]);
    expect(s.flush()).toEqual([]);
  });
});
