import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionServer, metadataList } from './session.js';
import { method, Rpc, type Msg } from './rpc.js';
import { PacketType, type Packet } from './filesync.js';
import type { ServedFile } from './types.js';

// The session services served over a real gRPC connection (a unix socket instead of
// dockerd's upgraded one), called the way the daemon calls them.
let dir: string;
let ctx: string;
let server: grpc.Server;
let rpc: Rpc;
const served: ServedFile[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-session-'));
  ctx = path.join(dir, 'ctx');
  mkdirSync(ctx);
  writeFileSync(path.join(ctx, 'Dockerfile'), 'FROM scratch\n');
  writeFileSync(path.join(ctx, 'a.txt'), 'a');
  writeFileSync(path.join(ctx, 'b.log'), 'b');
  writeFileSync(path.join(ctx, 'c.txt'), 'c');
  symlinkSync('/etc', path.join(ctx, 'evil'));
  server = createSessionServer({
    contextDir: ctx,
    dockerignore: ['*.log'],
    secrets: { tok: Buffer.from('s3cret') },
    onFileServed: (f) => served.push(f),
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

function diffCopy(headers: [string, string][]): { call: grpc.ClientDuplexStream<Msg, Msg>; packets: Packet[]; done: Promise<grpc.StatusObject> } {
  const md = new grpc.Metadata();
  for (const [k, v] of headers) md.add(k, v);
  const m = method('moby.filesync.v1.FileSync', 'DiffCopy');
  const call = rpc.client.makeBidiStreamRequest<Msg, Msg>(
    m.path,
    (v) => Buffer.from(m.requestType.encode(m.requestType.fromObject(v)).finish()),
    (b) => m.responseType.toObject(m.responseType.decode(b), { longs: String, enums: Number }) as Msg,
    md,
    {},
  );
  const packets: Packet[] = [];
  const done = new Promise<grpc.StatusObject>((resolve) => {
    call.on('data', (p: Msg) => {
      packets.push(p as Packet);
      // Act as the receiver: request every regular file, FIN after the last data.
      if ((p.type ?? 0) === PacketType.STAT && !p.stat) {
        const ids = packets.filter((x) => x.stat && (x.stat.mode & 0xfff80000) === 0).map((x) => packets.filter((y) => y.stat).indexOf(x));
        if (ids.length === 0) call.write({ type: PacketType.FIN });
        for (const id of ids) call.write({ type: PacketType.REQ, ID: id });
      }
      if (p.type === PacketType.DATA && !p.data) {
        const stats = packets.filter((y) => y.stat);
        const wanted = stats.filter((x) => ((x.stat?.mode ?? 0) & 0xfff80000) === 0).length;
        const finished = packets.filter((x) => x.type === PacketType.DATA && !x.data).length;
        if (finished === wanted) call.write({ type: PacketType.FIN });
      }
      if (p.type === PacketType.FIN) call.end();
    });
    call.on('status', resolve);
    call.on('error', () => undefined);
  });
  return { call, packets, done };
}

describe('session services', () => {
  it('always answers Health/Check with SERVING', async () => {
    const res = await rpc.unary(method('grpc.health.v1.Health', 'Check'), {});
    expect(res.status).toBe(1);
  });

  it('serves known secrets and answers NOT_FOUND for others', async () => {
    const GetSecret = method('moby.buildkit.secrets.v1.Secrets', 'GetSecret');
    const res = await rpc.unary(GetSecret, { ID: 'tok' });
    expect(Buffer.from(res.data as Uint8Array).toString()).toBe('s3cret');
    await expect(rpc.unary(GetSecret, { ID: 'nope' })).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
  });

  it('gives anonymous registry credentials', async () => {
    const res = await rpc.unary(method('moby.filesync.v1.Auth', 'Credentials'), { Host: 'registry-1.docker.io' });
    expect(res).toEqual({});
  });

  it('refuses a dir-name other than the context', async () => {
    const { done } = diffCopy([['dir-name', 'dockerfile']]);
    const st = await done;
    expect(st.code).toBe(grpc.status.NOT_FOUND);
  });

  it('sends the context with the daemon patterns (repeated headers) and .dockerignore, and ends OK after FIN', async () => {
    served.length = 0;
    const { packets, done } = diffCopy([
      ['dir-name', 'context'],
      ['exclude-patterns', 'c.txt'],
      ['exclude-patterns', 'Dockerfile'],
    ]);
    const st = await done;
    expect(st.code).toBe(grpc.status.OK);
    expect(packets.filter((p) => p.stat).map((p) => p.stat?.path)).toEqual(['a.txt', 'evil']);
    expect(packets.find((p) => p.stat?.path === 'evil')?.stat?.linkname).toBe('/etc');
    expect(served.map((f) => f.path)).toEqual(['a.txt']);
  });

  it('honours include-patterns and followpaths', async () => {
    const { packets, done } = diffCopy([
      ['dir-name', 'context'],
      ['include-patterns', 'Dockerfile'],
      ['followpaths', 'Dockerfile'],
    ]);
    expect((await done).code).toBe(grpc.status.OK);
    expect(packets.filter((p) => p.stat).map((p) => p.stat?.path)).toEqual(['Dockerfile']);
  });
});

describe('metadataList', () => {
  it('splits values Node joined with ", "', () => {
    const md = new grpc.Metadata();
    md.add('exclude-patterns', 'a, b');
    md.add('exclude-patterns', 'c');
    expect(metadataList(md, 'exclude-patterns')).toEqual(['a', 'b', 'c']);
    expect(metadataList(md, 'missing')).toBeUndefined();
  });
});
