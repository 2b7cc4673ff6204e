// The build flags that reach every RUN and base image (--pull, --add-host, --shm-size,
// --ulimit, --no-cache-filter): the LLB they produce, and the daemons that cannot run them.
import { describe, expect, it } from 'vitest';
import { convertError, convertText, ON_V0_13, ON_V0_8 } from '../../test/helpers/convert.js';
import { decodeDefinition, type DecodedOp } from '../llb/index.js';
import type { Conversion, ConvertOptions } from './index.js';

const convert = (text: string, extra: Partial<ConvertOptions> = {}): Promise<Conversion> => convertText(text, { ...ON_V0_13, ...extra });
const ops = (c: Conversion): DecodedOp[] => decodeDefinition(c.definition);
type Exec = { meta: { args: string[]; extraHosts?: unknown; ulimit?: unknown; cgroupParent?: unknown }; mounts: { dest: string; mountType?: string; TmpfsOpt?: { size?: number } }[] };
const execOps = (c: Conversion): DecodedOp[] => ops(c).filter((o) => o.op['exec']);
const exec = (o: DecodedOp): Exec => o.op['exec'] as Exec;

const DF = ['FROM busybox:local AS deps', 'RUN echo deps', 'FROM busybox:local AS app', 'COPY --from=deps /etc/passwd /p', 'RUN echo app', ''].join('\n');

describe('exec defaults in the LLB', () => {
  it('--add-host: every RUN gets the hosts in Meta.extraHosts', async () => {
    const c = await convert(DF, { execDefaults: { extraHosts: [{ host: 'db.internal', ip: '10.1.2.3' }, { host: 'v6', ip: '::1' }] } });
    for (const o of execOps(c)) expect(exec(o).meta.extraHosts).toEqual([{ Host: 'db.internal', IP: '10.1.2.3' }, { Host: 'v6', IP: '::1' }]);
  });

  it('--ulimit: every RUN gets Meta.ulimit, soft and hard', async () => {
    const c = await convert(DF, { execDefaults: { ulimits: [{ name: 'nofile', soft: 1024, hard: 2048 }] } });
    for (const o of execOps(c)) expect(exec(o).meta.ulimit).toEqual([{ Name: 'nofile', Soft: 1024, Hard: 2048 }]);
  });

  it('--shm-size: every RUN gets a tmpfs of that size on /dev/shm', async () => {
    const c = await convert(DF, { execDefaults: { shmSize: 128 * 1024 * 1024 } });
    for (const o of execOps(c)) {
      expect(exec(o).mounts.find((m) => m.dest === '/dev/shm')).toMatchObject({ mountType: 'TMPFS', TmpfsOpt: { size: 134217728 } });
    }
  });

  it('--no-cache-filter: only the RUNs of the named stage (any case) ignore the cache', async () => {
    const c = await convert(DF, { execDefaults: { noCacheFilter: ['DEPS'] } });
    const byArg = new Map(execOps(c).map((o) => [exec(o).meta.args[2], o.metadata?.ignore_cache === true]));
    expect(byArg).toEqual(new Map([['echo deps', true], ['echo app', false]]));
    for (const o of ops(c).filter((x) => !x.op['exec'])) expect(o.metadata?.ignore_cache).not.toBe(true);
  });

  it('--pull: base images are resolved with mode pull and their sources say image.resolvemode=pull', async () => {
    const modes: (string | undefined)[] = [];
    const c = await convert('FROM busybox:local\nRUN true\n', {
      execDefaults: { pull: true },
      resolveImageConfig: async (_ref, _platform, mode) => {
        modes.push(mode);
        return {
          digest: `sha256:${'b'.repeat(64)}`,
          config: { os: 'linux', architecture: 'amd64', config: { Env: ['PATH=/bin'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${'a'.repeat(64)}`] } },
        };
      },
    });
    expect(modes).toEqual(['pull']);
    const source = ops(c).find((o) => o.op['source'])?.op['source'] as { identifier: string; attrs?: Record<string, string> };
    expect(source.identifier).toBe(`docker-image://docker.io/library/busybox:local@sha256:${'b'.repeat(64)}`);
    expect(source.attrs).toEqual({ 'image.resolvemode': 'pull' });
  });

  it('changes nothing without the flags (the same digests as before)', async () => {
    const plain = await convert(DF);
    const none = await convert(DF, { execDefaults: {} });
    for (const o of execOps(plain)) expect(exec(o).meta.cgroupParent).toBeUndefined();
    expect(ops(none).map((o) => o.digest)).toEqual(ops(plain).map((o) => o.digest));
  });
});

describe('the cgroup parent of build --enforce', () => {
  it('every RUN gets Meta.cgroupParent, and the same parent gives the same ops (cache keys) build after build', async () => {
    const a = await convert(DF, { execDefaults: { cgroupParent: '/tracebuild-enforce-0123456789abcdef' } });
    for (const o of execOps(a)) expect(exec(o).meta.cgroupParent).toBe('/tracebuild-enforce-0123456789abcdef');
    const again = await convert(DF, { execDefaults: { cgroupParent: '/tracebuild-enforce-0123456789abcdef' } });
    expect(ops(again).map((o) => o.digest)).toEqual(ops(a).map((o) => o.digest));
    const other = await convert(DF, { execDefaults: { cgroupParent: '/tracebuild-enforce-fedcba9876543210' } });
    expect(execOps(other).map((o) => o.digest)).not.toEqual(execOps(a).map((o) => o.digest));
  });

  it('rules for selected steps: each RUN gets the parent of its own line, a RUN not listed none', async () => {
    const c = await convert(DF, { execDefaults: { cgroupParentByLine: { 5: '/tracebuild-enforce-00000000000000aa' } } });
    const parents = execOps(c).map((o) => [exec(o).meta.args.join(' '), exec(o).meta.cgroupParent]);
    expect(parents).toContainEqual(['/bin/sh -c echo app', '/tracebuild-enforce-00000000000000aa']);
    expect(parents).toContainEqual(['/bin/sh -c echo deps', undefined]);
    // the RUN of another line keeps the op (and cache key) of an unenforced build
    const plain = await convert(DF);
    const deps = (x: typeof c): string | undefined => execOps(x).find((o) => exec(o).meta.args.join(' ') === '/bin/sh -c echo deps')?.digest;
    expect(deps(c)).toBe(deps(plain));
  });

  it('is refused on BuildKit v0.8 at the first RUN, naming the daemon and the cap', async () => {
    const e = await convertError(DF, { ...ON_V0_8, execDefaults: { cgroupParent: '/tracebuild-enforce-0123456789abcdef' } });
    expect(e.message).toMatch(/^Dockerfile:2: --enforce needs a cgroup parent on execs \(LLB cap exec\.meta\.cgroup\.parent\); .*BuildKit.* cannot run it/);
  });
});

describe('exec defaults a daemon cannot run', () => {
  it('refuses --ulimit and --shm-size on BuildKit v0.8 at the first RUN, naming the daemon and the cap', async () => {
    const ulimit = await convertError(DF, { ...ON_V0_8, execDefaults: { ulimits: [{ name: 'nofile', soft: 10, hard: 10 }] } });
    expect(ulimit.message).toMatch(/^Dockerfile:2: --ulimit needs ulimits on execs \(LLB cap exec\.meta\.ulimit\)/);
    const shm = await convertError(DF, { ...ON_V0_8, execDefaults: { shmSize: 1 << 20 } });
    expect(shm.message).toMatch(/^Dockerfile:2: --shm-size needs tmpfs sizes on exec mounts \(LLB cap exec\.mount\.tmpfs\.size\)/);
  });

  it('runs --add-host, --pull and --no-cache-filter on BuildKit v0.8', async () => {
    const c = await convertText(DF, { ...ON_V0_8, execDefaults: { extraHosts: [{ host: 'h', ip: '10.0.0.1' }], noCacheFilter: ['app'], pull: true } });
    expect(execOps(c).length).toBe(2);
  });
});
