import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionServer, metadataList, queryUnescape, RawHeaderLists, recordRawHeaders } from './session.js';
import net from 'node:net';
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

function diffCopy(
  headers: [string, string][],
  over: Rpc = rpc,
): { call: grpc.ClientDuplexStream<Msg, Msg>; packets: Packet[]; done: Promise<grpc.StatusObject> } {
  const md = new grpc.Metadata();
  for (const [k, v] of headers) md.add(k, v);
  const m = method('moby.filesync.v1.FileSync', 'DiffCopy');
  const call = over.client.makeBidiStreamRequest<Msg, Msg>(
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

  it('keeps a value holding ", " whole when the raw headers of the request were recorded', () => {
    const raw = new RawHeaderLists();
    raw.active = true;
    raw.record([':path', '/x', 'include-patterns', 'a, b.txt', 'include-patterns', 'c', 'followpaths', 'd, e']);
    const md = new grpc.Metadata();
    md.add('include-patterns', 'a, b.txt, c'); // as Node joined the two headers
    md.add('followpaths', 'd, e'); // one header
    expect(metadataList(md, 'include-patterns', raw)).toEqual(['a, b.txt', 'c']);
    expect(metadataList(md, 'followpaths', raw)).toEqual(['d, e']);
  });

  it('decodes the lists the daemon URL-escaped (<key>-encoded)', () => {
    const md = new grpc.Metadata();
    md.add('followpaths', 'dir-%C3%B6, with%2C+comma.txt, %C4%89');
    md.add('followpaths-encoded', '1');
    expect(metadataList(md, 'followpaths')).toEqual(['dir-ö', 'with, comma.txt', 'ĉ']);
    expect(queryUnescape('100%')).toBe('100%');
  });
});

describe('a session connection injected as dockerd hands it over', () => {
  it('sends the paths of repeated headers whole, ", " inside them included', async () => {
    writeFileSync(path.join(ctx, 'with, comma.txt'), 'comma');
    const raw = new RawHeaderLists();
    const injected = createSessionServer({ contextDir: ctx, dockerignore: [] }, raw);
    const injector = injected.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    recordRawHeaders(injected, raw);
    expect(raw.active).toBe(true);
    const sock = path.join(dir, 'inject.sock');
    const listener = net.createServer((c) => injector.injectConnection(c));
    await new Promise<void>((r) => listener.listen(sock, r));
    const client = new Rpc(new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure()));
    try {
      const { packets, done } = diffCopy(
        [
          ['dir-name', 'context'],
          ['include-patterns', 'with, comma.txt'],
          ['include-patterns', 'a.txt'],
        ],
        client,
      );
      expect((await done).code).toBe(grpc.status.OK);
      const paths = packets.filter((p) => p.stat).map((p) => p.stat?.path);
      expect(paths).toEqual(['a.txt', 'with, comma.txt']);
    } finally {
      client.client.close();
      injector.destroy();
      injected.forceShutdown();
      listener.close();
    }
  });
});
