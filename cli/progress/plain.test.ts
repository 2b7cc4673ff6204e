import { describe, expect, it } from 'vitest';
import { recordedBatches } from '../../test/helpers/cli.js';
import type { StatusBatch } from '../contracts.js';
import { PlainRenderer } from './plain.js';
import { ProgressState } from './state.js';
import { createProgress } from './index.js';

const T0 = Date.UTC(2024, 0, 1);

const recorded = (name: string): StatusBatch[] => recordedBatches(name, T0);

function renderPlain(batches: StatusBatch[]): string {
  let out = '';
  const state = new ProgressState({ now: () => T0 });
  const r = new PlainRenderer({ write: (s) => (out += s) });
  for (const b of batches) r.handle(state.apply(b));
  r.handle(state.flush());
  return out;
}

describe('plain progress', () => {
  it('renders a recorded successful build', () => {
    expect(renderPlain(recorded('hello'))).toBe(
      [
        '#1 [internal] load build context',
        '#1 transferring context: 53B 0.0s done',
        '#1 DONE 0.0s',
        '',
        '#2 [1/4] FROM docker.io/library/busybox:local',
        '#2 CACHED',
        '',
        '#3 [2/4] WORKDIR /app',
        '#3 DONE 0.0s',
        '',
        '#4 [3/4] COPY greeting.txt .',
        '#4 DONE 0.0s',
        '',
        '#5 [4/4] RUN cat greeting.txt > /app/out.txt',
        '#5 0.119 hello',
        '#5 0.119 built by root',
        '#5 DONE 0.2s',
        '',
        '#6 exporting to image',
        '#6 exporting layers 0.0s done',
        '#6 writing image sha256:abc 0.0s done',
        '#6 naming to docker.io/library/hello:latest 0.0s done',
        '#6 DONE 0.1s',
        '',
      ].join('\n'),
    );
  });

  it('renders interleaved vertices, an error and a cancellation', () => {
    expect(renderPlain(recorded('failed-run'))).toBe(
      [
        '#1 [1/2] FROM docker.io/library/busybox:local',
        '#1 CACHED',
        '',
        '#3 [stage-1 2/2] RUN sleep 5',
        '',
        '#2 [2/2] RUN echo hi && exit 3',
        '',
        '#3 [stage-1 2/2] RUN sleep 5',
        '#3 0.010 zzz',
        '',
        '#2 [2/2] RUN echo hi && exit 3',
        '#2 0.010 hi',
        '#2 0.015 oops',
        '#2 ERROR: process "/bin/sh -c echo hi && exit 3" did not complete successfully: exit code: 3',
        '',
        '#3 [stage-1 2/2] RUN sleep 5',
        '#3 CANCELED',
        '',
      ].join('\n'),
    );
  });

  it('prints byte progress of completed transfers', () => {
    const state = new ProgressState({ now: () => T0 });
    let out = '';
    const r = new PlainRenderer({ write: (s) => (out += s) });
    r.handle(
      state.apply({
        vertexes: [{ digest: 'd', inputs: [], name: 'pull', cached: false, started: new Date(T0) }],
        statuses: [
          { id: 'sha256:0123', vertex: 'd', name: 'downloading', current: 2_810_000, total: 2_810_000, started: new Date(T0), completed: new Date(T0 + 1250) },
        ],
        logs: [],
      }),
    );
    expect(out).toBe('#1 pull\n#1 sha256:0123 2.81MB / 2.81MB 1.3s done\n');
  });

  it('the plain session writes as batches arrive; the quiet session writes nothing', () => {
    const batches = recorded('hello');
    let plain = '';
    const p = createProgress('auto', { sink: { write: (s) => (plain += s), isTTY: false }, clock: { now: () => T0 }, ticker: () => () => {} });
    expect(p.mode).toBe('plain');
    let quiet = '';
    const q = createProgress('quiet', { sink: { write: (s) => (quiet += s), isTTY: true }, clock: { now: () => T0 }, ticker: () => () => {} });
    for (const b of batches) {
      p.update(b);
      q.update(b);
    }
    p.finish();
    q.finish();
    expect(plain).toBe(renderPlain(batches));
    expect(quiet).toBe('');
    expect(q.state.counts()).toEqual({ completed: 6, total: 6 });
  });
});
