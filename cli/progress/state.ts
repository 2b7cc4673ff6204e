// The pure progress model: fed BuildKit StatusBatches, it keeps every vertex in order of
// first appearance (numbered #1, #2... like buildx), its cached/started/completed/error
// state, its statuses (transfers, extraction...) and its output split into lines, and
// tells the renderers what changed as a list of events.

import type { StatusBatch, VertexLogLine, VertexStatusUpdate, VertexUpdate } from '../contracts.js';
import { TextDecoder } from 'node:util';
import type { Clock } from '../io.js';

export interface LogLine {
  /** Milliseconds since the epoch: the daemon's timestamp, else when it arrived. */
  time: number;
  /** 1 stdout, 2 stderr. */
  stream: number;
  text: string;
}

export interface StatusView {
  id: string;
  name: string;
  current: number;
  total: number;
  started?: number;
  completed?: number;
  timestamp?: number;
}

export interface VertexView {
  digest: string;
  /** `#N`: 1-based, by first appearance in the stream. */
  number: number;
  name: string;
  inputs: string[];
  cached: boolean;
  started?: number;
  completed?: number;
  error?: string;
  /** When the stream first mentioned the vertex (local clock). */
  firstSeen: number;
  statuses: StatusView[];
  /** Complete output lines, the most recent `maxLogLines`. */
  logs: LogLine[];
  /** Lines dropped from the front of `logs` to respect the cap. */
  droppedLogLines: number;
}

export type ProgressEvent =
  | { type: 'started'; vertex: VertexView }
  | { type: 'status'; vertex: VertexView; status: StatusView }
  | { type: 'status-done'; vertex: VertexView; status: StatusView }
  | { type: 'log'; vertex: VertexView; line: LogLine }
  | { type: 'completed'; vertex: VertexView };

/** BuildKit marks the vertices it stopped because another one failed this way. */
export function isCanceledError(error: string | undefined): boolean {
  return error !== undefined && /context canceled|canceled$/i.test(error);
}

interface PartialLine {
  text: string;
  time: number;
  decoder: TextDecoder;
}

interface VertexRecord extends VertexView {
  partial: Map<number, PartialLine>;
  reportedStart: boolean;
  reportedDone: boolean;
  doneStatuses: Set<string>;
}

const ms = (d: Date | undefined): number | undefined => (d === undefined ? undefined : d.getTime());

/** A log chunk's visible text: carriage-return redraws keep only the last version. */
function visible(line: string): string {
  const trimmed = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (!trimmed.includes('\r')) return trimmed;
  const parts = trimmed.split('\r').filter((p) => p !== '');
  return parts[parts.length - 1] ?? '';
}

export interface ProgressStateOptions {
  /** Lines kept per vertex (default 1000). */
  maxLogLines?: number;
  /** Applied to every vertex name, output line and error message before anyone sees
   * them: the build's secrets are masked there (a step may print one, a build arg may
   * carry one into a name). */
  redact?: (text: string) => string;
}

export class ProgressState {
  private readonly byDigest = new Map<string, VertexRecord>();
  private readonly order: VertexRecord[] = [];
  private readonly maxLogLines: number;
  private readonly redact: (text: string) => string;

  constructor(
    private readonly clock: Clock,
    options: ProgressStateOptions = {},
  ) {
    this.maxLogLines = options.maxLogLines ?? 1000;
    this.redact = options.redact ?? ((text) => text);
  }

  /** Merges one batch; returns what changed, in display order. A vertex that completes in
   * this batch gets its statuses and output of the batch first, then its completion, so
   * that each vertex's lines stay together. */
  apply(batch: StatusBatch): ProgressEvent[] {
    const events: ProgressEvent[] = [];
    const statuses = [...batch.statuses];
    const logs = [...batch.logs];
    const take = <T extends { vertex: string }>(list: T[], digest: string): T[] => {
      const mine = list.filter((x) => x.vertex === digest);
      if (mine.length > 0) list.splice(0, list.length, ...list.filter((x) => x.vertex !== digest));
      return mine;
    };
    for (const update of batch.vertexes) {
      const v = this.applyVertex(update, events);
      if (v.completed === undefined || v.reportedDone) continue;
      v.reportedDone = true;
      for (const s of take(statuses, v.digest)) this.applyStatus(s, events);
      for (const l of take(logs, v.digest)) this.applyLog(l, events);
      this.flushPartial(v, events);
      events.push({ type: 'completed', vertex: v });
    }
    for (const s of statuses) this.applyStatus(s, events);
    for (const l of logs) this.applyLog(l, events);
    return events;
  }

  /** Ends the stream: partial output lines become lines. */
  flush(): ProgressEvent[] {
    const events: ProgressEvent[] = [];
    for (const v of this.order) this.flushPartial(v, events);
    return events;
  }

  vertices(): readonly VertexView[] {
    return this.order;
  }

  get(digest: string): VertexView | undefined {
    return this.byDigest.get(digest);
  }

  counts(): { completed: number; total: number } {
    let completed = 0;
    for (const v of this.order) if (v.completed !== undefined) completed++;
    return { completed, total: this.order.length };
  }

  /** Vertices that failed on their own (not canceled because another one failed), first
   * failure first. */
  failed(): VertexView[] {
    return this.order
      .filter((v) => v.error !== undefined && !isCanceledError(v.error))
      .sort((a, b) => (a.completed ?? Infinity) - (b.completed ?? Infinity) || a.number - b.number);
  }

  private vertex(digest: string): VertexRecord {
    let v = this.byDigest.get(digest);
    if (v === undefined) {
      v = {
        digest,
        number: this.order.length + 1,
        name: digest,
        inputs: [],
        cached: false,
        firstSeen: this.clock.now(),
        statuses: [],
        logs: [],
        droppedLogLines: 0,
        partial: new Map(),
        reportedStart: false,
        reportedDone: false,
        doneStatuses: new Set(),
      };
      this.byDigest.set(digest, v);
      this.order.push(v);
    }
    return v;
  }

  private applyVertex(update: VertexUpdate, events: ProgressEvent[]): VertexRecord {
    const v = this.vertex(update.digest);
    if (update.name !== '') v.name = this.redact(update.name);
    v.inputs = [...update.inputs];
    v.cached = v.cached || update.cached;
    if (update.started !== undefined) v.started = ms(update.started);
    if (update.completed !== undefined) v.completed = ms(update.completed);
    if (update.error !== undefined && update.error !== '') v.error = this.redact(update.error);
    if (!v.reportedStart && (v.started !== undefined || v.completed !== undefined)) {
      v.reportedStart = true;
      events.push({ type: 'started', vertex: v });
    }
    return v;
  }

  private applyStatus(update: VertexStatusUpdate, events: ProgressEvent[]): void {
    const v = this.vertex(update.vertex);
    let s = v.statuses.find((x) => x.id === update.id);
    if (s === undefined) {
      s = { id: update.id, name: update.name, current: 0, total: 0 };
      v.statuses.push(s);
    }
    if (update.name !== '') s.name = update.name;
    s.current = update.current;
    s.total = update.total;
    if (update.started !== undefined) s.started = ms(update.started);
    if (update.completed !== undefined) s.completed = ms(update.completed);
    if (update.timestamp !== undefined) s.timestamp = ms(update.timestamp);
    if (s.completed !== undefined && !v.doneStatuses.has(s.id)) {
      v.doneStatuses.add(s.id);
      events.push({ type: 'status-done', vertex: v, status: s });
    } else if (s.completed === undefined) {
      events.push({ type: 'status', vertex: v, status: s });
    }
  }

  private applyLog(log: VertexLogLine, events: ProgressEvent[]): void {
    const v = this.vertex(log.vertex);
    const time = ms(log.timestamp) ?? this.clock.now();
    let partial = v.partial.get(log.stream);
    if (partial === undefined) {
      partial = { text: '', time, decoder: new TextDecoder('utf-8') };
      v.partial.set(log.stream, partial);
    }
    if (partial.text === '') partial.time = time;
    const pieces = (partial.text + partial.decoder.decode(log.data, { stream: true })).split('\n');
    partial.text = pieces.pop() ?? '';
    let lineTime = partial.time;
    for (const piece of pieces) {
      this.addLine(v, { time: lineTime, stream: log.stream, text: visible(piece) }, events);
      lineTime = time;
    }
    if (pieces.length > 0) partial.time = time;
  }

  private flushPartial(v: VertexRecord, events: ProgressEvent[]): void {
    for (const [stream, partial] of v.partial) {
      const rest = partial.text + partial.decoder.decode();
      partial.text = '';
      if (rest !== '') this.addLine(v, { time: partial.time, stream, text: visible(rest) }, events);
    }
  }

  private addLine(v: VertexRecord, raw: LogLine, events: ProgressEvent[]): void {
    const line = { ...raw, text: this.redact(raw.text) };
    v.logs.push(line);
    if (v.logs.length > this.maxLogLines) {
      v.logs.shift();
      v.droppedLogLines++;
    }
    events.push({ type: 'log', vertex: v, line });
  }
}
