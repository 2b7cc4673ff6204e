// The client side of a BuildKit session: a gRPC *server* we run, that the daemon calls
// back into for the build context (FileSync/DiffCopy), secrets and registry credentials,
// and Health/Check (polled every second; any failure makes the daemon drop the session).
// The HTTP/2 connection it runs on is opened by us but served by us:
// - dockerd: `POST /session` upgraded to h2c, after which dockerd is the HTTP/2 client;
// - standalone buildkitd: the Control.Session bidi stream, whose BytesMessages carry the
//   raw HTTP/2 bytes of that connection.
// Either way the connection is handed to grpc-js with a connection injector.
import { randomBytes } from 'node:crypto';
import { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { ServedFile } from './types.js';
import { grpcStatus, method, methodPaths, serviceDefinition, type Msg, type Rpc } from './rpc.js';
import { dial, upgradeH2c } from './dial.js';
import type { DialTarget } from './endpoint.js';
import { resolveRoot } from './walk.js';
import { sendContext, type Packet, type PacketStream } from './filesync.js';

const HEALTH = 'grpc.health.v1.Health';
const FILESYNC = 'moby.filesync.v1.FileSync';
const AUTH = 'moby.filesync.v1.Auth';
const SECRETS = 'moby.buildkit.secrets.v1.Secrets';

/** The only local directory a build may pull: the `local://context` source. */
export const CONTEXT_DIR_NAME = 'context';

export interface SessionOptions {
  contextDir: string;
  dockerignore: string[];
  secrets?: Record<string, Uint8Array>;
  onFileServed?: (file: ServedFile) => void;
  /** Called when the daemon's file transfer or another session call fails (for diagnostics). */
  onError?: (err: Error) => void;
  signal?: AbortSignal;
  /** Shown by the daemon as the session name. */
  name?: string;
}

export interface Session {
  readonly id: string;
  readonly sharedKey: string;
  close(): void;
}

/** A random identifier like BuildKit's: 25 characters of base-36-ish alphabet. */
export function newId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(25);
  let s = '';
  for (const b of bytes) s += alphabet[b % alphabet.length];
  return s;
}

/** Splits metadata values that Node's HTTP/2 layer joined with ", " for repeated headers. */
export function metadataList(md: grpc.Metadata, key: string): string[] | undefined {
  const values = md.get(key);
  if (values.length === 0) return undefined;
  const out: string[] = [];
  for (const v of values) out.push(...String(v).split(', '));
  return out;
}

function toPacketStream(call: grpc.ServerDuplexStream<Msg, Msg>): PacketStream {
  return {
    send: (packet: Packet) =>
      new Promise<void>((resolve, reject) => {
        if (call.destroyed || call.writableEnded) {
          reject(new Error('file transfer call closed'));
          return;
        }
        call.write(packet as Msg, (err?: Error | null) => (err ? reject(err) : resolve()));
      }),
    // Not `for await (… of call)`: leaving that loop destroys the call, which resets the
    // HTTP/2 stream instead of ending it with an OK status after our FIN.
    packets: call.iterator({ destroyOnReturn: false }) as AsyncIterable<Packet>,
  };
}

/** The session services as a grpc-js server (not yet attached to any connection). */
export function createSessionServer(opts: SessionOptions): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
  });
  let rootPromise: Promise<string> | undefined;

  server.addService(serviceDefinition(HEALTH), {
    Check: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, { status: 1 /* SERVING */ }),
  });

  server.addService(serviceDefinition(FILESYNC), {
    DiffCopy: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      const md = call.metadata;
      const dirName = metadataList(md, 'dir-name')?.[0] ?? '';
      if (dirName !== CONTEXT_DIR_NAME) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `no access allowed to dir "${dirName}"` });
        return;
      }
      const daemonExcludes = metadataList(md, 'exclude-patterns');
      // With `override-excludes: true` the daemon's excludes replace the client's own.
      const override = metadataList(md, 'override-excludes')?.[0] === 'true';
      rootPromise ??= resolveRoot(opts.contextDir);
      void rootPromise
        .then((root) =>
          sendContext(toPacketStream(call), {
            root,
            includePatterns: metadataList(md, 'include-patterns'),
            excludePatterns: daemonExcludes,
            followPaths: metadataList(md, 'followpaths'),
            dockerignore: override ? [] : opts.dockerignore,
            onFileServed: opts.onFileServed,
            signal: opts.signal,
          }),
        )
        .then(
          () => call.end(),
          (err: unknown) => {
            const e = err instanceof Error ? err : new Error(String(err));
            opts.onError?.(e);
            if (!call.destroyed) call.emit('error', { code: grpc.status.UNKNOWN, details: e.message });
          },
        );
    },
  });

  server.addService(serviceDefinition(SECRETS), {
    GetSecret: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      const id = String(call.request.ID ?? '');
      const secrets = opts.secrets ?? {};
      if (!Object.prototype.hasOwnProperty.call(secrets, id)) {
        cb({ code: grpc.status.NOT_FOUND, details: `secret ${id} not found` });
        return;
      }
      cb(null, { data: secrets[id] });
    },
  });

  // Anonymous registry access: empty credentials (BuildKit treats them as none).
  server.addService(serviceDefinition(AUTH), {
    Credentials: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, {}),
  });
  return server;
}

/** The headers dockerd and buildkitd read to register a session and what it serves. */
function sessionHeaders(id: string, sharedKey: string, name: string): [string, string][] {
  const headers: [string, string][] = [
    ['X-Docker-Expose-Session-Uuid', id],
    ['X-Docker-Expose-Session-Name', name],
    ['X-Docker-Expose-Session-Sharedkey', sharedKey],
  ];
  for (const svc of [HEALTH, FILESYNC, SECRETS, AUTH]) {
    for (const p of methodPaths(svc)) headers.push(['X-Docker-Expose-Session-Grpc-Method', p]);
  }
  return headers;
}

function sanitizeHeader(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '_');
}

/** Opens a session through dockerd: `POST /session`, then we serve on that socket. */
export async function openDockerSession(target: DialTarget, opts: SessionOptions): Promise<Session> {
  const id = newId();
  const sharedKey = newId();
  const server = createSessionServer(opts);
  const socket = await dial(target);
  try {
    await upgradeH2c(socket, '/session', sessionHeaders(id, sharedKey, sanitizeHeader(opts.name ?? 'tracebuild')));
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  // Over TLS (DOCKER_TLS_VERIFY), ALPN said HTTP/1.1: the upgrade is what made the
  // connection HTTP/2, and node's HTTP/2 server refuses a TLS socket that does not say so.
  if ('alpnProtocol' in socket) Object.defineProperty(socket, 'alpnProtocol', { value: 'h2', configurable: true, writable: true });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  injector.injectConnection(socket);
  socket.resume();
  let closed = false;
  return {
    id,
    sharedKey,
    close: () => {
      if (closed) return;
      closed = true;
      injector.destroy();
      server.forceShutdown();
      socket.destroy();
    },
  };
}

/**
 * Adapts a Control.Session bidi call to a byte stream: what grpc-js's HTTP/2 server
 * writes goes out as BytesMessage{data}, what arrives is read back as bytes.
 */
class BytesMessageDuplex extends Duplex {
  constructor(private readonly call: grpc.ClientDuplexStream<Msg, Msg>) {
    super();
    call.on('data', (m: Msg) => {
      const data = m.data as Uint8Array | undefined;
      if (data && data.length > 0 && !this.push(Buffer.from(data))) call.pause();
    });
    call.on('end', () => this.push(null));
    call.on('error', (err: Error) => this.destroy(err));
  }

  override _read(): void {
    this.call.resume();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.call.write({ data: chunk }, cb);
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.call.end();
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.call.cancel();
    cb(err);
  }
}

/** Opens a session on a standalone buildkitd: Control.Session carries the connection. */
export function openControlSession(rpc: Rpc, opts: SessionOptions): Session {
  const id = newId();
  const sharedKey = newId();
  const server = createSessionServer(opts);
  const headers = sessionHeaders(id, sharedKey, sanitizeHeader(opts.name ?? 'tracebuild'));
  const md = new grpc.Metadata();
  for (const [k, v] of headers) md.add(k.toLowerCase(), v);
  const m = method('moby.buildkit.v1.Control', 'Session');
  const call = rpc.client.makeBidiStreamRequest<Msg, Msg>(
    m.path,
    (v: Msg) => Buffer.from(m.requestType.encode(m.requestType.fromObject(v)).finish()),
    (b: Buffer) => m.responseType.toObject(m.responseType.decode(b)) as Msg,
    md,
    {},
  );
  call.on('error', (err) => {
    const st = grpcStatus(err);
    if (st && st.code !== grpc.status.CANCELLED) opts.onError?.(new Error(`session stream failed: ${st.details}`));
  });
  const duplex = new BytesMessageDuplex(call);
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  injector.injectConnection(duplex);
  let closed = false;
  return {
    id,
    sharedKey,
    close: () => {
      if (closed) return;
      closed = true;
      injector.destroy();
      server.forceShutdown();
      duplex.destroy();
    },
  };
}
