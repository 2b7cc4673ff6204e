// The progress display's public surface: a session owns the state model and the chosen
// renderer; the build command feeds it StatusBatches and asks the state what failed.

import type { StatusBatch } from '../contracts.js';
import type { Clock, TerminalSink, Ticker } from '../io.js';
import { PlainRenderer } from './plain.js';
import { RawJsonRenderer } from './rawjson.js';
import { ProgressState } from './state.js';
import { TtyDisplay, type TtyLayout } from './tty.js';

export { PlainRenderer } from './plain.js';
export { RawJsonRenderer, rawJsonText } from './rawjson.js';
export { ProgressState, isCanceledError } from './state.js';
export type { ProgressStateOptions } from './state.js';
export type { LogLine, ProgressEvent, StatusView, VertexView } from './state.js';
export { TtyDisplay, renderTty } from './tty.js';
export type { TtyLayout } from './tty.js';
export { humanBytes, logOffset, seconds } from './format.js';

/** `auto` = `tty` when the sink is a terminal, else `plain`; `quiet` keeps the state only;
 * `rawjson` writes each Status batch as a JSON object, as buildx does. */
export type ProgressMode = 'auto' | 'tty' | 'plain' | 'quiet' | 'rawjson';

export interface ProgressSession {
  readonly state: ProgressState;
  /** The renderer actually used. */
  readonly mode: Exclude<ProgressMode, 'auto'>;
  update(batch: StatusBatch): void;
  /** Flushes partial output and leaves the final view on screen. Idempotent. */
  finish(): void;
}

export interface ProgressOutput {
  sink: TerminalSink;
  clock: Clock;
  ticker: Ticker;
  layout?: Partial<TtyLayout>;
  /** Masks secrets in output lines and errors (see ProgressStateOptions). */
  redact?: (text: string) => string;
}

export function resolveProgressMode(mode: ProgressMode, sink: TerminalSink): Exclude<ProgressMode, 'auto'> {
  if (mode === 'auto') return sink.isTTY === true ? 'tty' : 'plain';
  return mode;
}

export function createProgress(mode: ProgressMode, output: ProgressOutput): ProgressSession {
  const state = new ProgressState(output.clock, output.redact === undefined ? {} : { redact: output.redact });
  const resolved = resolveProgressMode(mode, output.sink);
  let finished = false;
  if (resolved === 'tty') {
    const display = new TtyDisplay(state, output.sink, output.clock, output.ticker, output.layout);
    display.start();
    return {
      state,
      mode: resolved,
      update(batch) {
        state.apply(batch);
        display.update();
      },
      finish() {
        if (finished) return;
        finished = true;
        state.flush();
        display.finish();
      },
    };
  }
  const plain = resolved === 'plain' ? new PlainRenderer(output.sink) : undefined;
  const raw = resolved === 'rawjson' ? new RawJsonRenderer(output.sink, output.redact) : undefined;
  return {
    state,
    mode: resolved,
    update(batch) {
      // the state all the same: what failed, and the error's logs, come from it
      const events = state.apply(batch);
      plain?.handle(events);
      raw?.handle(batch);
    },
    finish() {
      if (finished) return;
      finished = true;
      plain?.handle(state.flush());
    },
  };
}
