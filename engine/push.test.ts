// The Engine API push against a fake dockerd on a unix socket: the request it sends (path,
// tag, X-Registry-Auth), the JSON message stream it reads (split anywhere), and each way
// it fails, always naming the reference.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineError as PushError } from './errors.js';
import { inspectImage as engineInspectImage } from './inspect.js';
import { JsonMessageSplitter, enginePush, registryAuthHeader, type PushMessage } from './push.js';
import { engineTarget, type EngineTarget } from './target.js';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

let server: Server | undefined;
let dir = '';
afterEach(async () => {
  const s = server;
  server = undefined;
  if (s !== undefined) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = '';
});

interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
}

async function fakeDockerd(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ target: EngineTarget; seen: Seen[] }> {
  dir = mkdtempSync(join(tmpdir(), 'tracebuild-dockerd-'));
  const socketPath = join(dir, 'docker.sock');
  const seen: Seen[] = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['x-registry-auth'] as string | undefined });
    handler(req, res);
  });
  await new Promise<void>((r) => server?.listen(socketPath, () => r()));
  return { target: { kind: 'unix', path: socketPath }, seen };
}

/** Writes the lines in awkward pieces (split inside JSON values), CRLF-separated like dockerd. */
function stream(res: ServerResponse, messages: unknown[]): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  const text = messages.map((m) => `${JSON.stringify(m)}\r\n`).join('');
  for (let i = 0; i < text.length; i += 7) res.write(text.slice(i, i + 7));
  res.end();
}

const okStream = [
  { status: 'The push refers to repository [127.0.0.1:5000/app]' },
  { status: 'Preparing', progressDetail: {}, id: 'b9d86e047258' },
  { status: 'Pushing', progressDetail: { current: 10, total: 20 }, id: 'b9d86e047258' },
  { status: 'Pushed', progressDetail: {}, id: 'b9d86e047258' },
  { status: `v1: digest: ${DIGEST} size: 527` },
  { progressDetail: {}, aux: { Tag: 'v1', Digest: DIGEST, Size: 527 } },
];

describe('engineTarget', () => {
  it('reads DOCKER_HOST like docker does', () => {
    expect(engineTarget({})).toEqual({ kind: 'unix', path: '/var/run/docker.sock' });
    expect(engineTarget({ DOCKER_HOST: 'unix:///run/d.sock' })).toEqual({ kind: 'unix', path: '/run/d.sock' });
    expect(engineTarget({ DOCKER_HOST: 'tcp://127.0.0.1:2375' })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
  });
  it('refuses what it cannot speak', () => {
    expect(() => engineTarget({ DOCKER_HOST: 'npipe:////./pipe/docker_engine' })).toThrow(PushError);
    expect(() => engineTarget({ DOCKER_HOST: 'ssh://me@host/path' })).toThrow(/nothing after the host/);
  });
  it('takes ssh://[user@]host[:port] as the docker client does', () => {
    expect(engineTarget({ DOCKER_HOST: 'ssh://me@build.example:2222' })).toEqual({ kind: 'ssh', user: 'me', host: 'build.example', port: 2222 });
    expect(engineTarget({ DOCKER_HOST: 'ssh://build.example' })).toEqual({ kind: 'ssh', host: 'build.example' });
  });
  it('dials tcp:// with TLS as the docker client does (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), naming a missing file', () => {
    expect(() => engineTarget({ DOCKER_HOST: 'tcp://h:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent/certs' })).toThrow(
      /TLS CA certificate \/nonexistent\/certs\/ca\.pem \(DOCKER_CERT_PATH=\/nonexistent\/certs\): no such file/,
    );
    // TLS applies to tcp:// only; the port defaults to 2376 with it
    expect(engineTarget({ DOCKER_HOST: 'unix:///run/d.sock', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' })).toEqual({ kind: 'unix', path: '/run/d.sock' });
  });
});

describe('registryAuthHeader', () => {
  const decode = (h: string): unknown => JSON.parse(Buffer.from(h.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8'));
  it('is {} without credentials', () => {
    expect(decode(registryAuthHeader(undefined, '127.0.0.1:5000'))).toEqual({});
  });
  it('is docker AuthConfig JSON, base64url', () => {
    const h = registryAuthHeader({ username: 'u?>', password: 'p~~~>>>' }, 'reg.example:5000');
    expect(h).not.toMatch(/[+/]/);
    expect(decode(h)).toEqual({ username: 'u?>', password: 'p~~~>>>', serveraddress: 'reg.example:5000' });
    expect(decode(registryAuthHeader({ identityToken: 'tok' }, 'r'))).toEqual({ identitytoken: 'tok', serveraddress: 'r' });
  });
});

describe('JsonMessageSplitter', () => {
  it('reassembles messages split anywhere and keeps the last line without newline', () => {
    const s = new JsonMessageSplitter();
    expect(s.push('{"status":"a"}\r\n{"sta')).toEqual([{ status: 'a' }]);
    expect(s.push('tus":"b"}\n')).toEqual([{ status: 'b' }]);
    expect(s.push('{"aux":{"Digest":"x"}}')).toEqual([]);
    expect(s.end()).toEqual([{ aux: { Digest: 'x' } }]);
  });
  it('turns a line that is not JSON into an error message', () => {
    expect(new JsonMessageSplitter().push('garbage\n')[0]?.error).toContain('garbage');
  });
});

describe('enginePush', () => {
  const options = (target: EngineTarget) => ({
    target,
    repository: '127.0.0.1:5000/app',
    tag: 'v1',
    registryAuth: registryAuthHeader(undefined, '127.0.0.1:5000'),
    display: '127.0.0.1:5000/app:v1',
  });

  it('posts /images/{name}/push?tag= with X-Registry-Auth and returns the digest of the aux message', async () => {
    const { target, seen } = await fakeDockerd((_req, res) => stream(res, okStream));
    const messages: PushMessage[] = [];
    const result = await enginePush({ ...options(target), onMessage: (m) => messages.push(m) });
    expect(result).toEqual({ digest: DIGEST, size: 527 });
    expect(seen).toEqual([{ method: 'POST', url: '/images/127.0.0.1:5000/app/push?tag=v1', auth: 'e30=' }]);
    expect(messages.map((m) => m.status ?? 'aux')).toEqual(okStream.map((m) => m.status ?? 'aux'));
  });

  it('fails with a PushError naming the reference when the stream carries an error', async () => {
    const { target } = await fakeDockerd((_req, res) =>
      stream(res, [
        { status: 'The push refers to repository [127.0.0.1:5000/app]' },
        { errorDetail: { message: 'dial tcp 127.0.0.1:5000: connect: connection refused' }, error: 'dial tcp ...' },
      ]),
    );
    const err = await enginePush(options(target)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PushError);
    expect(err).toMatchObject({ code: 'push-failed', reference: '127.0.0.1:5000/app:v1' });
    expect((err as Error).message).toBe('pushing 127.0.0.1:5000/app:v1 failed: dial tcp 127.0.0.1:5000: connect: connection refused');
  });

  it('fails when dockerd answers an HTTP error', async () => {
    const { target } = await fakeDockerd((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'No such image: 127.0.0.1:5000/app:v1' }));
    });
    await expect(enginePush(options(target))).rejects.toThrow('pushing 127.0.0.1:5000/app:v1 failed: dockerd answered HTTP 404: No such image: 127.0.0.1:5000/app:v1');
  });

  it('fails when the stream ends without a digest', async () => {
    const { target } = await fakeDockerd((_req, res) => stream(res, okStream.slice(0, 4)));
    await expect(enginePush(options(target))).rejects.toMatchObject({ code: 'no-digest', reference: '127.0.0.1:5000/app:v1' });
  });

  it('says dockerd is not there when nothing listens', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tracebuild-dockerd-'));
    const err = await enginePush(options({ kind: 'unix', path: join(dir, 'missing.sock') })).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'daemon-unreachable', reference: '127.0.0.1:5000/app:v1' });
    expect((err as Error).message).toContain('dockerd does not answer at unix://');
  });
});

describe('engineInspectImage', () => {
  it('returns the id and repo digests, undefined for an unknown image', async () => {
    const { target, seen } = await fakeDockerd((req, res) => {
      // the name is escaped (it may come from an untrusted request, in the guard); dockerd decodes it
      if (req.url === '/images/busybox%3Alocal/json') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ Id: DIGEST, RepoDigests: ['busybox@sha256:' + 'cd'.repeat(32)] }));
        return;
      }
      res.writeHead(404);
      res.end('{"message":"no such image"}');
    });
    expect(await engineInspectImage(target, 'busybox:local')).toEqual({ id: DIGEST, repoDigests: [`busybox@sha256:${'cd'.repeat(32)}`] });
    expect(await engineInspectImage(target, 'nope:x')).toBeUndefined();
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /images/busybox%3Alocal/json', 'GET /images/nope%3Ax/json']);
  });
});
