// The agent's listener: TCP with mutual TLS, one port for everything a client of the daemon
// needs. After the handshake (only certificates the client CA signed get through), ALPN
// says what the connection speaks:
//   h2        gRPC: BuildKit's API (BUILDKIT_HOST=tcp://...) and the agent's own service;
//   HTTP/1.1  the Engine API of the dockerd behind (DOCKER_HOST=tcp://...), forwarded request
//             by request; `POST /grpc` and `POST /session` upgrades are terminated and
//             bridged as HTTP/2 (h2bridge.ts) so that the agent can read the build calls
//             and the session; other upgrades (attach, exec) are piped as they are.
// With `--engine-api build` (the default) only what builds need is forwarded: a tenant with
// the whole Engine API could run a privileged container on the builder and read or rewrite
// anything there, other tenants' builds and this agent included.
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type net from 'node:net';
import tls, { type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { describeTarget } from '../common/index.js';
import { JsonMessageSplitter } from '../engine/index.js';
import { upgradeH2c } from '../frontend/index.js';
import { AgentError } from './errors.js';
import { bridgeH2, type BridgeHooks } from './h2bridge.js';
import { describeIdentity, identityOf, type ClientIdentity, type ServerTlsMaterial } from './identity.js';
import type { Upstream } from './upstream.js';

export type EngineApiMode = 'build' | 'all';

/** What the agent core does with each kind of connection. */
export interface ConnectionHandlers {
  /** A connection carrying BuildKit's gRPC API: the tenant is the HTTP/2 client. */
  grpc(identity: ClientIdentity): Omit<BridgeHooks, 'describeClientSide'>;
  /** A session connection (`POST /session`): the daemon is the HTTP/2 client, the tenant serves. */
  session(identity: ClientIdentity, sessionId: string): Omit<BridgeHooks, 'describeClientSide'>;
  /**
   * dockerd pushed `repository:tag` for this client (`POST /images/{name}/push`): the manifest
   * digest it reported. The client's push answer ends when the returned promise settles.
   */
  pushed?(identity: ClientIdentity, repository: string, tag: string, digest: string): Promise<void>;
}

export interface AgentServerOptions {
  host: string;
  port: number;
  tls: ServerTlsMaterial;
  upstream: Upstream;
  handlers: ConnectionHandlers;
  engineApi: EngineApiMode;
  log(line: string): void;
}

export interface AgentServer {
  /** Where it listens (the port chosen when 0 was asked). */
  readonly host: string;
  readonly port: number;
  close(): Promise<void>;
}

/** An Engine API path without its `/v1.NN` prefix. */
export function unversioned(url: string): { path: string; query: string } {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).replace(/^\/v\d+(\.\d+)?(?=\/)/, '');
  return { path, query: q < 0 ? '' : url.slice(q) };
}

const BUILD_ENGINE_API: readonly { method: RegExp; path: RegExp }[] = [
  { method: /^(GET|HEAD)$/, path: /^\/_ping$/ },
  { method: /^GET$/, path: /^\/(version|info)$/ },
  { method: /^POST$/, path: /^\/(grpc|session)$/ },
  { method: /^GET$/, path: /^\/images\/json$/ },
  { method: /^GET$/, path: /^\/images\/.+\/json$/ },
  { method: /^POST$/, path: /^\/images\/.+\/push$/ },
  { method: /^GET$/, path: /^\/distribution\/.+\/json$/ },
];

/** Whether `--engine-api build` forwards this request. */
export function buildEngineApiAllows(method: string, url: string): boolean {
  const { path } = unversioned(url);
  return BUILD_ENGINE_API.some((r) => r.method.test(method) && r.path.test(path));
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

/** Raw headers (name, value, name, value...) without the hop-by-hop ones. */
function endToEnd(raw: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!HOP_BY_HOP.has((raw[i] as string).toLowerCase())) out.push(raw[i] as string, raw[i + 1] as string);
  }
  return out;
}

function headerPairs(raw: readonly string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i] as string, raw[i + 1] as string]);
  return out;
}

function refuseHttp(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ message });
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
}

/** Why the TLS handshake of a client failed, in a few words. */
export function tlsRefusal(err: Error & { code?: string; reason?: string }): string {
  const code = err.code ?? '';
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE') return 'it sent no client certificate (none signed by the client CA)';
  if (/CERTIFICATE_VERIFY_FAILED|UNKNOWN_CA|UNABLE_TO_GET_ISSUER|SELF_SIGNED/.test(code) || /certificate verify failed/i.test(err.message)) {
    return `its certificate is not signed by the client CA (${err.reason ?? code})`;
  }
  if (/REVOKED/.test(code) || /revoked/i.test(err.message)) return 'its certificate is revoked (--client-crl)';
  if (/EXPIRED|NOT_YET_VALID/.test(code)) return `its certificate is not valid now (${code})`;
  return `${code === '' ? '' : `${code}: `}${err.reason ?? err.message.split('\n')[0]}`;
}

export async function startAgentServer(o: AgentServerOptions): Promise<AgentServer> {
  const upstreamName = `the daemon at ${describeTarget(o.upstream.target)}`;
  const identities = new WeakMap<net.Socket, ClientIdentity>();
  const live = new Set<Duplex>();
  const track = (s: Duplex): void => {
    live.add(s);
    s.once('close', () => live.delete(s));
  };

  const httpServer = http.createServer({ requestTimeout: 0, keepAliveTimeout: 60_000 });
  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const identity = identities.get(req.socket);
    if (identity === undefined) return refuseHttp(res, 403, 'tracebuild agent: no client certificate');
    if (o.upstream.kind !== 'docker') {
      return refuseHttp(res, 501, `tracebuild agent: it fronts a buildkitd (${o.upstream.address}), not dockerd: use BUILDKIT_HOST=tcp://... rather than DOCKER_HOST`);
    }
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    if (o.engineApi === 'build' && !buildEngineApiAllows(method, url)) {
      o.log(`refused ${method} ${unversioned(url).path} from ${describeIdentity(identity)} (--engine-api build)`);
      return refuseHttp(res, 403, `tracebuild agent: ${method} ${unversioned(url).path} is not forwarded to the daemon (the agent runs with --engine-api build: only what builds need is)`);
    }
    const target = o.upstream.target;
    const up = http.request(
      {
        ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
        method,
        path: url,
        headers: headerPairs(endToEnd(req.rawHeaders)).reduce<Record<string, string | string[]>>((h, [k, v]) => {
          const prev = h[k];
          h[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
          return h;
        }, {}),
        agent: false,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.statusMessage, endToEnd(upRes.rawHeaders));
        res.flushHeaders();
        const push = method === 'POST' && upRes.statusCode === 200 ? /^\/images\/(.+)\/push$/.exec(unversioned(url).path) : null;
        if (push !== null && o.handlers.pushed !== undefined) {
          // The push's message stream ends with the manifest digest (aux.Digest).
          const repository = decodeURIComponent(push[1] as string);
          const tag = new URLSearchParams(unversioned(url).query.replace(/^\?/, '')).get('tag') || 'latest';
          const splitter = new JsonMessageSplitter();
          let digest: string | undefined;
          const read = (messages: ReturnType<JsonMessageSplitter['push']>): void => {
            for (const m of messages) if (typeof m.aux?.Digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(m.aux.Digest)) digest = m.aux.Digest;
          };
          upRes.on('data', (chunk: Buffer) => read(splitter.push(chunk.toString('utf8'))));
          // The answer ends only once the builder's trace is attached: a client that attaches
          // its own attestations next (tracebuild --push --key) then cannot race the agent on
          // a registry's tag-schema referrers index, where the last writer would win.
          upRes.on('end', () => {
            read(splitter.end());
            const attached = digest === undefined ? Promise.resolve() : (o.handlers.pushed?.(identity, repository, tag, digest) ?? Promise.resolve());
            void attached.finally(() => res.end());
          });
          upRes.pipe(res, { end: false });
          return;
        }
        upRes.pipe(res);
      },
    );
    up.on('error', (err: NodeJS.ErrnoException) => refuseHttp(res, 502, `tracebuild agent: ${upstreamName} does not answer: ${err.code ?? err.message}`));
    res.on('close', () => {
      if (!res.writableFinished) up.destroy();
    });
    req.pipe(up);
  });

  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const identity = identities.get(req.socket);
    socket.on('error', () => undefined);
    if (identity === undefined) return refuseUpgrade(socket, 403, 'tracebuild agent: no client certificate');
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const { path } = unversioned(url);
    if (o.upstream.kind !== 'docker') return refuseUpgrade(socket, 501, `tracebuild agent: it fronts a buildkitd (${o.upstream.address}): use BUILDKIT_HOST=tcp://...`);
    const h2c = String(req.headers.upgrade ?? '').toLowerCase() === 'h2c';
    if (o.engineApi === 'build' && !(h2c && method === 'POST' && (path === '/grpc' || path === '/session'))) {
      o.log(`refused ${method} ${path} (upgrade) from ${describeIdentity(identity)} (--engine-api build)`);
      return refuseUpgrade(socket, 403, `tracebuild agent: ${method} ${path} is not forwarded to the daemon (--engine-api build)`);
    }
    if (head.length > 0) socket.unshift(head);
    socket.pause();
    void (async () => {
      let upSocket: net.Socket;
      try {
        upSocket = await o.upstream.dial();
      } catch (err) {
        return refuseUpgrade(socket, 502, `tracebuild agent: ${upstreamName} does not answer: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      track(upSocket);
      upSocket.on('error', () => undefined);
      if (!(h2c && (path === '/grpc' || path === '/session'))) {
        // Any other upgrade (attach, exec): the request as it came, then bytes both ways.
        const lines = [`${method} ${url} HTTP/1.1`];
        for (const [k, v] of headerPairs(req.rawHeaders)) lines.push(`${k}: ${v}`);
        upSocket.write(`${lines.join('\r\n')}\r\n\r\n`);
        socket.pipe(upSocket);
        upSocket.pipe(socket);
        socket.resume();
        socket.once('close', () => upSocket.destroy());
        upSocket.once('close', () => socket.destroy());
        return;
      }
      const extra = path === '/session' ? headerPairs(endToEnd(req.rawHeaders)).filter(([k]) => k.toLowerCase() !== 'content-length') : [];
      try {
        await upgradeH2c(upSocket, path, extra);
      } catch (err) {
        upSocket.destroy();
        return refuseUpgrade(socket, 502, `tracebuild agent: ${upstreamName} refused the ${path} upgrade: ${(err as Error).message}`);
      }
      // Written, and done, before HTTP/2 takes the socket over (its native session must not
      // see the completion of a write it did not make).
      await new Promise<void>((done) => socket.write('HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n', () => done()));
      if (socket.destroyed) {
        upSocket.destroy();
        return;
      }
      // The connection speaks HTTP/2 from here: node's HTTP/2 refuses a TLS socket whose ALPN
      // said HTTP/1.1 (the upgrade is what said otherwise).
      Object.defineProperty(socket, 'alpnProtocol', { value: 'h2', configurable: true, writable: true });
      if (path === '/grpc') {
        bridgeH2(socket, () => o.upstream.openGrpc(), identity, { ...o.handlers.grpc(identity), describeClientSide: upstreamName });
        socket.resume();
      } else {
        const sessionId = String(req.headers['x-docker-expose-session-uuid'] ?? '');
        // The daemon is the HTTP/2 client of a session: it speaks first on upSocket.
        // The tenant's session server speaks first on `socket` (its SETTINGS): HTTP/2 takes
        // it over at once, and nothing else may read from it.
        bridgeH2(upSocket, async () => socket, identity, {
          ...o.handlers.session(identity, sessionId),
          describeClientSide: `the session of ${describeIdentity(identity)}`,
          eagerClientSide: true,
        });
      }
    })();
  });
  httpServer.on('clientError', (_err, socket: Duplex) => socket.destroy());

  const tlsOptions: tls.TlsOptions = {
    cert: o.tls.cert,
    key: o.tls.key,
    ca: o.tls.ca,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2', 'http/1.1'],
    minVersion: 'TLSv1.2',
  };
  if (o.tls.crl !== undefined) tlsOptions.crl = o.tls.crl;
  let server: tls.Server;
  try {
    server = tls.createServer(tlsOptions);
  } catch (cause) {
    throw new AgentError('tls-config', `the agent's TLS certificate, key or client CA cannot be used: ${(cause as Error).message}`, { cause });
  }
  server.on('secureConnection', (socket: TLSSocket) => {
    track(socket);
    socket.on('error', () => undefined);
    const identity = identityOf(socket);
    if (identity === undefined) {
      socket.destroy();
      return;
    }
    if (socket.alpnProtocol === 'h2') {
      bridgeH2(socket, () => o.upstream.openGrpc(), identity, { ...o.handlers.grpc(identity), describeClientSide: upstreamName });
      return;
    }
    identities.set(socket, identity);
    httpServer.emit('connection', socket);
  });
  server.on('tlsClientError', (err: Error & { code?: string; reason?: string }, socket: TLSSocket) => {
    o.log(`refused a TLS connection from ${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}: ${tlsRefusal(err)}`);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new AgentError('listen-failed', `the agent cannot listen on ${o.host}:${o.port}: ${err.code ?? err.message}`, { cause: err })),
    );
    server.listen(o.port, o.host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    host: o.host,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        httpServer.close();
        for (const s of live) s.destroy();
      }),
  };
}
