// Raw sockets to the daemon (TLS for a tcp:// target that has it) and the HTTP/1.1
// `Upgrade: h2c` handshake dockerd uses to hand out BuildKit's gRPC API (`POST /grpc`) and to
// attach sessions (`POST /session`).
import net from 'node:net';
import tls from 'node:tls';
import { describeTarget, dialSsh, tlsConnectOptions } from '../../common/index.js';
import type { DialTarget } from './endpoint.js';

export interface DialOptions {
  timeoutMs?: number;
  /** ALPN protocols offered over TLS (default: HTTP/1.1, what dockerd's Engine API speaks). */
  alpn?: string[];
}

export function dial(target: DialTarget, options: DialOptions = {}): Promise<net.Socket> {
  // DOCKER_HOST=ssh://: the socket is one end of `ssh ... docker system dial-stdio`
  if (target.kind === 'ssh') return dialSsh(target, describeTarget(target));
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const secure = target.kind === 'tcp' && target.tls !== undefined;
    const socket =
      target.kind === 'unix'
        ? net.createConnection({ path: target.path })
        : target.tls !== undefined
          ? tls.connect({ ...tlsConnectOptions(target.tls, target.host), port: target.port, ALPNProtocols: options.alpn ?? ['http/1.1'] })
          : net.createConnection({ host: target.host, port: target.port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error(`connect timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      socket.removeListener('error', onError);
      resolve(socket);
    });
    const onError = (err: Error): void => {
      clearTimeout(timer);
      reject(err);
    };
    socket.once('error', onError);
  });
}

/** The upgrade was answered with something else than `101 Switching Protocols`. */
export class UpgradeRefusedError extends Error {
  constructor(
    readonly statusCode: number | undefined,
    readonly path: string,
    readonly body: string,
    /** Over TLS, the server closed the connection before answering anything. */
    closedOverTls = false,
  ) {
    super(
      statusCode !== undefined
        ? `HTTP ${statusCode} on ${path}`
        : closedOverTls
          ? // a TLS 1.3 server checks the client's certificate after the handshake, so its refusal shows as this
            `the server closed the TLS connection without answering the upgrade on ${path}: it may refuse this client's certificate (DOCKER_CERT_PATH or BUILDKIT_TLS_DIR)`
          : `no HTTP answer to the upgrade on ${path}`,
    );
  }
}

const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Sends `POST <path>` with `Connection: Upgrade`, `Upgrade: h2c` and the given extra
 * headers, and waits for `101`. Bytes that arrived after the response head already belong
 * to HTTP/2: they are pushed back into the socket (`unshift`) so the next reader sees
 * them; dropping them breaks the HTTP/2 preface.
 */
export function upgradeH2c(
  socket: net.Socket,
  path: string,
  headers: [string, string][] = [],
  timeoutMs = 10_000,
): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const lines = [`POST ${path} HTTP/1.1`, 'Host: localhost', 'Connection: Upgrade', 'Upgrade: h2c', 'Content-Length: 0'];
    for (const [k, v] of headers) lines.push(`${k}: ${v}`);
    let buffered = Buffer.alloc(0);
    const cleanup = (): void => {
      clearTimeout(timer);
      socket.removeListener('data', onData);
      socket.removeListener('error', onError);
      socket.removeListener('end', onEnd);
    };
    const fail = (err: Error): void => {
      cleanup();
      socket.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no answer to the upgrade on ${path} within ${timeoutMs} ms`)), timeoutMs);
    const onError = (err: Error): void => fail(err);
    const onEnd = (): void => {
      fail(new UpgradeRefusedError(parseStatus(buffered.toString('latin1')), path, bodyOf(buffered), buffered.length === 0 && socket instanceof tls.TLSSocket));
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        if (buffered.length > MAX_HEADER_BYTES) fail(new UpgradeRefusedError(undefined, path, ''));
        return;
      }
      const head = buffered.subarray(0, end).toString('latin1');
      const status = parseStatus(head);
      if (status !== 101) {
        // Give the body a moment to arrive for a better message; dockerd sends it at once.
        fail(new UpgradeRefusedError(status, path, bodyOf(buffered)));
        return;
      }
      cleanup();
      // Stop the flowing mode we started, and give back what belongs to HTTP/2.
      socket.pause();
      const rest = buffered.subarray(end + 4);
      if (rest.length > 0) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('data', onData);
    socket.once('error', onError);
    socket.once('end', onEnd);
    socket.write(lines.join('\r\n') + '\r\n\r\n');
  });
}

function parseStatus(head: string): number | undefined {
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  return m ? Number(m[1]) : undefined;
}

function bodyOf(buffered: Buffer): string {
  const end = buffered.indexOf('\r\n\r\n');
  if (end < 0) return '';
  return buffered.subarray(end + 4).toString('utf8').replace(/\s+/g, ' ').trim();
}
