// gRPC's message framing on an HTTP/2 stream: each message is a 1-byte compressed flag, a
// u32 big-endian length and the message. The agent reads the messages of the calls it
// taps as they pass (without holding the stream back) and frames the messages of its own
// service.
import { gunzipSync } from 'node:zlib';

/** Messages larger than this are not decoded (the stream is still forwarded whole). */
export const MAX_TAPPED_MESSAGE_BYTES = 64 << 20;

export class GrpcFrameError extends Error {
  override readonly name = 'GrpcFrameError';
}

/**
 * Splits a stream's DATA into gRPC messages across arbitrary chunk boundaries. A compressed
 * message is inflated when the stream's encoding is gzip; another encoding, or a message
 * over the limit, makes the reader give up (`failed`): what it taps is then unknown, which
 * the caller must treat as such.
 */
export class GrpcMessageReader {
  private pending: Buffer = Buffer.alloc(0);
  private error: GrpcFrameError | undefined;

  constructor(
    private readonly encoding: string | undefined,
    private readonly maxBytes = MAX_TAPPED_MESSAGE_BYTES,
  ) {}

  get failed(): GrpcFrameError | undefined {
    return this.error;
  }

  push(chunk: Buffer): Buffer[] {
    if (this.error !== undefined) return [];
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    let off = 0;
    while (this.pending.length - off >= 5) {
      const compressed = this.pending[off] === 1;
      const len = this.pending.readUInt32BE(off + 1);
      if (len > this.maxBytes) {
        this.error = new GrpcFrameError(`a gRPC message of ${len} bytes is over the ${this.maxBytes} bytes this reader decodes`);
        this.pending = Buffer.alloc(0);
        return out;
      }
      if (this.pending.length - off - 5 < len) break;
      const body = this.pending.subarray(off + 5, off + 5 + len);
      off += 5 + len;
      if (!compressed) {
        out.push(Buffer.from(body));
        continue;
      }
      if (this.encoding !== 'gzip') {
        this.error = new GrpcFrameError(`a compressed gRPC message (${this.encoding ?? 'no grpc-encoding'}) cannot be read`);
        this.pending = Buffer.alloc(0);
        return out;
      }
      try {
        out.push(gunzipSync(body, { maxOutputLength: this.maxBytes }));
      } catch (cause) {
        this.error = new GrpcFrameError(`a gzip gRPC message does not inflate: ${(cause as Error).message}`);
        this.pending = Buffer.alloc(0);
        return out;
      }
    }
    this.pending = off === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(off));
    return out;
  }
}

/** One uncompressed gRPC message, framed. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

/** gRPC status codes the agent answers with. */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  NOT_FOUND: 5,
  PERMISSION_DENIED: 7,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A grpc-message trailer value, percent-encoded as the spec asks: every byte outside
 * printable ASCII, and `%` itself (clients decode it with decodeURI, which leaves other
 * escapes as they are). */
export function grpcMessageTrailer(message: string): string {
  let out = '';
  for (const b of Buffer.from(message.replace(/[\r\n]+/g, ' '), 'utf8')) {
    out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
