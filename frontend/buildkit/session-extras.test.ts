// What --build-context adds to the session, served over a real gRPC connection (a unix
// socket) and called the way the daemon calls it: named local directories through
// FileSync, and OCI layouts (--build-context, --cache-from type=local) through containerd's
// content service (Info, Read).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PacketType, type Packet } from './filesync.js';
import { method, Rpc, type Msg } from './rpc.js';
import { createSessionServer } from './session.js';
import { sessionExtras } from './session-extras.js';

let dir: string;
let server: grpc.Server;
let rpc: Rpc;
const blob = Buffer.from('x'.repeat(3_000_000) + 'end');
const blobDigest = 'sha256:' + createHash('sha256').update(blob).digest('hex');
const cacheBlob = Buffer.from('{"schemaVersion":2}');
const cacheBlobDigest = 'sha256:' + createHash('sha256').update(cacheBlob).digest('hex');

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-session-extras-'));
  mkdirSync(path.join(dir, 'ctx'));
  mkdirSync(path.join(dir, 'extra'));
  writeFileSync(path.join(dir, 'extra', 'kept.txt'), 'k');
  writeFileSync(path.join(dir, 'extra', 'dropped.tmp'), 'd');
  mkdirSync(path.join(dir, 'layout', 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'layout', 'blobs', 'sha256', blobDigest.slice(7)), blob);
  mkdirSync(path.join(dir, 'cache', 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'cache', 'blobs', 'sha256', cacheBlobDigest.slice(7)), cacheBlob);
  server = createSessionServer({
    contextDir: path.join(dir, 'ctx'),
    dockerignore: [],
    ...sessionExtras({
      contextDir: path.join(dir, 'ctx'),
      dockerignore: [],
      entitlements: [],
      frontend: () => Promise.reject(new Error('not solved here')),
      onStatus: () => undefined,
      localDirs: { extra: { dir: path.join(dir, 'extra'), dockerignore: ['*.tmp'] } },
      ociLayouts: { store1: path.join(dir, 'layout') },
      cache: {
        imports: [
          { type: 'local', attrs: { src: path.join(dir, 'cache'), digest: cacheBlobDigest } },
          { type: 'registry', attrs: { ref: '127.0.0.1:5000/a:b' } },
        ],
        exports: [],
      },
    }),
  });
  const sock = path.join(dir, 's.sock');
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  rpc = new Rpc(new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure()));
});

afterAll(() => {
  rpc?.client.close();
  server?.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

/** The paths a DiffCopy of `dirName` lists (no file is requested), and its status. */
function listDir(dirName: string): Promise<{ paths: string[]; code: number }> {
  const md = new grpc.Metadata();
  md.add('dir-name', dirName);
  const m = method('moby.filesync.v1.FileSync', 'DiffCopy');
  const call = rpc.client.makeBidiStreamRequest<Msg, Msg>(
    m.path,
    (v) => Buffer.from(m.requestType.encode(m.requestType.fromObject(v)).finish()),
    (b) => m.responseType.toObject(m.responseType.decode(b), { longs: String, enums: Number }) as Msg,
    md,
    {},
  );
  const paths: string[] = [];
  return new Promise((resolve) => {
    call.on('data', (p: Packet) => {
      if (p.stat) paths.push(p.stat.path);
      else if ((p.type ?? 0) === PacketType.STAT) call.write({ type: PacketType.FIN });
      if (p.type === PacketType.FIN) call.end();
    });
    call.on('status', (st: grpc.StatusObject) => resolve({ paths, code: st.code }));
    call.on('error', () => undefined);
  });
}

function read(store: string, request: Msg): Promise<{ data: Buffer; offsets: string[]; code: number }> {
  const call = rpc.serverStream(method('containerd.services.content.v1.Content', 'Read'), request, { metadata: { 'buildkit-attachable-store-id': store } });
  const chunks: Buffer[] = [];
  const offsets: string[] = [];
  return new Promise((resolve) => {
    call.on('data', (m: Msg) => {
      offsets.push(String(m.offset ?? '0'));
      chunks.push(Buffer.from(m.data as Uint8Array));
    });
    call.on('status', (st: grpc.StatusObject) => resolve({ data: Buffer.concat(chunks), offsets, code: st.code }));
    call.on('error', () => undefined);
  });
}

describe('session extras', () => {
  it('serves a named local directory with its own .dockerignore, and still no other name', async () => {
    expect(await listDir('extra')).toEqual({ paths: ['kept.txt'], code: grpc.status.OK });
    expect((await listDir('other')).code).toBe(grpc.status.NOT_FOUND);
  });

  it('answers Info with the size of a layout blob, NOT_FOUND for others', async () => {
    const Info = method('containerd.services.content.v1.Content', 'Info');
    const res = await rpc.unary(Info, { digest: blobDigest }, { metadata: { 'buildkit-attachable-store-id': 'oci:store1' } });
    expect(res.info).toMatchObject({ digest: blobDigest, size: String(blob.length) });
    await expect(rpc.unary(Info, { digest: 'sha256:' + '0'.repeat(64) }, { metadata: { 'buildkit-attachable-store-id': 'oci:store1' } })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(rpc.unary(Info, { digest: blobDigest }, { metadata: { 'buildkit-attachable-store-id': 'oci:other' } })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(rpc.unary(Info, { digest: '../../etc/passwd' }, { metadata: { 'buildkit-attachable-store-id': 'oci:store1' } })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  });

  it('reads a blob whole, and a range of it, in chunks with their offsets', async () => {
    const whole = await read('oci:store1', { digest: blobDigest });
    expect(whole.code).toBe(grpc.status.OK);
    expect(whole.data.equals(blob)).toBe(true);
    expect(whole.offsets).toEqual(['0', String(1 << 20), String(2 << 20)]);
    const part = await read('oci:store1', { digest: blobDigest, offset: String(blob.length - 5), size: '4' });
    expect(part.data.toString()).toBe('xxen');
    expect(part.offsets).toEqual([String(blob.length - 5)]);
  });

  it("serves a local cache import's layout as the store `local:<src>`, and only there", async () => {
    const Info = method('containerd.services.content.v1.Content', 'Info');
    const store = `local:${path.join(dir, 'cache')}`;
    const res = await rpc.unary(Info, { digest: cacheBlobDigest }, { metadata: { 'buildkit-attachable-store-id': store } });
    expect(res.info).toMatchObject({ digest: cacheBlobDigest, size: String(cacheBlob.length) });
    expect((await read(store, { digest: cacheBlobDigest })).data.equals(cacheBlob)).toBe(true);
    // the build context's layout is not reachable through the cache's store, nor the reverse
    await expect(rpc.unary(Info, { digest: blobDigest }, { metadata: { 'buildkit-attachable-store-id': store } })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    await expect(rpc.unary(Info, { digest: cacheBlobDigest }, { metadata: { 'buildkit-attachable-store-id': 'oci:store1' } })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    // a store id without its prefix names nothing
    await expect(rpc.unary(Info, { digest: cacheBlobDigest }, { metadata: { 'buildkit-attachable-store-id': path.join(dir, 'cache') } })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('refuses writes: the write side of the content service is not served', async () => {
    const status = await new Promise<number>((resolve) => {
      const call = rpc.client.makeUnaryRequest<Msg, Msg>(
        '/containerd.services.content.v1.Content/Delete',
        () => Buffer.alloc(0),
        () => ({}),
        {},
        new grpc.Metadata(),
        {},
        () => undefined,
      );
      call.on('status', (st: grpc.StatusObject) => resolve(st.code));
    });
    expect(status).toBe(grpc.status.UNIMPLEMENTED);
  });
});
