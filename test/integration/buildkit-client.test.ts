// Integration test of frontend/buildkit against the real dockerd (scripts/env.sh starts it
// and creates busybox:local). Outside CI it skips with a printed reason when dockerd is
// unreachable; in CI it must run.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, linkSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBuildkitdStandIn } from '../helpers/buildkitd-stand-in.js';
import {
  BuildKitConnectionError,
  SolveError,
  connectBuildKit,
  endpointFromEnv,
  type BuildKitClient,
  type LlbDefinition,
  type ServedFile,
  type StatusBatch,
} from '../../frontend/buildkit/index.js';

const endpoint = endpointFromEnv(process.env);

async function unavailableReason(): Promise<string | undefined> {
  try {
    const c = await connectBuildKit(endpoint);
    c.close();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const reason = await unavailableReason();
if (reason !== undefined) {
  if (process.env.CI) throw new Error(`BuildKit integration tests must run in CI, but: ${reason}`);
  console.warn(`skipping BuildKit integration tests: ${reason} (run scripts/env.sh)`);
}

// A test-local LLB schema (field numbers from BuildKit's solver/pb/ops.proto), so this
// test builds raw op bytes independently of the project's LLB builder.
const llb = protobuf.parse(
  `syntax = "proto3"; package t;
  message Op { repeated Input inputs = 1; oneof op { ExecOp exec = 2; SourceOp source = 3; FileOp file = 4; } Platform platform = 10; }
  message Platform { string Architecture = 1; string OS = 2; }
  message Input { string digest = 1; int64 index = 2; }
  message ExecOp { Meta meta = 1; repeated Mount mounts = 2; int32 network = 3; }
  message Meta { repeated string args = 1; repeated string env = 2; string cwd = 3; }
  message Mount { int64 input = 1; string dest = 3; int64 output = 4; bool readonly = 5; int32 mountType = 6; SecretOpt secretOpt = 21; }
  message SecretOpt { string ID = 1; uint32 uid = 2; uint32 gid = 3; uint32 mode = 4; }
  message SourceOp { string identifier = 1; map<string, string> attrs = 2; }
  message FileOp { repeated FileAction actions = 2; }
  message FileAction { int64 input = 1; int64 secondaryInput = 2; int64 output = 3; FileActionCopy copy = 4; }
  message FileActionCopy { string src = 1; string dest = 2; int32 mode = 4; bool dirCopyContents = 6; bool createDestPath = 8; bool allowWildcard = 9; }`,
  { keepCase: true },
).root;
const Op = llb.lookupType('t.Op');

function op(value: Record<string, unknown>): { bytes: Uint8Array; digest: string } {
  const bytes = Op.encode(Op.fromObject(value)).finish();
  return { bytes, digest: `sha256:${createHash('sha256').update(bytes).digest('hex')}` };
}

const platform = { Architecture: 'amd64', OS: 'linux' };
const TAG = 'docker.io/library/tracebuild-buildkit-it:latest';

function docker(...args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

describe.skipIf(reason !== undefined)('BuildKit client lifetime', () => {
  it('leaves no sockets or servers open after close()', async () => {
    // What keeps the event loop alive (so what would keep the CLI from exiting).
    const alive = (): string[] => process.getActiveResourcesInfo().filter((r) => r !== 'Timeout').sort();
    await new Promise((r) => setTimeout(r, 300));
    const before = alive();
    const c = await connectBuildKit(endpoint);
    await c.listWorkers();
    // A whole solve too: session socket, Status stream, gateway calls.
    const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
    const terminal = op({ inputs: [{ digest: image.digest, index: 0 }] });
    const emptyCtx = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-it-empty-'));
    await c.solve({
      contextDir: emptyCtx,
      dockerignore: [],
      entitlements: [],
      onStatus: () => undefined,
      frontend: async () => ({ definition: { def: [image.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
    });
    rmSync(emptyCtx, { recursive: true, force: true });
    const during = alive();
    expect(during.length).toBeGreaterThan(before.length); // the local /grpc proxy listens
    c.close();
    await new Promise((r) => setTimeout(r, 200));
    expect(alive()).toEqual(before);
  });
});

describe.skipIf(reason !== undefined)('BuildKit client against dockerd', () => {
  let client: BuildKitClient;
  let ctx: string;

  beforeAll(async () => {
    client = await connectBuildKit(endpoint);
    ctx = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-it-ctx-'));
    writeFileSync(path.join(ctx, 'a.txt'), 'hello from the context\n');
    mkdirSync(path.join(ctx, 'sub'));
    writeFileSync(path.join(ctx, 'sub', 'b.txt'), 'b\n');
    writeFileSync(path.join(ctx, 'ignored.log'), 'must not be sent\n');
    writeFileSync(path.join(ctx, 'keep.log'), 'kept by !keep.log\n');
    writeFileSync(path.join(ctx, 'daemon-excluded.txt'), 'excluded by local.excludepatterns\n');
    linkSync(path.join(ctx, 'a.txt'), path.join(ctx, 'hard.txt'));
    symlinkSync('/etc', path.join(ctx, 'evil'));
    symlinkSync('../..', path.join(ctx, 'evil2'));
    try {
      docker('image', 'rm', '-f', TAG);
    } catch {
      // not there
    }
  });

  afterAll(() => {
    client?.close();
    if (ctx) rmSync(ctx, { recursive: true, force: true });
  });

  it('lists the workers', async () => {
    const workers = await client.listWorkers();
    expect(workers.length).toBeGreaterThan(0);
    expect(workers[0]?.platforms.some((p) => p.os === 'linux' && p.architecture === 'amd64')).toBe(true);
  });

  it('runs a gateway solve and exports the image with the returned config', async () => {
    const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
    const local = op({
      source: { identifier: 'local://context', attrs: { 'local.excludepatterns': '["daemon-excluded.txt"]' } },
      platform,
    });
    const copy = op({
      inputs: [
        { digest: image.digest, index: 0 },
        { digest: local.digest, index: 0 },
      ],
      file: {
        actions: [
          { input: 0, secondaryInput: 1, output: 0, copy: { src: '/', dest: '/ctx', mode: -1, dirCopyContents: true, createDestPath: true, allowWildcard: true } },
        ],
      },
      platform,
    });
    const exec = op({
      inputs: [{ digest: copy.digest, index: 0 }],
      exec: {
        meta: {
          args: ['/bin/sh', '-c', `cat /run/secrets/tok > /secret-out && echo built-on-host-network && ls /ctx # ${Date.now()}`],
          env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin'],
          cwd: '/',
        },
        mounts: [
          { input: 0, dest: '/', output: 0 },
          { input: -1, dest: '/run/secrets/tok', output: -1, mountType: 1, secretOpt: { ID: 'tok', mode: 0o400 } },
        ],
        network: 1, // HOST: the daemon runs without a bridge
      },
      platform,
    });
    const terminal = op({ inputs: [{ digest: exec.digest, index: 0 }] });
    const definition: LlbDefinition = {
      def: [image.bytes, local.bytes, copy.bytes, exec.bytes, terminal.bytes],
      metadata: { [exec.digest]: { description: { 'llb.customname': 'RUN the test step' } } },
    };

    const batches: StatusBatch[] = [];
    const served: ServedFile[] = [];
    let resolved: { digest?: string; config: Record<string, unknown> } | undefined;
    const result = await client.solve({
      contextDir: ctx,
      dockerignore: ['# comment', '*.log', '!keep.log'],
      exporter: { type: 'moby', attrs: { name: TAG } },
      entitlements: ['network.host'],
      secrets: { tok: Buffer.from('s3cret') },
      onStatus: (b) => batches.push(b),
      onFileServed: (f) => served.push(f),
      frontend: async (gateway) => {
        resolved = await gateway.resolveImageConfig('docker.io/library/busybox:local', { os: 'linux', architecture: 'amd64' });
        const base = (resolved.config.config ?? {}) as Record<string, unknown>;
        return {
          definition,
          imageConfig: {
            architecture: 'amd64',
            os: 'linux',
            config: { ...base, Env: ['PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'TRACEBUILD=1'], Cmd: ['sh'], Labels: { 'tracebuild.test': 'yes' } },
          },
        };
      },
    });

    // The base config came back through the gateway.
    expect(resolved?.config.os).toBe('linux');
    expect(result.exporterResponse['containerimage.digest']).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The exported image carries the config we returned.
    const inspect = JSON.parse(docker('image', 'inspect', TAG))[0] as { Id: string; Config: { Env: string[]; Cmd: string[]; Labels: Record<string, string> } };
    expect(inspect.Id).toBe(result.exporterResponse['containerimage.digest']);
    expect(inspect.Config.Labels).toEqual({ 'tracebuild.test': 'yes' });
    expect(inspect.Config.Env).toContain('TRACEBUILD=1');
    expect(inspect.Config.Cmd).toEqual(['sh']);

    // What the context sent: dockerignore and the daemon's excludes applied, links as links.
    const listing = docker('run', '--rm', '--network', 'none', TAG, 'sh', '-c', 'cd /ctx && find . | sort && readlink evil && readlink evil2 && stat -c %h a.txt && cat /secret-out');
    const lines = listing.trim().split('\n');
    expect(lines).toEqual([
      '.',
      './a.txt',
      './evil',
      './evil2',
      './hard.txt',
      './keep.log',
      './sub',
      './sub/b.txt',
      '/etc',
      '../..',
      '2', // a.txt and hard.txt stay one inode: sent as a hardlink
      's3cret',
    ]);
    const servedPaths = served.map((f) => f.path).sort();
    expect(servedPaths).not.toContain('ignored.log');
    expect(servedPaths).not.toContain('daemon-excluded.txt');
    expect(servedPaths).toContain('a.txt');
    const a = served.find((f) => f.path === 'a.txt');
    expect(a?.sha256).toBe(createHash('sha256').update('hello from the context\n').digest('hex'));
    expect(a?.size).toBe(23);

    // Status: the exec vertex (digest computed here) ran, with exact timestamps and logs.
    const vertexes = batches.flatMap((b) => b.vertexes);
    const execDone = vertexes.find((v) => v.digest === exec.digest && v.completed);
    expect(execDone?.name).toBe('RUN the test step');
    expect(execDone?.cached).toBe(false);
    expect(typeof execDone?.startedNs).toBe('bigint');
    expect(execDone!.completedNs! >= execDone!.startedNs!).toBe(true);
    const logText = batches.flatMap((b) => b.logs).filter((l) => l.vertex === exec.digest).map((l) => Buffer.from(l.data).toString()).join('');
    expect(logText).toContain('built-on-host-network');
  });

  it('maps a failing build to SolveError with the daemon message', async () => {
    const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
    const exec = op({
      inputs: [{ digest: image.digest, index: 0 }],
      exec: { meta: { args: ['/bin/sh', '-c', 'exit 3'], cwd: '/' }, mounts: [{ input: 0, dest: '/', output: 0 }], network: 1 },
      platform,
    });
    const terminal = op({ inputs: [{ digest: exec.digest, index: 0 }] });
    const err = await client
      .solve({
        contextDir: ctx,
        dockerignore: [],
        entitlements: ['network.host'],
        onStatus: () => undefined,
        frontend: async () => ({ definition: { def: [image.bytes, exec.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect((err as SolveError).code).toBe('solve-failed');
    expect((err as SolveError).message).toMatch(/exit code: 3/);
  });

  it('returns a frontend error to the daemon and rethrows it unchanged', async () => {
    const mine = new Error('Dockerfile:3: unknown instruction FROB');
    const err = await client
      .solve({
        contextDir: ctx,
        dockerignore: [],
        entitlements: [],
        onStatus: () => undefined,
        frontend: async () => {
          throw mine;
        },
      })
      .catch((e: unknown) => e);
    expect(err).toBe(mine);
  });

  it('serves the session over Control.Session (the standalone buildkitd path)', async () => {
    const viaControl = await connectBuildKit(endpoint, { sessionTransport: 'control-stream' });
    try {
      const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
      const local = op({ source: { identifier: 'local://context' }, platform });
      const copy = op({
        inputs: [
          { digest: image.digest, index: 0 },
          { digest: local.digest, index: 0 },
        ],
        file: { actions: [{ input: 0, secondaryInput: 1, output: 0, copy: { src: '/sub', dest: '/only-sub', mode: -1, dirCopyContents: true, createDestPath: true, allowWildcard: true } }] },
        platform,
      });
      const terminal = op({ inputs: [{ digest: copy.digest, index: 0 }] });
      const served: ServedFile[] = [];
      writeFileSync(path.join(ctx, 'sub', 'fresh.txt'), `fresh ${Date.now()}\n`);
      await viaControl.solve({
        contextDir: ctx,
        dockerignore: ['*.log'],
        entitlements: [],
        onStatus: () => undefined,
        onFileServed: (f) => served.push(f),
        frontend: async () => ({ definition: { def: [image.bytes, local.bytes, copy.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
      });
      expect(served.map((f) => f.path)).toContain('sub/fresh.txt');
    } finally {
      viaControl.close();
    }
  });

  it('cancels while the frontend is still working', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const err = await client
      .solve({
        contextDir: ctx,
        dockerignore: [],
        entitlements: [],
        signal: ac.signal,
        onStatus: () => undefined,
        frontend: () => new Promise(() => undefined), // never settles
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect((err as SolveError).code).toBe('cancelled');
  });

  it('cancels a running build when the signal fires', async () => {
    const marker = String(Date.now());
    const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
    const exec = op({
      inputs: [{ digest: image.digest, index: 0 }],
      exec: { meta: { args: ['/bin/sh', '-c', `sleep 60 # ${marker}`], cwd: '/' }, mounts: [{ input: 0, dest: '/', output: 0 }], network: 1 },
      platform,
    });
    const terminal = op({ inputs: [{ digest: exec.digest, index: 0 }] });
    const ac = new AbortController();
    const started = Date.now();
    const err = await client
      .solve({
        contextDir: ctx,
        dockerignore: [],
        entitlements: ['network.host'],
        signal: ac.signal,
        onStatus: (b) => {
          if (b.vertexes.some((v) => v.digest === exec.digest && v.started)) setTimeout(() => ac.abort(), 500);
        },
        frontend: async () => ({ definition: { def: [image.bytes, exec.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SolveError);
    expect((err as SolveError).code).toBe('cancelled');
    expect(Date.now() - started).toBeLessThan(30_000);
    // The daemon killed the step: no `sleep 60` of ours is left running.
    await new Promise((r) => setTimeout(r, 1_000));
    expect(execFileSync('ps', ['-eo', 'args'], { encoding: 'utf8' })).not.toContain(`sleep 60 # ${marker}`);
  });
});

describe.skipIf(reason !== undefined || endpoint.kind !== 'docker' || !endpoint.address.startsWith('unix:///'))('BuildKit client on the buildkitd path', () => {
  for (const kind of ['unix', 'tcp'] as const) {
    it(`dials ${kind}:// directly and serves the session over Control.Session`, async () => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-it-bkd-'));
      const standIn = await startBuildkitdStandIn(endpoint.address.slice('unix://'.length), kind === 'unix' ? { path: path.join(dir, 'buildkitd.sock') } : { port: 0, host: '127.0.0.1' });
      const ctxDir = path.join(dir, 'ctx');
      mkdirSync(ctxDir);
      writeFileSync(path.join(ctxDir, 'f.txt'), `${kind} ${Date.now()}\n`);
      const c = await connectBuildKit({ kind: 'buildkitd', address: standIn.address });
      try {
        expect((await c.listWorkers()).length).toBeGreaterThan(0);
        const image = op({ source: { identifier: 'docker-image://docker.io/library/busybox:local' }, platform });
        const local = op({ source: { identifier: 'local://context' }, platform });
        const copy = op({
          inputs: [
            { digest: image.digest, index: 0 },
            { digest: local.digest, index: 0 },
          ],
          file: { actions: [{ input: 0, secondaryInput: 1, output: 0, copy: { src: '/f.txt', dest: '/f.txt', mode: -1, createDestPath: true, allowWildcard: true } }] },
          platform,
        });
        const terminal = op({ inputs: [{ digest: copy.digest, index: 0 }] });
        const served: ServedFile[] = [];
        await c.solve({
          contextDir: ctxDir,
          dockerignore: [],
          entitlements: [],
          onStatus: () => undefined,
          onFileServed: (f) => served.push(f),
          frontend: async () => ({ definition: { def: [image.bytes, local.bytes, copy.bytes, terminal.bytes], metadata: {} }, imageConfig: {} }),
        });
        expect(served.map((f) => f.path)).toEqual(['f.txt']);
      } finally {
        c.close();
        standIn.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('reports a missing buildkitd socket in one line', async () => {
    const err = await connectBuildKit({ kind: 'buildkitd', address: 'unix:///nonexistent/buildkitd.sock' }).catch((e: unknown) => e);
    expect((err as BuildKitConnectionError).code).toBe('unreachable');
    expect((err as Error).message).toBe('cannot connect to BuildKit at unix:///nonexistent/buildkitd.sock: connect ENOENT');
  });
});

describe('BuildKit connection errors', () => {
  it('names the address in a one-line error when nothing listens there', async () => {
    const err = await connectBuildKit({ kind: 'docker', address: 'unix:///nonexistent/docker.sock' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BuildKitConnectionError);
    expect((err as BuildKitConnectionError).code).toBe('unreachable');
    expect((err as Error).message).toBe('cannot connect to BuildKit at unix:///nonexistent/docker.sock: connect ENOENT');
  });

  it('says no BuildKit answered when the peer is not BuildKit', async () => {
    const http = await import('node:http');
    const server = http.createServer((_req, res) => {
      res.statusCode = 404;
      res.end('page not found');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await connectBuildKit({ kind: 'docker', address: `tcp://127.0.0.1:${port}` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BuildKitConnectionError);
      expect((err as BuildKitConnectionError).code).toBe('not-buildkit');
      expect((err as Error).message).toBe(`cannot connect to BuildKit at tcp://127.0.0.1:${port}: no BuildKit answered (HTTP 404 on /grpc)`);
    } finally {
      server.close();
    }
  });
});
