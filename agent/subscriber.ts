// The sending end of a Trace stream (protocol.ts): a tracebuild client's build's records,
// batched (one gRPC message per ~256 KiB or 10 ms), its gaps, and the answers to its pings.
// A client that does not read is not waited for: past a limit of bytes the stream holds,
// records are dropped and counted, and the loss reports it is sent say so (`output`).
import { abi, type MonitorGap, type TraceEvent } from '../tracer/index.js';
import type { LocalCall } from './local-call.js';
import { messages } from './protocol.js';
import { lossSlots, withLossSlots } from './records.js';

const BATCH_BYTES = 256 << 10;
const BATCH_MS = 10;
/** Bytes the stream may hold for a client that reads slowly before records are dropped. */
const MAX_BUFFERED_BYTES = 256 << 20;

export class TraceSubscriber {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Records not sent (the client read too slowly). */
  dropped = 0;
  private ended = false;

  constructor(private readonly call: LocalCall) {}

  get closed(): boolean {
    return this.ended || this.call.closed;
  }

  /** A record at `base` in `buf`, its u32 length just before it. */
  record(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void {
    if (this.closed) return;
    if (this.call.buffered > MAX_BUFFERED_BYTES) {
      this.dropped++;
      return;
    }
    let framed = buf.subarray(base - 4, base + len);
    if (ev?.kind === 'loss' && this.dropped > 0) {
      const slots = lossSlots(buf, base);
      slots[abi.Loss.Output] = (slots[abi.Loss.Output] ?? 0n) + BigInt(this.dropped);
      framed = withLossSlots(buf, base, len, slots);
    }
    this.batch.push(framed);
    this.batchBytes += framed.length;
    if (this.batchBytes >= BATCH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), BATCH_MS);
  }

  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batch.length === 0 || this.closed) return;
    const records = Buffer.concat(this.batch, this.batchBytes);
    this.batch = [];
    this.batchBytes = 0;
    this.call.send(messages.traceServer.encode({ records }));
  }

  gap(gap: MonitorGap): void {
    this.flush();
    if (this.closed) return;
    this.call.send(messages.traceServer.encode({ gap: { kind: gap.kind, fromMs: gap.fromMs, reason: gap.reason } }));
  }

  pong(seq: number): void {
    this.flush();
    if (this.closed) return;
    this.call.send(messages.traceServer.encode({ pong: { seq } }));
  }

  end(): void {
    this.flush();
    if (this.closed) return;
    this.ended = true;
    this.call.send(messages.traceServer.encode({ end: {} }));
    this.call.finish();
  }

  fail(code: number, message: string): void {
    clearTimeout(this.timer);
    this.ended = true;
    this.call.fail(code, message);
  }
}
