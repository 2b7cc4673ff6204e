// `--progress rawjson`: each Status batch BuildKit sends as a JSON object, in the form
// Docker 26's buildx (0.13) prints it (BuildKit's client.SolveStatus as Go's encoding/json
// writes it: its field names and omitempty rules, RFC 3339 times with nanoseconds, bytes in
// base64, <, > and & escaped, indented by two spaces, one object after another): what CI
// tooling that parses buildx's raw progress reads (a stream of JSON values). Vertex warnings
// are not in the Status batches this client decodes, so none are written. Secrets are masked as in the
// other renderers: a vertex's name and error, and a log's bytes when masking changes them.
import type { StatusBatch } from '../contracts.js';
import type { TextSink } from '../io.js';

type Json = Record<string, unknown>;

/** Go's zero time.Time, which a struct field without omitempty is written as when unset. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/** A time as Go's time.Time marshals it: RFC 3339 in UTC with the nanoseconds, trailing
 * zeros dropped (none at all for a whole second). From the nanoseconds BuildKit sent when
 * there are any, else from the Date. */
export function goTime(date: Date | undefined, ns: bigint | undefined): string | undefined {
  const at = ns ?? (date === undefined ? undefined : BigInt(date.getTime()) * 1_000_000n);
  if (at === undefined) return undefined;
  const nanos = at % 1_000_000_000n;
  const whole = new Date(Number(at / 1_000_000_000n) * 1000).toISOString().slice(0, 19);
  return `${whole}${nanos === 0n ? '' : `.${nanos.toString().padStart(9, '0').replace(/0+$/, '')}`}Z`;
}

/** Drops the undefined fields (Go's `omitempty` for what BuildKit leaves unset). */
function compact(o: Json): Json {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

/** One batch as the JSON text buildx prints for it, without the final newline. */
export function rawJsonText(batch: StatusBatch, redact: (text: string) => string = (t) => t): string {
  const out: Json = {};
  if (batch.vertexes.length > 0) {
    out.vertexes = batch.vertexes.map((v) =>
      compact({
        digest: v.digest,
        inputs: v.inputs.length > 0 ? v.inputs : undefined,
        name: v.name === '' ? undefined : redact(v.name),
        started: goTime(v.started, v.startedNs),
        completed: goTime(v.completed, v.completedNs),
        cached: v.cached ? true : undefined,
        error: v.error === undefined || v.error === '' ? undefined : redact(v.error),
      }),
    );
  }
  if (batch.statuses.length > 0) {
    out.statuses = batch.statuses.map((s) =>
      compact({
        id: s.id,
        vertex: s.vertex === '' ? undefined : s.vertex,
        name: s.name === '' ? undefined : s.name,
        total: s.total === 0 ? undefined : s.total,
        current: s.current,
        timestamp: goTime(s.timestamp, s.timestampNs) ?? GO_ZERO_TIME,
        started: goTime(s.started, s.startedNs),
        completed: goTime(s.completed, s.completedNs),
      }),
    );
  }
  if (batch.logs.length > 0) {
    out.logs = batch.logs.map((l) =>
      compact({
        vertex: l.vertex === '' ? undefined : l.vertex,
        stream: l.stream === 0 ? undefined : l.stream,
        // []byte: base64, and never left out (an empty one is Go's nil)
        data: l.data.length === 0 ? null : Buffer.from(masked(l.data, redact)).toString('base64'),
        timestamp: goTime(l.timestamp, l.timestampNs) ?? GO_ZERO_TIME,
      }),
    );
  }
  // Go's encoder escapes these inside strings (the only place JSON has them)
  return JSON.stringify(out, null, 2).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A log's bytes with any secret masked: as they came unless masking changes the text. */
function masked(data: Uint8Array, redact: (text: string) => string): Uint8Array {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8');
  const out = redact(text);
  return out === text ? data : Buffer.from(out, 'utf8');
}

/** Writes each batch as its JSON object. */
export class RawJsonRenderer {
  constructor(
    private readonly sink: TextSink,
    private readonly redact?: (text: string) => string,
  ) {}

  handle(batch: StatusBatch): void {
    this.sink.write(`${rawJsonText(batch, this.redact)}\n`);
  }
}
