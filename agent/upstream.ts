// The daemon the agent fronts: dockerd (its Engine API over HTTP/1.1, BuildKit through the
// `POST /grpc` and `POST /session` upgrades) or a standalone buildkitd (gRPC over HTTP/2 on
// its socket). `--upstream-kind auto` asks it: dockerd answers `GET /_ping`.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { describeTarget, type DialTarget } from '../common/index.js';
import { dial, endpointTarget, upgradeH2c, type Endpoint } from '../frontend/index.js';
import { AgentError } from './errors.js';

export type UpstreamKind = 'docker' | 'buildkitd';

export interface Upstream {
  kind: UpstreamKind;
  /** As given, for messages: `unix:///var/run/docker.sock`. */
  address: string;
  target: DialTarget;
  /** What frontend's channel (the agent's own Status streams) dials. */
  endpoint: Endpoint;
  /** A connection on which the daemon speaks BuildKit's gRPC (HTTP/2, the daemon serving). */
  openGrpc(): Promise<Duplex>;
  /** A raw connection to the daemon (dockerd: for the Engine API and its upgrades). */
  dial(): Promise<net.Socket>;
}

export const DEFAULT_UPSTREAM = 'unix:///var/run/docker.sock';

/** `GET /_ping` answered with HTTP: a dockerd. Anything else (an HTTP/2 GOAWAY, a close): not. */
async function answersPing(target: DialTarget): Promise<boolean> {
  const socket = await dial(target, { timeoutMs: 5_000 });
  return new Promise((resolve) => {
    let got = '';
    const done = (v: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(false), 3_000);
    socket.on('data', (b: Buffer) => {
      got += b.toString('latin1');
      if (got.length >= 12) done(/^HTTP\/1\.[01] /.test(got));
    });
    socket.on('error', () => done(false));
    socket.on('end', () => done(/^HTTP\/1\.[01] /.test(got)));
    socket.write('GET /_ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
  });
}

export async function resolveUpstream(address: string, kind: UpstreamKind | 'auto'): Promise<Upstream> {
  let target: DialTarget;
  try {
    target = endpointTarget({ kind: 'buildkitd', address });
  } catch (cause) {
    throw new AgentError('upstream-unreachable', `--upstream ${address}: ${(cause as Error).message}`, { cause });
  }
  let resolved: UpstreamKind;
  if (kind === 'auto') {
    try {
      resolved = (await answersPing(target)) ? 'docker' : 'buildkitd';
    } catch (cause) {
      const code = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
      throw new AgentError('upstream-unreachable', `the daemon to front, ${describeTarget(target)} (--upstream), does not answer: ${code}`, { cause });
    }
  } else resolved = kind;
  const endpoint: Endpoint = { kind: resolved, address };
  return {
    kind: resolved,
    address,
    target,
    endpoint,
    dial: () => dial(target),
    openGrpc: async () => {
      const socket = await dial(target);
      if (resolved === 'docker') await upgradeH2c(socket, '/grpc');
      return socket;
    },
  };
}
