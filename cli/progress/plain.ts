// The `plain` progress view: append-only lines, one vertex group at a time, like buildx's
// `--progress=plain`:
//
//   #3 [2/3] RUN echo hi
//   #3 0.123 hi
//   #3 DONE 0.2s
//
// A vertex's header is printed when it starts, and again (after a blank line) whenever the
// output switches back to it. Statuses are printed once, when they complete.

import type { TextSink } from '../io.js';
import { logOffset, seconds, statusProgress } from './format.js';
import { isCanceledError, type ProgressEvent, type VertexView } from './state.js';

export class PlainRenderer {
  private current: VertexView | undefined;
  private wroteAnything = false;

  constructor(private readonly sink: TextSink) {}

  handle(events: readonly ProgressEvent[]): void {
    let out = '';
    for (const event of events) out += this.render(event);
    if (out !== '') this.sink.write(out);
  }

  private header(vertex: VertexView): string {
    if (this.current === vertex) return '';
    this.current = vertex;
    const gap = this.wroteAnything ? '\n' : '';
    this.wroteAnything = true;
    return `${gap}#${vertex.number} ${vertex.name}\n`;
  }

  private render(event: ProgressEvent): string {
    const v = event.vertex;
    const n = `#${v.number}`;
    switch (event.type) {
      case 'started':
        return this.header(v);
      case 'status':
        return '';
      case 'status-done': {
        const s = event.status;
        const timer = s.started !== undefined && s.completed !== undefined ? ` ${seconds(s.completed - s.started)}` : '';
        return `${this.header(v)}${n} ${statusProgress(s)}${timer} done\n`;
      }
      case 'log':
        return `${this.header(v)}${n} ${logOffset(v, event.line.time)} ${event.line.text}\n`;
      case 'completed': {
        const head = this.header(v);
        if (v.error !== undefined) {
          return isCanceledError(v.error) ? `${head}${n} CANCELED\n` : `${head}${n} ERROR: ${v.error}\n`;
        }
        if (v.cached) return `${head}${n} CACHED\n`;
        return `${head}${n} DONE ${seconds((v.completed ?? 0) - (v.started ?? v.completed ?? 0))}\n`;
      }
    }
  }
}
