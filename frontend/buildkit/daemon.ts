// What the daemon is, learned when connecting, for messages and the trace: dockerd's
// version (the Engine API's `GET /_ping` headers on its socket) when the endpoint is dockerd, and
// BuildKit's own version (Control.Info, BuildKit v0.11+; older daemons answer
// UNIMPLEMENTED). Features are gated on the gateway's capabilities (gateway.ts), never on
// these versions: they only name the daemon.
import type net from 'node:net';
import { dial } from './dial.js';
import type { DialTarget } from './endpoint.js';
import type { DaemonInfo } from './types.js';

const MAX_RESPONSE_BYTES = 256 * 1024;

/** One `GET path` over a fresh connection to dockerd; the parsed JSON body, or undefined. */
export async function engineGet(target: DialTarget, path: string, timeoutMs = 5_000): Promise<unknown> {
  const res = await engineResponse(target, path, timeoutMs);
  if (res === undefined) return undefined;
  try {
    return JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** One `GET path` over a fresh connection to dockerd: a 200 answer's header block and
 * complete body, or undefined (no answer, another status, a timeout). */
async function engineResponse(target: DialTarget, path: string, timeoutMs: number): Promise<{ head: string; body: Buffer } | undefined> {
  let socket: net.Socket;
  try {
    socket = await dial(target, { timeoutMs });
  } catch {
    return undefined;
  }
  return new Promise((resolve) => {
    let buffered = Buffer.alloc(0);
    const done = (value: { head: string; body: Buffer } | undefined): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    const tryParse = (final: boolean): void => {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) {
        if (final) done(undefined);
        return;
      }
      const head = buffered.subarray(0, end).toString('latin1');
      if (!/^HTTP\/1\.[01] 200/.test(head)) return done(undefined);
      let body: Buffer = buffered.subarray(end + 4);
      if (/\r\ntransfer-encoding:\s*chunked/i.test(head)) {
        const decoded = dechunk(body);
        if (decoded === undefined) {
          if (final) done(undefined);
          return;
        }
        body = decoded;
      } else {
        // without a length, the body ends with the connection (Connection: close)
        const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        if (len ? body.length < Number(len[1]) : !final) {
          if (final) done(undefined);
          return;
        }
      }
      done({ head, body });
    };
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (buffered.length > MAX_RESPONSE_BYTES) return done(undefined);
      tryParse(false);
    });
    socket.once('end', () => tryParse(true));
    socket.once('error', () => done(undefined));
    socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
  });
}

/** A chunked body, once complete (the 0-size chunk seen); undefined before that. */
function dechunk(body: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = body.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = parseInt(body.subarray(at, eol).toString('latin1'), 16);
    if (!Number.isFinite(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    if (body.length < eol + 2 + size) return undefined;
    parts.push(body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * dockerd's version and Engine API version. From `GET /_ping`'s `Server: Docker/VERSION (os)`
 * and `Api-Version` headers, which dockerd sets on every answer: its `GET /version` asks
 * containerd, runc and docker-init for theirs and took ~0.28 s on Docker 26 here, on every
 * build's way to the solve (#17.7). `GET /version` where the ping does not say.
 */
export async function dockerdVersion(target: DialTarget, timeoutMs = 5_000): Promise<{ version?: string; apiVersion?: string }> {
  const ping = await engineResponse(target, '/_ping', timeoutMs);
  const header = (name: string): string | undefined => new RegExp(`\\r\\n${name}:[ \\t]*([^\\r]*)`, 'i').exec(ping?.head ?? '')?.[1]?.trim();
  const fromPing = /^Docker\/(\S+)/.exec(header('Server') ?? '')?.[1];
  const out: { version?: string; apiVersion?: string } = {};
  if (fromPing !== undefined) {
    out.version = fromPing;
    const api = header('Api-Version');
    if (api !== undefined && api !== '') out.apiVersion = api;
    return out;
  }
  const v = (await engineGet(target, '/version', timeoutMs)) as { Version?: unknown; ApiVersion?: unknown } | undefined;
  if (typeof v?.Version === 'string' && v.Version !== '') out.version = v.Version;
  if (typeof v?.ApiVersion === 'string' && v.ApiVersion !== '') out.apiVersion = v.ApiVersion;
  return out;
}

/** A BuildKit version string worth showing: builds without version stamping report
 * `v0.0.0+unknown`, which says nothing. */
export function meaningfulBuildKitVersion(v: string | undefined): string | undefined {
  if (v === undefined || v === '' || /^v?0\.0\.0(\+|$)/.test(v)) return undefined;
  return v;
}

// The BuildKit line each dockerd release embeds (moby's vendored BuildKit). Only used to
// name the daemon in messages when BuildKit itself does not say (v0.8 has no Control.Info;
// distribution builds report v0.0.0+unknown); nothing is gated on it.
const EMBEDDED_BUILDKIT: ReadonlyArray<[string, string]> = [
  ['19.03', 'v0.6.x'],
  ['20.10', 'v0.8.x'],
  ['23.0', 'v0.10.x'],
  ['24.0', 'v0.11.x'],
  ['25.0', 'v0.12.x'],
  ['26.0', 'v0.13.x'],
  ['26.1', 'v0.13.x'],
  ['27.0', 'v0.14.x'],
  ['27.1', 'v0.15.x'],
  ['27.2', 'v0.15.x'],
  ['27.3', 'v0.16.x'],
  ['27.4', 'v0.17.x'],
  ['27.5', 'v0.18.x'],
  ['28.0', 'v0.20.x'],
];

/** How messages name the daemon's BuildKit: "dockerd 20.10.24's BuildKit (v0.8.x)",
 * "BuildKit v0.13.2 (buildkitd)", "dockerd 26.1.5's BuildKit". */
export function describeDaemon(info: DaemonInfo): string {
  const bk = meaningfulBuildKitVersion(info.buildkitVersion);
  if (info.engine === 'dockerd') {
    const who = info.version ? `dockerd ${info.version}` : 'dockerd';
    let line = bk;
    if (line === undefined && info.version) {
      const mm = /^(\d+)\.(\d+)/.exec(info.version);
      const key = mm ? `${Number(mm[1])}.${Number(mm[2])}` : '';
      line = EMBEDDED_BUILDKIT.find(([k]) => k === key)?.[1];
    }
    return line ? `${who}'s BuildKit (${line})` : `${who}'s BuildKit`;
  }
  return bk ? `BuildKit ${bk} (buildkitd)` : 'the buildkitd daemon';
}
