// Control.Status responses -> the client's StatusBatch. Pure. Timestamps keep their exact
// value as nanoseconds (bigint) beside the millisecond Date.
import type { Msg } from './rpc.js';
import type { StatusBatch, VertexLogLine, VertexStatusUpdate, VertexUpdate } from './types.js';

/** Go's zero time.Time (0001-01-01T00:00:00Z) as Unix seconds: sent for "unset". */
const GO_ZERO_TIME_SECONDS = -62135596800n;

export interface Instant {
  date: Date;
  ns: bigint;
}

/** google.protobuf.Timestamp (seconds as decimal string or number, nanos) -> instant. */
export function fromTimestamp(ts: unknown): Instant | undefined {
  if (!ts || typeof ts !== 'object') return undefined;
  const t = ts as { seconds?: string | number; nanos?: number };
  const seconds = BigInt(t.seconds ?? 0);
  const nanos = BigInt(t.nanos ?? 0);
  if (seconds === GO_ZERO_TIME_SECONDS && nanos === 0n) return undefined;
  const ns = seconds * 1_000_000_000n + nanos;
  return { date: new Date(Number(ns / 1_000_000n)), ns };
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '') return Number(v);
  return 0;
}

function list(v: unknown): Msg[] {
  return Array.isArray(v) ? (v as Msg[]) : [];
}

export function toStatusBatch(res: Msg): StatusBatch {
  const vertexes: VertexUpdate[] = list(res.vertexes).map((v) => {
    const out: VertexUpdate = {
      digest: str(v.digest),
      inputs: Array.isArray(v.inputs) ? (v.inputs as string[]) : [],
      name: str(v.name),
      cached: v.cached === true,
    };
    const started = fromTimestamp(v.started);
    if (started) {
      out.started = started.date;
      out.startedNs = started.ns;
    }
    const completed = fromTimestamp(v.completed);
    if (completed) {
      out.completed = completed.date;
      out.completedNs = completed.ns;
    }
    if (str(v.error)) out.error = str(v.error);
    return out;
  });
  const statuses: VertexStatusUpdate[] = list(res.statuses).map((s) => {
    const out: VertexStatusUpdate = {
      id: str(s.ID),
      vertex: str(s.vertex),
      name: str(s.name),
      current: num(s.current),
      total: num(s.total),
    };
    const timestamp = fromTimestamp(s.timestamp);
    if (timestamp) {
      out.timestamp = timestamp.date;
      out.timestampNs = timestamp.ns;
    }
    const started = fromTimestamp(s.started);
    if (started) {
      out.started = started.date;
      out.startedNs = started.ns;
    }
    const completed = fromTimestamp(s.completed);
    if (completed) {
      out.completed = completed.date;
      out.completedNs = completed.ns;
    }
    return out;
  });
  const logs: VertexLogLine[] = list(res.logs).map((l) => {
    const out: VertexLogLine = {
      vertex: str(l.vertex),
      stream: num(l.stream),
      data: l.msg instanceof Uint8Array ? l.msg : new Uint8Array(),
    };
    const timestamp = fromTimestamp(l.timestamp);
    if (timestamp) {
      out.timestamp = timestamp.date;
      out.timestampNs = timestamp.ns;
    }
    return out;
  });
  return { vertexes, statuses, logs };
}
