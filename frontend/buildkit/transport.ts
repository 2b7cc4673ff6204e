// How the gRPC client reaches BuildKit. grpc-js cannot be handed an already-open socket
// as a client transport, so for dockerd a small unix-socket proxy, private to this
// process, accepts grpc-js's connections and, for each, dials dockerd (over TLS when
// DOCKER_HOST asks for it), upgrades `POST /grpc` to h2c and pipes the bytes both ways. A
// standalone buildkitd speaks gRPC on its socket directly (TLS with ALPN h2 over tcp://
// when BUILDKIT_TLS_DIR is set) and needs no proxy. Everything above this module is identical.
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Endpoint } from './types.js';
import { endpointTarget, type DialTarget } from './endpoint.js';
import { dial, upgradeH2c } from './dial.js';

export interface Transport {
  /** What grpc-js dials (`unix:///…` or `host:port`). */
  readonly grpcTarget: string;
  /** Insecure for a unix socket or the local proxy; TLS to a buildkitd over tcp:// with it. */
  readonly credentials: grpc.ChannelCredentials;
  /** Channel options the credentials need (the name checked in the server's certificate). */
  readonly channelOptions: grpc.ChannelOptions;
  /** Where the daemon is, for session attachment and error messages. */
  readonly dialTarget: DialTarget;
  /** The last failure seen while reaching the daemon (gives gRPC errors a real cause). */
  lastError(): Error | undefined;
  close(): void;
}

export async function openTransport(endpoint: Endpoint, target: DialTarget = endpointTarget(endpoint)): Promise<Transport> {
  if (endpoint.kind === 'buildkitd') {
    const grpcTarget = target.kind === 'unix' ? `unix://${target.path}` : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
    let credentials = grpc.credentials.createInsecure();
    const channelOptions: grpc.ChannelOptions = {};
    if (target.kind === 'tcp' && target.tls !== undefined) {
      const m = target.tls;
      credentials = grpc.credentials.createSsl(m.ca ?? null, m.key ?? null, m.cert ?? null);
      if (m.serverName !== undefined) {
        channelOptions['grpc.ssl_target_name_override'] = m.serverName;
        channelOptions['grpc.default_authority'] = m.serverName;
      }
    }
    return { grpcTarget, credentials, channelOptions, dialTarget: target, lastError: () => undefined, close: () => undefined };
  }
  return openUpgradeProxy(target);
}

async function openUpgradeProxy(target: DialTarget): Promise<Transport> {
  // A fresh 0700 directory: no other user can connect to the proxy socket.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-grpc-'));
  const socketPath = path.join(dir, 'grpc.sock');
  const live = new Set<net.Socket>();
  let last: Error | undefined;
  let closed = false;

  const server = net.createServer((client) => {
    live.add(client);
    client.on('close', () => live.delete(client));
    client.on('error', () => client.destroy());
    // The client's HTTP/2 preface stays buffered in `client` (no 'data' listener yet)
    // until the upstream is upgraded.
    client.pause();
    void (async () => {
      let upstream: net.Socket | undefined;
      try {
        upstream = await dial(target);
        live.add(upstream);
        const up = upstream;
        up.on('close', () => live.delete(up));
        await upgradeH2c(up, '/grpc');
      } catch (err) {
        last = err instanceof Error ? err : new Error(String(err));
        upstream?.destroy();
        client.destroy();
        return;
      }
      if (closed || client.destroyed) {
        upstream.destroy();
        return;
      }
      const up = upstream;
      up.on('error', () => client.destroy());
      client.on('error', () => up.destroy());
      up.on('close', () => client.destroy());
      client.on('close', () => up.destroy());
      client.pipe(up);
      up.pipe(client);
      up.resume();
      client.resume();
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.removeListener('error', reject);
      resolve();
    });
  });

  return {
    grpcTarget: `unix://${socketPath}`,
    credentials: grpc.credentials.createInsecure(),
    channelOptions: {},
    dialTarget: target,
    lastError: () => last,
    close: () => {
      if (closed) return;
      closed = true;
      server.close();
      for (const s of live) s.destroy();
      live.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
