import { describe, expect, it } from 'vitest';
import { recordedBatches } from '../../test/helpers/cli.js';
import type { StatusBatch } from '../contracts.js';
import { createProgress } from './index.js';
import { ProgressState } from './state.js';
import { renderTty, TtyDisplay } from './tty.js';

const T0 = Date.UTC(2024, 0, 1);

const recorded = (name: string): StatusBatch[] => recordedBatches(name, T0);

function stateAfter(batches: StatusBatch[], count: number): ProgressState {
  const state = new ProgressState({ now: () => T0 });
  for (const b of batches.slice(0, count)) state.apply(b);
  return state;
}

const layout = { width: 60, height: 30, logLines: 6 };

describe('renderTty', () => {
  it('shows running steps with timers, statuses and their last output lines', () => {
    const state = stateAfter(recorded('hello'), 1);
    expect(renderTty(state, { now: T0 + 12, startedAt: T0, finished: false, layout })).toEqual([
      '[+] Building 0.0s (0/2)',
      ' => [internal] load build context                       0.0s',
      ' => => transferring context: 10B                        0.0s',
    ]);
  });

  it('collapses completed steps and shows the running step output', () => {
    const state = stateAfter(recorded('hello'), 5);
    expect(renderTty(state, { now: T0 + 1261, startedAt: T0, finished: false, layout })).toEqual([
      '[+] Building 1.3s (4/5)',
      ' => [internal] load build context                       0.0s',
      ' => CACHED [1/4] FROM docker.io/library/busybox:local   0.0s',
      ' => [2/4] WORKDIR /app                                  0.0s',
      ' => [3/4] COPY greeting.txt .                           0.0s',
      ' => [4/4] RUN cat greeting.txt > /app/out.txt           1.2s',
      ' => => # hello',
    ]);
  });

  it('marks the finished view and keeps a failed step output', () => {
    const state = stateAfter(recorded('failed-run'), 5);
    expect(renderTty(state, { now: T0 + 3000, startedAt: T0, finished: true, layout })).toEqual([
      '[+] Building 3.0s (3/3) FINISHED',
      ' => CACHED [1/2] FROM docker.io/library/busybox:local   0.0s',
      ' => ERROR [2/2] RUN echo hi && exit 3                   0.0s',
      ' => => # hi',
      ' => => # oops',
      ' => CANCELED [stage-1 2/2] RUN sleep 5                  0.0s',
    ]);
  });

  it('cuts long lines to the width and keeps the latest lines when the screen is short', () => {
    const state = stateAfter(recorded('hello'), 5);
    const lines = renderTty(state, { now: T0 + 1261, startedAt: T0, finished: false, layout: { width: 30, height: 4 } });
    expect(lines).toEqual(['[+] Building 1.3s (4/5)', ' => [4/4] RUN cat greetin 1.2s', ' => => # hello']);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(30);
  });
});

describe('TtyDisplay', () => {
  it('redraws in place on updates and ticks, and leaves the final view', () => {
    let now = T0;
    let out = '';
    let tick: (() => void) | undefined;
    let stopped = false;
    const batches = recorded('hello');
    const session = createProgress('auto', {
      sink: { write: (s) => (out += s), isTTY: true, columns: 40, rows: 20 },
      clock: { now: () => now },
      ticker: (fn) => {
        tick = fn;
        return () => (stopped = true);
      },
    });
    expect(session.mode).toBe('tty');
    expect(out).toBe('\x1b[?25l\x1b[2K[+] Building 0.0s (0/0)\n');
    out = '';
    now = T0 + 10;
    session.update(batches[0]!);
    expect(out).toBe(
      '\x1b[1A\r' +
        '\x1b[2K[+] Building 0.0s (0/2)\n' +
        '\x1b[2K => [internal] load build context   0.0s\n' +
        '\x1b[2K => => transferring context: 10B    0.0s\n',
    );
    out = '';
    now = T0 + 520;
    tick?.();
    expect(out).toBe(
      '\x1b[3A\r' +
        '\x1b[2K[+] Building 0.5s (0/2)\n' +
        '\x1b[2K => [internal] load build context   0.5s\n' +
        '\x1b[2K => => transferring context: 10B    0.5s\n',
    );
    out = '';
    session.update(batches[1]!);
    expect(out).toBe('\x1b[3A\r\x1b[2K[+] Building 0.5s (1/2)\n\x1b[2K => [internal] load build context   0.0s\n\x1b[J');
    for (const b of batches.slice(2)) session.update(b);
    out = '';
    now = T0 + 2000;
    session.finish();
    session.finish();
    expect(stopped).toBe(true);
    expect(out).toBe(
      '\x1b[7A\r' +
        [
          '[+] Building 2.0s (6/6) FINISHED',
          ' => [internal] load build context   0.0s',
          ' => CACHED [1/4] FROM docker.io/lib 0.0s',
          ' => [2/4] WORKDIR /app              0.0s',
          ' => [3/4] COPY greeting.txt .       0.0s',
          ' => [4/4] RUN cat greeting.txt > /a 0.2s',
          ' => exporting to image              0.1s',
        ]
          .map((l) => `\x1b[2K${l}\n`)
          .join('') +
        '\x1b[?25h',
    );
  });

  it('does not redraw after finishing', () => {
    let out = '';
    const state = new ProgressState({ now: () => T0 });
    const d = new TtyDisplay(state, { write: (s) => (out += s) }, { now: () => T0 }, () => () => {});
    d.start();
    d.finish();
    const before = out;
    d.update();
    expect(out).toBe(before);
  });
});
