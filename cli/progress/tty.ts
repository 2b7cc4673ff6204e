// The live `tty` progress view, redrawn in place (cursor up + clear line), like buildx:
//
//   [+] Building 3.2s (4/5)
//    => [internal] load build definition from Dockerfile              0.0s
//    => CACHED [1/3] FROM docker.io/library/busybox:local             0.0s
//    => [2/3] RUN echo hi                                             1.2s
//    => => # hi
//
// Vertices appear once started; completed ones collapse to one line; running ones show
// their statuses and their last few output lines; failed ones keep their output.
// `renderTty` is pure (state + time -> lines); `TtyDisplay` owns the terminal.

import type { Clock, TerminalSink, Ticker } from '../io.js';
import { seconds, statusProgress, vertexDuration } from './format.js';
import { isCanceledError, type ProgressState, type VertexView } from './state.js';

export interface TtyLayout {
  width: number;
  /** Lines available; older lines scroll off the top first. */
  height: number;
  /** Output lines shown under a running or failed step. */
  logLines: number;
}

const DEFAULT_LAYOUT: TtyLayout = { width: 80, height: 40, logLines: 6 };

/** `left` then `right` flush with the right edge; `left` cut to fit. */
function fit(left: string, right: string, width: number): string {
  if (right === '') return left.length > width ? left.slice(0, width) : left;
  const room = Math.max(0, width - right.length - 1);
  const l = left.length > room ? left.slice(0, room) : left;
  return `${l}${' '.repeat(width - l.length - right.length)}${right}`;
}

function label(v: VertexView): string {
  if (v.error !== undefined) return isCanceledError(v.error) ? `CANCELED ${v.name}` : `ERROR ${v.name}`;
  if (v.cached) return `CACHED ${v.name}`;
  return v.name;
}

export function renderTty(
  state: ProgressState,
  options: { now: number; startedAt: number; finished: boolean; layout?: Partial<TtyLayout> },
): string[] {
  const layout = { ...DEFAULT_LAYOUT, ...options.layout };
  const { now, width } = { now: options.now, width: Math.max(20, layout.width) };
  const { completed, total } = state.counts();
  const header = `[+] Building ${seconds(now - options.startedAt)} (${completed}/${total})${options.finished ? ' FINISHED' : ''}`;
  const body: string[] = [];
  for (const v of state.vertices()) {
    if (v.started === undefined && v.completed === undefined) continue;
    body.push(fit(` => ${label(v)}`, seconds(vertexDuration(v, now)), width));
    const running = v.completed === undefined;
    const failed = v.error !== undefined && !isCanceledError(v.error);
    if (running) {
      for (const s of v.statuses) {
        const timer = s.started === undefined ? '' : seconds((s.completed ?? now) - s.started);
        body.push(fit(` => => ${statusProgress(s)}${s.completed !== undefined ? ' done' : ''}`, timer, width));
      }
    }
    if (running || failed) {
      for (const line of v.logs.slice(-layout.logLines)) body.push(fit(` => => # ${line.text}`, '', width));
    }
  }
  const room = Math.max(1, layout.height - 2);
  return [header, ...(body.length > room ? body.slice(body.length - room) : body)];
}

const ESC = '\x1b[';

export class TtyDisplay {
  private drawn = 0;
  private readonly startedAt: number;
  private stopTicker: (() => void) | undefined;
  private finished = false;

  constructor(
    private readonly state: ProgressState,
    private readonly sink: TerminalSink,
    private readonly clock: Clock,
    private readonly ticker: Ticker,
    private readonly layout: Partial<TtyLayout> = {},
    private readonly refreshMs = 100,
  ) {
    this.startedAt = clock.now();
  }

  start(): void {
    this.sink.write(`${ESC}?25l`);
    this.redraw();
    this.stopTicker = this.ticker(() => this.redraw(), this.refreshMs);
  }

  update(): void {
    if (!this.finished) this.redraw();
  }

  finish(): void {
    if (this.finished) return;
    this.stopTicker?.();
    this.stopTicker = undefined;
    this.redraw(true);
    this.finished = true;
    this.sink.write(`${ESC}?25h`);
  }

  private redraw(final = false): void {
    const layout: Partial<TtyLayout> = {
      width: this.sink.columns ?? DEFAULT_LAYOUT.width,
      height: this.sink.rows ?? DEFAULT_LAYOUT.height,
      ...this.layout,
    };
    const lines = renderTty(this.state, { now: this.clock.now(), startedAt: this.startedAt, finished: final, layout });
    let out = this.drawn > 0 ? `${ESC}${this.drawn}A\r` : '';
    for (const line of lines) out += `${ESC}2K${line}\n`;
    if (lines.length < this.drawn) out += `${ESC}J`;
    this.drawn = lines.length;
    this.sink.write(out);
  }
}
