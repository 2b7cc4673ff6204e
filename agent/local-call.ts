// A gRPC call the agent serves itself (its own service) on an HTTP/2 stream of a connection
// it otherwise forwards: the response headers, framed messages with the stream's flow
// control, and the status in the trailers.
import type http2 from 'node:http2';
import { GrpcMessageReader, GrpcStatus, frameMessage, grpcMessageTrailer } from './grpc-frames.js';

export class LocalCall {
  private started = false;
  private finished = false;
  private readonly reader: GrpcMessageReader;
  private status: { code: number; message: string } = { code: GrpcStatus.OK, message: '' };

  constructor(
    readonly stream: http2.ServerHttp2Stream,
    onMessage: (message: Buffer) => void,
    onEnd: () => void,
  ) {
    this.reader = new GrpcMessageReader(undefined);
    stream.on('data', (chunk: Buffer) => {
      for (const m of this.reader.push(chunk)) onMessage(m);
      if (this.reader.failed !== undefined) this.fail(GrpcStatus.INVALID_ARGUMENT, `tracebuild agent: ${this.reader.failed.message}`);
    });
    stream.on('end', onEnd);
    stream.on('wantTrailers', () => {
      try {
        stream.sendTrailers({ 'grpc-status': String(this.status.code), 'grpc-message': grpcMessageTrailer(this.status.message) });
      } catch {
        stream.destroy();
      }
    });
  }

  get closed(): boolean {
    return this.finished || this.stream.destroyed || this.stream.closed;
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
  }

  /** Sends a message; false when the stream's buffer is full (wait for 'drain'). */
  send(message: Uint8Array): boolean {
    if (this.closed) return false;
    this.start();
    return this.stream.write(frameMessage(message));
  }

  /** Bytes written and not yet sent. */
  get buffered(): number {
    return this.stream.writableLength;
  }

  finish(): void {
    if (this.closed) return;
    this.finished = true;
    this.start();
    this.stream.end();
  }

  fail(code: number, message: string): void {
    if (this.closed) return;
    this.status = { code, message };
    this.finished = true;
    if (!this.started) {
      try {
        this.stream.respond(
          { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': grpcMessageTrailer(message) },
          { endStream: true },
        );
      } catch {
        this.stream.destroy();
      }
      return;
    }
    this.stream.end();
  }
}

/** Serves a unary call: one request message, one response (or a status). */
export function serveUnary(stream: http2.ServerHttp2Stream, handle: (request: Buffer) => Promise<Uint8Array>): void {
  let request: Buffer | undefined;
  const call = new LocalCall(
    stream,
    (m) => {
      request ??= m;
    },
    () => {
      if (call.closed) return;
      handle(request ?? Buffer.alloc(0)).then(
        (response) => {
          call.send(response);
          call.finish();
        },
        (err: unknown) => {
          const e = err as { grpcCode?: number; message?: string };
          call.fail(e.grpcCode ?? GrpcStatus.INTERNAL, e.message ?? String(err));
        },
      );
    },
  );
}

/** An error a local handler ends its call with. */
export class CallError extends Error {
  constructor(
    readonly grpcCode: number,
    message: string,
  ) {
    super(message);
  }
}
