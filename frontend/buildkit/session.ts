// The client side of a BuildKit session: a gRPC *server* we run, that the daemon calls
// back into for the build context (FileSync/DiffCopy), secrets and registry credentials,
// and Health/Check (polled every second; any failure makes the daemon drop the session).
// The HTTP/2 connection it runs on is opened by us but served by us:
// - dockerd: `POST /session` upgraded to h2c, after which dockerd is the HTTP/2 client;
// - standalone buildkitd: the Control.Session bidi stream, whose BytesMessages carry the
//   raw HTTP/2 bytes of that connection.
// Either way the connection is handed to grpc-js with a connection injector.
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Duplex } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import type { RegistryAuthProvider, ServedFile } from './types.js';
import { grpcStatus, method, methodPaths, serviceDefinition, type Msg, type Rpc } from './rpc.js';
import { dial, upgradeH2c } from './dial.js';
import type { DialTarget } from './endpoint.js';
import { resolveRoot } from './walk.js';
import { sendContext, type Packet, type PacketStream } from './filesync.js';
import type { SessionService } from './session-service.js';
import { authServiceHandlers } from './session-auth.js';
import type { ExportTarget } from './types.js';
import { FILESEND_DIFFCOPY, fileSendDefinition, fileSendHandlers } from './filesend.js';

const HEALTH = 'grpc.health.v1.Health';
const FILESYNC = 'moby.filesync.v1.FileSync';
const AUTH = 'moby.filesync.v1.Auth';
const SECRETS = 'moby.buildkit.secrets.v1.Secrets';

/** The build context's local directory (`local://context`); others come from `localDirs`. */
export const CONTEXT_DIR_NAME = 'context';

export interface SessionOptions {
  contextDir: string;
  dockerignore: string[];
  secrets?: Record<string, Uint8Array>;
  /** Other local directories a build may pull by name (`--build-context NAME=DIR`). */
  localDirs?: Readonly<Record<string, { dir: string; dockerignore: string[] }>>;
  /** Services served besides the session's own (SSH agents, OCI layouts). */
  services?: readonly SessionService[];
  registryAuth?: RegistryAuthProvider;
  onFileServed?: (file: ServedFile) => void;
  /** Called when the daemon's file transfer or another session call fails (for diagnostics). */
  onError?: (err: Error) => void;
  signal?: AbortSignal;
  /** Where exported results are written (FileSend), by exporter index; none: not served. */
  exportTargets?: ReadonlyMap<number, ExportTarget>;
  /** Shown by the daemon as the session name. */
  name?: string;
  /** The daemon's key for its copy of the context (see GatewaySolveRequest.onFileServed); default: new. */
  sharedKey?: string;
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

/**
 * The values of a repeated header as the daemon sent them. Node's HTTP/2 layer joins
 * repeated headers with ", ", which cannot be split back when a value holds ", " itself;
 * the session server keeps each request's raw header list (RawHeaderLists), so the joined
 * string is looked up there, and only split where it is not known.
 */
export class RawHeaderLists {
  private readonly lists = new Map<string, string[]>();
  /** Set once the raw headers of the server's requests are being recorded. */
  active = false;

  /** Records the repeated headers of one request (Node's `rawHeaders`: name, value, ...). */
  record(rawHeaders: readonly string[]): void {
    const byKey = new Map<string, string[]>();
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const key = String(rawHeaders[i]).toLowerCase();
      if (key.startsWith(':')) continue;
      const list = byKey.get(key) ?? [];
      list.push(String(rawHeaders[i + 1]));
      byKey.set(key, list);
    }
    for (const [key, list] of byKey) if (list.length > 1) this.lists.set(`${key}\0${list.join(', ')}`, list);
  }

  /** The values a joined header stood for, if recorded. */
  lookup(key: string, joined: string): string[] | undefined {
    return this.lists.get(`${key}\0${joined}`);
  }
}

/**
 * A metadata list as the daemon sent it: repeated headers separated again (raw, see
 * RawHeaderLists), then decoded where the daemon says it URL-escaped them
 * (`<key>-encoded: 1`, which BuildKit v0.12+ sends for values with non-ASCII characters:
 * then every value of the key is escaped, so ", " inside one cannot be mistaken).
 */
export function metadataList(md: grpc.Metadata, key: string, raw?: RawHeaderLists): string[] | undefined {
  const values = md.get(key);
  if (values.length === 0) return undefined;
  const encoded = md.get(`${key}-encoded`).some((v) => ['1', 't', 'true', 'TRUE', 'True', 'T'].includes(String(v)));
  const out: string[] = [];
  for (const v of values) {
    const joined = String(v);
    const known = raw?.lookup(key, joined);
    if (known) out.push(...known);
    else if (encoded || raw?.active !== true) out.push(...joined.split(', ')); // escaped values hold no ", "
    else out.push(joined); // recorded requests: not a list, so one header
  }
  return encoded ? out.map(queryUnescape) : out;
}

/**
 * Records the raw headers of every request the server's injected connections carry
 * (grpc-js keeps its HTTP/2 servers in a private map; where that is not there, nothing is
 * recorded and lists are split at ", " as before).
 */
export function recordRawHeaders(server: grpc.Server, raw: RawHeaderLists): void {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map)) return;
  for (const h2 of servers.keys() as IterableIterator<unknown>) {
    if (!(h2 instanceof EventEmitter)) continue;
    h2.prependListener('stream', (_stream: unknown, _headers: unknown, _flags: unknown, rawHeaders: unknown) => {
      if (Array.isArray(rawHeaders)) raw.record(rawHeaders.map(String));
    });
    raw.active = true;
  }
}

/** Go's url.QueryUnescape (`+` is a space; a bad escape leaves the value as it is, as the
 * daemon's own decoder ignores the error). */
export function queryUnescape(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** Bytes of DiffCopy packets a sender may have handed to the call before their writes
 * completed; past it, it waits. */
const SEND_BUDGET = 1 << 20;

function toPacketStream(call: grpc.ServerDuplexStream<Msg, Msg>): PacketStream {
  // Flow control by bytes not yet written, as fsutil's SendMsg blocks on HTTP/2 flow
  // control. Waiting for each packet's write took an event-loop turn per packet (~1 ms per
  // context entry on a busy machine), and the call's own buffer (16 packets, whatever
  // their size) one turn per 16 STATs: 631 waits, 2.1 s of a 2.8 s transfer of 10,000
  // files' STATs on a busy machine.
  let pending = 0;
  let failed: Error | undefined;
  const waiters: (() => void)[] = [];
  const wake = (): void => {
    for (const w of waiters.splice(0)) w();
  };
  call.once('close', () => {
    failed ??= new Error('file transfer call closed');
    wake();
  });
  return {
    send: (packet: Packet) => {
      if (failed) return Promise.reject(failed);
      if (call.destroyed || call.writableEnded) return Promise.reject(new Error('file transfer call closed'));
      const size = 64 + (packet.data?.length ?? 0) + (packet.stat?.path.length ?? 0) + (packet.stat?.linkname.length ?? 0);
      pending += size;
      call.write(packet as Msg, (err?: Error | null) => {
        pending -= size;
        if (err) failed ??= err;
        if (pending < SEND_BUDGET || failed) wake();
      });
      if (pending < SEND_BUDGET) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (failed) reject(failed);
          else if (pending < SEND_BUDGET) resolve();
          else waiters.push(check);
        };
        waiters.push(check);
      });
    },
    // Not `for await (… of call)`: leaving that loop destroys the call, which resets the
    // HTTP/2 stream instead of ending it with an OK status after our FIN.
    packets: call.iterator({ destroyOnReturn: false }) as AsyncIterable<Packet>,
  };
}

/** The session services as a grpc-js server (not yet attached to any connection). */
export function createSessionServer(opts: SessionOptions, raw = new RawHeaderLists()): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
  });
  const roots = new Map<string, Promise<string>>();

  server.addService(serviceDefinition(HEALTH), {
    Check: (_call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => cb(null, { status: 1 /* SERVING */ }),
  });

  server.addService(serviceDefinition(FILESYNC), {
    DiffCopy: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      const md = call.metadata;
      const dirName = metadataList(md, 'dir-name', raw)?.[0] ?? '';
      const local =
        dirName === CONTEXT_DIR_NAME
          ? { dir: opts.contextDir, dockerignore: opts.dockerignore }
          : opts.localDirs !== undefined && Object.hasOwn(opts.localDirs, dirName)
            ? opts.localDirs[dirName]
            : undefined;
      if (local === undefined) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `no access allowed to dir "${dirName}"` });
        return;
      }
      const daemonExcludes = metadataList(md, 'exclude-patterns', raw);
      // With `override-excludes: true` the daemon's excludes replace the client's own.
      const override = metadataList(md, 'override-excludes', raw)?.[0] === 'true';
      let rootPromise = roots.get(dirName);
      if (rootPromise === undefined) roots.set(dirName, (rootPromise = resolveRoot(local.dir)));
      void rootPromise
        .then((root) =>
          sendContext(toPacketStream(call), {
            root,
            includePatterns: metadataList(md, 'include-patterns', raw),
            excludePatterns: daemonExcludes,
            followPaths: metadataList(md, 'followpaths', raw),
            dockerignore: override ? [] : local.dockerignore,
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

  server.addService(serviceDefinition(AUTH), authServiceHandlers(opts.registryAuth));
  for (const service of opts.services ?? []) server.addService(serviceDefinition(service.name), service.handlers);
  if (opts.exportTargets !== undefined && opts.exportTargets.size > 0) {
    server.addService(fileSendDefinition, fileSendHandlers({ targets: opts.exportTargets, ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onError ? { onError: opts.onError } : {}) }));
  }
  return server;
}

/** The headers dockerd and buildkitd read to register a session and what it serves. */
function sessionHeaders(id: string, sharedKey: string, name: string, extra: readonly SessionService[] = [], exports = false): [string, string][] {
  const headers: [string, string][] = [
    ['X-Docker-Expose-Session-Uuid', id],
    ['X-Docker-Expose-Session-Name', name],
    ['X-Docker-Expose-Session-Sharedkey', sharedKey],
  ];
  for (const svc of [HEALTH, FILESYNC, SECRETS, AUTH, ...extra.map((s) => s.name)]) {
    for (const p of methodPaths(svc)) headers.push(['X-Docker-Expose-Session-Grpc-Method', p]);
  }
  // FileSend only when there is somewhere to write: the daemon asks whether it is served.
  if (exports) headers.push(['X-Docker-Expose-Session-Grpc-Method', FILESEND_DIFFCOPY]);
  return headers;
}

function sanitizeHeader(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '_');
}

/** Opens a session through dockerd: `POST /session`, then we serve on that socket. */
export async function openDockerSession(target: DialTarget, opts: SessionOptions): Promise<Session> {
  const id = newId();
  const sharedKey = opts.sharedKey ?? newId();
  const raw = new RawHeaderLists();
  const server = createSessionServer(opts, raw);
  const socket = await dial(target);
  try {
    await upgradeH2c(socket, '/session', sessionHeaders(id, sharedKey, sanitizeHeader(opts.name ?? 'tracebuild'), opts.services, (opts.exportTargets?.size ?? 0) > 0));
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  // Over TLS (DOCKER_TLS_VERIFY), ALPN said HTTP/1.1: the upgrade is what made the
  // connection HTTP/2, and node's HTTP/2 server refuses a TLS socket that does not say so.
  if ('alpnProtocol' in socket) Object.defineProperty(socket, 'alpnProtocol', { value: 'h2', configurable: true, writable: true });
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  recordRawHeaders(server, raw);
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
  const sharedKey = opts.sharedKey ?? newId();
  const raw = new RawHeaderLists();
  const server = createSessionServer(opts, raw);
  const headers = sessionHeaders(id, sharedKey, sanitizeHeader(opts.name ?? 'tracebuild'), opts.services, (opts.exportTargets?.size ?? 0) > 0);
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
  recordRawHeaders(server, raw);
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
