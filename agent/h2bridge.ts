// The agent's HTTP/2 forwarder. gRPC (BuildKit's Control and LLBBridge services, a session's
// FileSync, Auth, Secrets and Health) is forwarded generically, call by call: the agent
// terminates HTTP/2 on both sides, opens the same call on the other side with the same
// headers, and copies request and response DATA, then the trailers, with flow control
// (a slow side holds the other back rather than filling memory). That is what lets it read
// the calls it must know about as they pass (taps: whole gRPC messages, never changed), hold
// back the one it must approve first (gates: Control.Solve), and serve its own service on
// the same connections (local handlers). Anything it does not know is forwarded unread.
//
// Two roles, one code: `serverSide` is the connection whose peer is the HTTP/2 client and
// `clientSide` the one whose peer is the HTTP/2 server. For the BuildKit API, the peer on
// serverSide is the tenant's client and clientSide goes to the daemon; for a session
// (`POST /session`), the daemon is the HTTP/2 client and the tenant's client serves.
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import { GrpcMessageReader, GrpcStatus, grpcMessageTrailer } from './grpc-frames.js';
import type { ClientIdentity } from './identity.js';

const { NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM, NGHTTP2_NO_ERROR, NGHTTP2_INTERNAL_ERROR } = http2.constants;

/** Per-stream and per-connection receive windows: large enough for a build context. */
const STREAM_WINDOW = 4 << 20;
const SESSION_WINDOW = 32 << 20;
const H2_SETTINGS: http2.Settings = { initialWindowSize: STREAM_WINDOW, enablePush: false };
const MAX_SESSION_MEMORY_MB = 256;

/** A connection's end as peers end them: not worth a line in the log. Go's gRPC client
 * ends with a GOAWAY that nghttp2, as a server, calls a protocol error. */
function ordinaryEnd(err: Error & { code?: string }): boolean {
  return ['ERR_HTTP2_ERROR', 'ECONNRESET', 'EPIPE', 'ERR_HTTP2_SESSION_ERROR', 'ERR_STREAM_PREMATURE_CLOSE'].includes(err.code ?? '');
}

export interface CallContext {
  /** `/package.Service/Method`. */
  path: string;
  headers: http2.IncomingHttpHeaders;
  /** The headers field by field (repeated names kept apart). */
  rawHeaders: readonly string[];
  /** The tenant whose connection this call belongs to. */
  identity: ClientIdentity;
}

/** Reads a forwarded call's messages; never changes them. */
export interface CallTap {
  /** Each message the caller sent. */
  request?(message: Buffer): void;
  /** Each message the callee answered. */
  response?(message: Buffer): void;
  /** The call ended: its gRPC status (code undefined when the stream was reset). */
  end?(status: { code: number | undefined; message: string }): void;
  /** The messages of one direction could not be read (compressed with an unknown encoding, too large). */
  unreadable?(reason: string): void;
}

/** A gRPC status to end a call with, instead of forwarding it. */
export interface Refusal {
  code: number;
  message: string;
}

export type LocalHandler = (stream: http2.ServerHttp2Stream, ctx: CallContext) => void;

export interface BridgeHooks {
  /** Serves the call here instead of forwarding it (the agent's own service). */
  local?(ctx: CallContext): LocalHandler | undefined;
  /** For calls that must be approved from their first request message before they are forwarded. */
  gate?(ctx: CallContext): ((first: Buffer) => Promise<Refusal | undefined>) | undefined;
  tap?(ctx: CallContext): CallTap | undefined;
  /** What the other side is, for messages ("the daemon at unix:///var/run/docker.sock"). */
  describeClientSide: string;
  /** Take the client side over at once, not on the first call (a peer that speaks first). */
  eagerClientSide?: boolean;
  log?(line: string): void;
}

export interface H2Bridge {
  /** Both sides are closed. */
  readonly closed: Promise<void>;
  close(): void;
}

function copyHeaders(headers: http2.IncomingHttpHeaders, keep: (name: string) => boolean): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined || !keep(k)) continue;
    out[k] = v;
  }
  return out;
}

/**
 * Headers as they came, field by field: a name sent several times stays several fields.
 * (node's header object joins repeated fields with ", ", and gRPC metadata such as a
 * session's `followpaths` is a list of fields whose values may themselves hold ", ".)
 */
function rawHeaders(raw: readonly string[] | undefined, parsed: http2.IncomingHttpHeaders, keep: (name: string) => boolean): http2.OutgoingHttpHeaders {
  if (raw === undefined || raw.length === 0) return copyHeaders(parsed, keep);
  const out: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = (raw[i] as string).toLowerCase();
    const v = raw[i + 1] as string;
    if (!keep(k)) continue;
    const prev = out[k];
    out[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

const REQUEST_PSEUDO = new Set([':method', ':path', ':authority', ':scheme']);
const isRequestHeader = (k: string): boolean => !k.startsWith(':') || REQUEST_PSEUDO.has(k);
const isResponseHeader = (k: string): boolean => !k.startsWith(':') || k === ':status';

function statusOf(headers: http2.IncomingHttpHeaders | undefined): { code: number | undefined; message: string } {
  const raw = headers?.['grpc-status'];
  const code = raw === undefined ? undefined : Number(raw);
  const msg = headers?.['grpc-message'];
  let message = typeof msg === 'string' ? msg : '';
  try {
    message = decodeURIComponent(message);
  } catch {
    // keep it as sent
  }
  return { code: Number.isFinite(code) ? code : undefined, message };
}

/** Ends a call that was not forwarded with a gRPC status (a trailers-only response). */
export function respondStatus(stream: http2.ServerHttp2Stream, code: number, message: string): void {
  if (stream.destroyed || stream.closed) return;
  try {
    if (!stream.headersSent) {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': grpcMessageTrailer(message) }, { endStream: true });
    } else {
      stream.close(NGHTTP2_INTERNAL_ERROR);
    }
  } catch {
    stream.destroy();
  }
}

/**
 * Bridges `serverSide` (whose peer is the HTTP/2 client) to the connection `openClientSide`
 * gives (whose peer is the HTTP/2 server), opened on the first call that is forwarded.
 */
export function bridgeH2(serverSide: Duplex, openClientSide: () => Promise<Duplex>, identity: ClientIdentity, hooks: BridgeHooks): H2Bridge {
  let upstream: Promise<http2.ClientHttp2Session> | undefined;
  let upSession: http2.ClientHttp2Session | undefined;
  let downSession: http2.ServerHttp2Session | undefined;
  let closing = false;
  let downClosed = false;
  let upClosed = false;
  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((r) => (resolveClosed = r));
  const settle = (): void => {
    if (downClosed && (upstream === undefined || upClosed)) resolveClosed();
  };

  const close = (): void => {
    if (closing) return;
    closing = true;
    if (downSession && !downSession.destroyed) downSession.close();
    else serverSide.destroy();
    if (upSession && !upSession.destroyed) upSession.close();
    // a session that does not close gracefully in time is destroyed
    setTimeout(() => {
      downSession?.destroy();
      upSession?.destroy();
      serverSide.destroy();
    }, 5_000).unref();
  };

  const clientSession = (): Promise<http2.ClientHttp2Session> => {
    upstream ??= openClientSide().then(
      (socket) =>
        new Promise<http2.ClientHttp2Session>((resolve, reject) => {
          const s = http2.connect('http://upstream', {
            createConnection: () => socket,
            settings: H2_SETTINGS,
            maxSessionMemory: MAX_SESSION_MEMORY_MB,
          });
          upSession = s;
          s.on('error', (err) => {
            if (!ordinaryEnd(err)) hooks.log?.(`${hooks.describeClientSide}: ${err.message}`);
          });
          s.once('connect', () => {
            try {
              s.setLocalWindowSize(SESSION_WINDOW);
            } catch {
              // a window we cannot raise only slows transfers
            }
            resolve(s);
          });
          s.once('close', () => {
            reject(new Error(`${hooks.describeClientSide} closed the connection`));
            upClosed = true;
            settle();
            close();
          });
        }),
      (err: Error) => {
        upClosed = true;
        settle();
        throw err;
      },
    );
    return upstream;
  };

  const server = http2.createServer({ settings: H2_SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY_MB });
  server.on('session', (session: http2.ServerHttp2Session) => {
    downSession = session;
    try {
      session.setLocalWindowSize(SESSION_WINDOW);
    } catch {
      // as above
    }
    session.on('error', (err) => {
      if (!ordinaryEnd(err)) hooks.log?.(`${identity.peer}: ${err.message}`);
    });
    session.once('close', () => {
      downClosed = true;
      settle();
      close();
    });
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, raw: string[] | undefined) => {
    stream.on('error', () => undefined);
    const ctx: CallContext = { path: String(headers[':path'] ?? ''), headers, rawHeaders: raw ?? [], identity };
    const local = hooks.local?.(ctx);
    if (local !== undefined) {
      local(stream, ctx);
      return;
    }
    forward(stream, ctx);
  });

  const forward = (stream: http2.ServerHttp2Stream, ctx: CallContext): void => {
    const gate = hooks.gate?.(ctx);
    const tap = hooks.tap?.(ctx);
    const encoding = typeof ctx.headers['grpc-encoding'] === 'string' ? ctx.headers['grpc-encoding'] : undefined;
    const reqReader = tap?.request !== undefined || gate !== undefined ? new GrpcMessageReader(encoding) : undefined;
    let tapReported = false;
    const unreadable = (reader: GrpcMessageReader): void => {
      if (reader.failed !== undefined && !tapReported) {
        tapReported = true;
        tap?.unreadable?.(reader.failed.message);
      }
    };
    let req: http2.ClientHttp2Stream | undefined;
    let downDone = false;
    const held: Buffer[] = [];
    let heldEnd = false;
    let gated = gate === undefined;
    let ended = false;
    const endTap = (status: { code: number | undefined; message: string }): void => {
      if (ended) return;
      ended = true;
      tap?.end?.(status);
    };

    const pumpRequest = (chunk: Buffer): void => {
      if (req === undefined || req.destroyed) return;
      if (!req.write(chunk)) {
        stream.pause();
        req.once('drain', () => stream.resume());
      }
    };

    const startUpstream = (up: http2.ClientHttp2Session): void => {
      if (downDone || stream.destroyed) return;
      let r: http2.ClientHttp2Stream;
      try {
        r = up.request(rawHeaders(ctx.rawHeaders, ctx.headers, isRequestHeader), { endStream: false });
      } catch (err) {
        respondStatus(stream, GrpcStatus.UNAVAILABLE, `tracebuild agent: cannot forward ${ctx.path} to ${hooks.describeClientSide}: ${(err as Error).message}`);
        return;
      }
      req = r;
      r.on('error', () => undefined);
      let trailers: http2.IncomingHttpHeaders | undefined;
      let responded = false;
      let resReader: GrpcMessageReader | undefined;
      r.on('response', (headers, flags, raw: string[] | undefined) => {
        if (tap?.response !== undefined) {
          const enc = headers['grpc-encoding'];
          resReader = new GrpcMessageReader(typeof enc === 'string' ? enc : undefined);
        }
        if (stream.destroyed || stream.closed) return;
        if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
          endTap(statusOf(headers));
          try {
            stream.respond(rawHeaders(raw, headers, isResponseHeader), { endStream: true });
          } catch {
            stream.destroy();
          }
          return;
        }
        try {
          stream.respond(rawHeaders(raw, headers, isResponseHeader), { waitForTrailers: true });
          responded = true;
        } catch {
          stream.destroy();
        }
      });
      r.on('trailers', (t) => {
        trailers = t;
      });
      stream.on('wantTrailers', () => {
        const t = trailers === undefined ? { 'grpc-status': String(GrpcStatus.UNAVAILABLE), 'grpc-message': grpcMessageTrailer(`tracebuild agent: ${hooks.describeClientSide} ended the call without a status`) } : copyHeaders(trailers, (k) => !k.startsWith(':'));
        try {
          stream.sendTrailers(t);
        } catch {
          stream.destroy();
        }
      });
      r.on('data', (chunk: Buffer) => {
        if (resReader !== undefined) {
          for (const m of resReader.push(chunk)) tap?.response?.(m);
          unreadable(resReader);
        }
        if (stream.destroyed || stream.closed) return;
        if (!stream.write(chunk)) {
          r.pause();
          stream.once('drain', () => r.resume());
        }
      });
      r.on('end', () => {
        endTap(statusOf(trailers));
        if (responded && !stream.destroyed) stream.end();
      });
      r.on('close', () => {
        if (!ended) endTap({ code: undefined, message: `reset (${r.rstCode})` });
        if (stream.destroyed || stream.closed) return;
        if (!responded && !stream.headersSent) {
          respondStatus(stream, GrpcStatus.UNAVAILABLE, `tracebuild agent: ${hooks.describeClientSide} reset the call ${ctx.path} (HTTP/2 error ${r.rstCode})`);
        } else if (r.rstCode !== undefined && r.rstCode !== NGHTTP2_NO_ERROR) {
          stream.close(r.rstCode);
        }
      });
      for (const chunk of held) pumpRequest(chunk);
      held.length = 0;
      if (heldEnd) r.end();
    };

    stream.on('data', (chunk: Buffer) => {
      if (reqReader !== undefined) {
        const messages = reqReader.push(chunk);
        unreadable(reqReader);
        for (const m of messages) tap?.request?.(m);
        if (!gated) {
          const first = messages[0];
          if (first !== undefined || reqReader.failed !== undefined) {
            gated = true;
            held.push(chunk);
            stream.pause();
            const verdict = first === undefined ? Promise.resolve<Refusal | undefined>({ code: GrpcStatus.INVALID_ARGUMENT, message: `tracebuild agent: cannot read the request of ${ctx.path}` }) : (gate as (b: Buffer) => Promise<Refusal | undefined>)(first);
            verdict.then(
              (refusal) => {
                if (refusal !== undefined) {
                  endTap({ code: refusal.code, message: refusal.message });
                  respondStatus(stream, refusal.code, refusal.message);
                  return;
                }
                stream.resume();
                clientSession().then(startUpstream, (err: Error) => {
                  endTap({ code: GrpcStatus.UNAVAILABLE, message: err.message });
                  respondStatus(stream, GrpcStatus.UNAVAILABLE, `tracebuild agent: ${hooks.describeClientSide} cannot be reached: ${err.message}`);
                });
              },
              (err: Error) => respondStatus(stream, GrpcStatus.INTERNAL, `tracebuild agent: ${err.message}`),
            );
            return;
          }
        }
      }
      if (req === undefined) held.push(chunk);
      else pumpRequest(chunk);
    });
    stream.on('end', () => {
      if (req === undefined) heldEnd = true;
      else req.end();
    });
    stream.on('close', () => {
      downDone = true;
      if (req !== undefined && !req.destroyed && !req.closed) req.close(NGHTTP2_CANCEL);
      if (!ended) endTap({ code: GrpcStatus.CANCELLED, message: 'the caller went away' });
    });
    if (gated) {
      clientSession().then(startUpstream, (err: Error) => {
        endTap({ code: GrpcStatus.UNAVAILABLE, message: err.message });
        respondStatus(stream, GrpcStatus.UNAVAILABLE, `tracebuild agent: ${hooks.describeClientSide} cannot be reached: ${err.message}`);
      });
    }
  };

  if (hooks.eagerClientSide === true) void clientSession().catch(() => undefined);
  serverSide.on('error', () => undefined);
  serverSide.once('close', () => {
    downClosed = true;
    settle();
    close();
  });
  server.emit('connection', serverSide);
  return { closed, close };
}
