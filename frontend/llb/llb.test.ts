import { describe, expect, it } from 'vitest';
import { lookupType } from '../proto/index.js';
import { FileAction, LlbState, decodeDefinition, digestOf, marshal, sha256Digest, cleanAbs } from './index.js';
import type { LlbDefinition } from './index.js';

const amd64 = { os: 'linux', architecture: 'amd64' };
const Op = lookupType('pb.Op');

function decode(bytes: Uint8Array): Record<string, unknown> {
  return Op.toObject(Op.decode(bytes), { longs: Number, enums: String, bytes: String, defaults: false }) as Record<string, unknown>;
}

function sample(): { result: LlbState; run: LlbState; ctx: LlbState } {
  const img = LlbState.image('docker.io/library/busybox:local', { platform: amd64 });
  const ctx = LlbState.local('context', { sharedKeyHint: 'context', excludePatterns: ['*.tmp'], followPaths: ['a.txt'] });
  const run = img.run({ args: ['/bin/sh', '-c', 'echo hi'], env: ['PATH=/bin', 'A=1'], cwd: '/app', user: 'nobody' });
  const result = run.file(FileAction.copy(ctx, '/a.txt', '/app/', { followSymlink: true, createDestPath: true }));
  return { result, run, ctx };
}

describe('marshal', () => {
  it('is deterministic: the same graph gives the same bytes and digests', () => {
    const a = sample();
    const b = sample();
    const da = marshal(a.result, new Map([[a.run, { description: { 'llb.customname': 'RUN', a: 'x' } }]]));
    const db = marshal(b.result, new Map([[b.run, { description: { a: 'x', 'llb.customname': 'RUN' } }]]));
    expect(da.def.map((x) => Buffer.from(x).toString('hex'))).toEqual(db.def.map((x) => Buffer.from(x).toString('hex')));
    expect(JSON.stringify(da.metadata)).toEqual(JSON.stringify(db.metadata));
    expect(digestOf(a.result)).toEqual(digestOf(b.result));
  });

  it('sorts map entries whatever the insertion order', () => {
    const x = LlbState.source('local://c', { 'local.sharedkeyhint': 'c', 'local.excludepatterns': '["a"]', 'local.followpaths': '["b"]' });
    const y = LlbState.source('local://c', { 'local.followpaths': '["b"]', 'local.sharedkeyhint': 'c', 'local.excludepatterns': '["a"]' });
    const dx = marshal(x);
    const dy = marshal(y);
    expect(Buffer.from(dx.def[0] as Uint8Array).equals(Buffer.from(dy.def[0] as Uint8Array))).toBe(true);
    const op = decode(dx.def[0] as Uint8Array) as { source: { attrs: Record<string, string> } };
    expect(Object.keys(op.source.attrs)).toEqual(['local.excludepatterns', 'local.followpaths', 'local.sharedkeyhint']);
  });

  it('encodes the image source exactly as BuildKit does (digest seen on the live daemon)', () => {
    const img = LlbState.image('docker.io/library/busybox:local', { platform: amd64 });
    expect(digestOf(img)).toBe('sha256:d3a0e66ac6ecad54267a213ed22dd9cfd8df3236f32427cbceac277792402465');
  });

  it('puts dependencies first and the terminal op (one input, nothing else) last', () => {
    const { result } = sample();
    const def = marshal(result);
    expect(def.def).toHaveLength(5);
    const ops = decodeDefinition(def);
    const seen = new Set<string>();
    for (const o of ops) {
      for (const inp of (o.op['inputs'] as { digest: string }[] | undefined) ?? []) expect(seen.has(inp.digest)).toBe(true);
      seen.add(o.digest);
    }
    const last = ops[ops.length - 1];
    expect(last?.terminal).toBe(true);
    expect(last?.op).toEqual({ inputs: [{ digest: digestOf(result) }] });
    for (const o of ops) expect(o.digest).toBe(sha256Digest(def.def[ops.indexOf(o)] as Uint8Array));
  });

  it('leaves zero values out and keeps the empty WorkerConstraints', () => {
    const { run } = sample();
    const def = marshal(run);
    const exec = decode(def.def[1] as Uint8Array);
    expect(exec).toEqual({
      inputs: [{ digest: digestOf(LlbState.image('docker.io/library/busybox:local', { platform: amd64 })) }],
      exec: {
        meta: { args: ['/bin/sh', '-c', 'echo hi'], env: ['PATH=/bin', 'A=1'], cwd: '/app', user: 'nobody' },
        mounts: [{ dest: '/' }],
      },
      platform: { Architecture: 'amd64', OS: 'linux' },
      constraints: {},
    });
    // Field 11 (constraints) present as an empty message: 0x5a 0x00 at the end.
    const bytes = Buffer.from(def.def[1] as Uint8Array);
    expect(bytes.subarray(bytes.length - 2).toString('hex')).toBe('5a00');
  });

  it('writes network and security modes', () => {
    const base = LlbState.image('docker.io/library/busybox:local', { platform: amd64 });
    const host = decode(marshal(base.run({ args: ['true'], network: 'host' })).def[1] as Uint8Array);
    const none = decode(marshal(base.run({ args: ['true'], network: 'none', security: 'insecure' })).def[1] as Uint8Array);
    expect((host['exec'] as Record<string, unknown>)['network']).toBe('HOST');
    expect((none['exec'] as Record<string, unknown>)['network']).toBe('NONE');
    expect((none['exec'] as Record<string, unknown>)['security']).toBe('INSECURE');
    const sandbox = decode(marshal(base.run({ args: ['true'] })).def[1] as Uint8Array);
    expect((sandbox['exec'] as Record<string, unknown>)['network']).toBeUndefined();
  });

  it('numbers file actions like BuildKit: last output 0, others -1, n+k for earlier results', () => {
    const base = LlbState.image('docker.io/library/busybox:local', { platform: amd64 });
    const ctx = LlbState.local('context');
    const chain = FileAction.copy(ctx, '/a', '/x/', { owner: { user: 'nobody', group: 0 } })
      .mkdir('/y', 0o755, { makeParents: true })
      .mkfile('/y/f', 0o644, 'hi')
      .rm('/z', { allowNotFound: true });
    const def = marshal(base.file(chain));
    const op = decode(def.def[def.def.length - 2] as Uint8Array) as { inputs: unknown[]; file: { actions: Record<string, unknown>[] } };
    expect(op.inputs).toHaveLength(2);
    const acts = op.file.actions;
    expect(acts.map((a) => [a['input'] ?? 0, a['secondaryInput'] ?? 0, a['output'] ?? 0])).toEqual([
      [0, 1, -1],
      [2, -1, -1],
      [3, -1, -1],
      [4, -1, 0],
    ]);
    expect(acts[0]?.['copy']).toEqual({
      src: '/a',
      dest: '/x/',
      owner: { user: { byName: { name: 'nobody' } }, group: { byID: 0 } },
      mode: -1,
      timestamp: -1,
    });
    expect(acts[2]?.['mkfile']).toEqual({ path: '/y/f', mode: 0o644, data: Buffer.from('hi').toString('base64'), timestamp: -1 });
    expect(acts[3]?.['rm']).toEqual({ path: '/z', allowNotFound: true });
  });

  it('uses -1 for a scratch base', () => {
    const ctx = LlbState.local('context');
    const def = marshal(LlbState.scratch().file(FileAction.copy(ctx, '/a', '/a')));
    const op = decode(def.def[1] as Uint8Array) as { inputs: unknown[]; file: { actions: Record<string, unknown>[] } };
    expect(op.inputs).toHaveLength(1);
    expect(op.file.actions[0]?.['input']).toBe(-1);
    expect(op.file.actions[0]?.['secondaryInput']).toBeUndefined(); // 0
    expect(op['platform' as keyof typeof op]).toEqual({ Architecture: 'amd64', OS: 'linux' });
  });

  it('gives local sources no platform and an empty definition for scratch', () => {
    const def = marshal(LlbState.local('context', { sharedKeyHint: 'context' }));
    expect(decode(def.def[0] as Uint8Array)).toEqual({
      source: { identifier: 'local://context', attrs: { 'local.sharedkeyhint': 'context' } },
      constraints: {},
    });
    expect(marshal(LlbState.scratch())).toEqual({ def: [], metadata: {} });
  });

  it('keys metadata by digest and merges ignore_cache', () => {
    const { result, run, ctx } = sample();
    const def: LlbDefinition = marshal(
      result,
      new Map([
        [run, { ignore_cache: true, description: { 'llb.customname': 'run' } }],
        [ctx, { description: { 'llb.customname': 'ctx' } }],
        [LlbState.local('not-in-graph'), { description: { 'llb.customname': 'x' } }],
      ]),
    );
    expect(def.def).toHaveLength(5);
    expect(def.metadata[digestOf(run) as string]).toEqual({ ignore_cache: true, description: { 'llb.customname': 'run' } });
    expect(def.metadata[digestOf(ctx) as string]).toEqual({ description: { 'llb.customname': 'ctx' } });
    expect(Object.keys(def.metadata)).toHaveLength(2);
  });

  it('decodes with the protobufjs definitions: Definition wrapper round trip', () => {
    const { result } = sample();
    const def = marshal(result);
    const Definition = lookupType('pb.Definition');
    const bytes = Definition.encode({ def: def.def, metadata: {} }).finish();
    const back = Definition.decode(bytes) as unknown as { def: Uint8Array[] };
    expect(back.def.map((b) => sha256Digest(b))).toEqual(decodeDefinition(def).map((o) => o.digest));
  });

  it('sorts exec mounts by destination and numbers outputs', () => {
    const base = LlbState.image('docker.io/library/busybox:local', { platform: amd64 });
    const other = LlbState.local('context');
    const e = base.exec({
      args: ['true'],
      mounts: [
        { dest: '/z', source: other },
        { dest: '/a', source: other, readonly: true },
        { dest: '/run/secrets/s', type: 'secret', id: 's', mode: 0o400 },
        { dest: '/cache', type: 'cache', cacheId: 'c', cacheSharing: 'locked' },
      ],
    });
    const op = decode(marshal(e.mount('/z')).def.at(-2) as Uint8Array) as { exec: { mounts: Record<string, unknown>[] } };
    expect(op.exec.mounts.map((m) => m['dest'])).toEqual(['/', '/a', '/cache', '/z', '/run/secrets/s']);
    expect(op.exec.mounts.map((m) => m['output'] ?? 0)).toEqual([0, -1, -1, 1, -1]);
    expect(op.exec.mounts.map((m) => m['input'] ?? 0)).toEqual([0, 1, -1, 1, -1]);
    expect(op.exec.mounts[2]?.['cacheOpt']).toEqual({ ID: 'c', sharing: 'LOCKED' });
    expect(op.exec.mounts[4]?.['secretOpt']).toEqual({ ID: 's', mode: 0o400 });
  });

  it('normalizes paths like BuildKit (trailing slash kept for copy destinations)', () => {
    expect(cleanAbs('a/b/../c/', true)).toBe('/a/c/');
    expect(cleanAbs('/app/.', true)).toBe('/app/.');
    expect(cleanAbs('/', true)).toBe('/');
    expect(cleanAbs('x//y/', false)).toBe('/x/y');
  });

  it('is immutable', () => {
    const base = LlbState.image('docker.io/library/busybox:local');
    const before = digestOf(base);
    const next = base.run({ args: ['true'] });
    expect(digestOf(base)).toBe(before);
    expect(next).not.toBe(base);
    expect(Object.isFrozen(base)).toBe(true);
    const a = FileAction.mkdir('/a', 0o755);
    const b = a.mkdir('/b', 0o755);
    expect(a.list()).toHaveLength(1);
    expect(b.list()).toHaveLength(2);
  });
});
