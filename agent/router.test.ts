import { describe, expect, it } from 'vitest';
import type { Vertex } from '../model/index.js';
import { abi, type MonitorGap, type TraceEvent } from '../tracer/index.js';
import { cgroupRecord, deliver, execRecord, forkRecord, lossRecord } from '../test/helpers/probe-records.js';
import { lossSlots } from './records.js';
import { Router } from './router.js';

/** Wall clock = kernel time + OFFSET (the READY record's). */
const OFFSET = 1_700_000_000_000_000_000n;
const MS = 1_000_000n;
/** Kernel time of `ms` after the test's start, and its wall-clock ns. */
const k = (ms: number): bigint => 10_000n * MS + BigInt(ms) * MS;
const wall = (ms: number): bigint => k(ms) + OFFSET;
const wallMs = (ms: number): number => Number(wall(ms) / MS);

interface Got {
  records: { type: number; cgroup: bigint; ev: TraceEvent | undefined; buf: Buffer; base: number }[];
  gaps: MonitorGap[];
}

function setup() {
  let now = wallMs(0);
  const router = new Router({ settleMs: 1000, now: () => now });
  router.setClock(OFFSET);
  const got = new Map<string, Got>();
  const add = (ref: string): Got => {
    const g: Got = { records: [], gaps: [] };
    got.set(ref, g);
    router.addBuild(ref, {
      record: (buf, base, _len, ev) => {
        // every record handed on is framed: its length just before it
        expect(buf.readUInt32LE(base - 4)).toBeGreaterThan(0);
        // a cgroup's own records count as the cgroup's (their header is runc's)
        const cgroup = ev?.kind === 'cgroup-mkdir' || ev?.kind === 'cgroup-rmdir' ? ev.id : buf.readBigUInt64LE(base + 16);
        g.records.push({ type: buf.readUInt32LE(base), cgroup, ev, buf, base });
      },
      gap: (gap) => g.gaps.push(gap),
    });
    return g;
  };
  const push = (...records: Buffer[]): void => deliver(records, (d) => router.push(d.buf, d.base, d.len, d.ev));
  const at = (ms: number): void => {
    now = wallMs(ms);
    router.tick();
  };
  return { router, add, push, at };
}

const runVertex = (digest: string, name: string, startMs: number, endMs?: number): Vertex => ({
  digest,
  name,
  cached: false,
  startedNs: wall(startMs),
  ...(endMs === undefined ? {} : { completedNs: wall(endMs) }),
});

const SH = (cmd: string): string[] => ['/bin/sh', '-c', cmd];
const kinds = (g: Got): number[] => g.records.map((r) => r.type);
const E = abi.EventType;

describe('Router: each build gets the records of its own containers', () => {
  it('holds a container until it is decided, then gives its records, in order, to the build whose RUN it runs', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    router.updateVertices('a', [runVertex('sha256:v1', '[2/3] RUN echo a', 0)]);
    push(cgroupRecord('mkdir', k(10), 100n, '/docker/buildkit/x1'), forkRecord(k(11), 100n, 5, 6), execRecord(k(12), 100n, 6, SH('echo a')));
    at(500);
    expect(a.records).toHaveLength(0); // within the settle time: other builds' Status streams may still report
    at(1100);
    expect(kinds(a)).toEqual([E.CgroupMkdir, E.Fork, E.Exec]);
    // decided: later records go at once
    push(forkRecord(k(1200), 100n, 6, 7), cgroupRecord('rmdir', k(1300), 100n, '/docker/buildkit/x1'));
    expect(kinds(a)).toEqual([E.CgroupMkdir, E.Fork, E.Exec, E.Fork, E.CgroupRmdir]);
    expect(router.argvOf('sha256:v1')).toEqual(SH('echo a'));
  });

  it('gives two builds running at once only their own containers (by command and time)', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    const b = add('b');
    router.updateVertices('a', [runVertex('sha256:va', '[2/2] RUN make a', 0)]);
    router.updateVertices('b', [runVertex('sha256:vb', '[stage-1 3/4] RUN make b', 5)]);
    push(
      cgroupRecord('mkdir', k(10), 1n, '/docker/buildkit/ca'),
      cgroupRecord('mkdir', k(11), 2n, '/docker/buildkit/cb'),
      execRecord(k(12), 2n, 20, SH('make b')),
      execRecord(k(13), 1n, 10, SH('make a')),
      // a cgroup nested in a's container follows it
      cgroupRecord('mkdir', k(14), 3n, '/docker/buildkit/ca/inner', 4),
      forkRecord(k(15), 3n, 11, 12),
    );
    at(1200);
    expect(a.records.every((r) => r.cgroup === 1n || r.cgroup === 3n)).toBe(true);
    expect(b.records.every((r) => r.cgroup === 2n)).toBe(true);
    expect(a.records.map((r) => (r.ev?.kind === 'exec' ? r.ev.argv.join(' ') : r.type))).toEqual([E.CgroupMkdir, '/bin/sh -c make a', E.CgroupMkdir, E.Fork]);
    expect(b.records.map((r) => (r.ev?.kind === 'exec' ? r.ev.argv.join(' ') : r.type))).toEqual([E.CgroupMkdir, '/bin/sh -c make b']);
    expect(router.stats).toMatchObject({ decided: 2, withheld: 0 });
  });

  it('matches exec args exactly when it saw the LLB (a tracebuild client), whatever the name says', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    router.addOps('a', [{ digest: 'sha256:v1', execArgs: ['/bin/sh', '-c', 'echo $HOME'], name: '[2/2] RUN echo /root' }]);
    router.updateVertices('a', [runVertex('sha256:v1', '[2/2] RUN echo /root', 0)]);
    push(cgroupRecord('mkdir', k(10), 7n, '/docker/buildkit/x'), execRecord(k(11), 7n, 70, ['/bin/sh', '-c', 'echo $HOME']));
    at(1100);
    expect(a.records).toHaveLength(2);
  });

  it('gives a vertex two builds share (one execution) to both', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    const b = add('b');
    const v = runVertex('sha256:same', '[2/2] RUN apt-get update', 0);
    router.updateVertices('a', [v]);
    router.updateVertices('b', [v]);
    push(cgroupRecord('mkdir', k(10), 9n, '/docker/buildkit/s'), execRecord(k(11), 9n, 90, SH('apt-get update')));
    at(1100);
    expect(a.records).toHaveLength(2);
    expect(b.records).toHaveLength(2);
  });

  it('withholds a container that could be either of two builds, and tells both', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    const b = add('b');
    router.updateVertices('a', [runVertex('sha256:va', '[3/3] RUN make', 0, 5000)]);
    router.updateVertices('b', [runVertex('sha256:vb', '[3/3] RUN make', 1, 5000)]);
    push(
      cgroupRecord('mkdir', k(10), 1n, '/docker/buildkit/c1'),
      execRecord(k(11), 1n, 10, SH('make')),
      cgroupRecord('mkdir', k(12), 2n, '/docker/buildkit/c2'),
      execRecord(k(13), 2n, 20, SH('make')),
      cgroupRecord('rmdir', k(4000), 1n, '/docker/buildkit/c1'),
      cgroupRecord('rmdir', k(4001), 2n, '/docker/buildkit/c2'),
    );
    at(5200);
    expect(a.records).toHaveLength(0);
    expect(b.records).toHaveLength(0);
    expect(a.gaps.map((g) => g.kind)).toEqual(['agent-withheld', 'agent-withheld']);
    expect(b.gaps).toHaveLength(2);
    expect(a.gaps[0]?.reason).toMatch(/could not tell which of 2 builds running at once the container \/docker\/buildkit\/c1 \(cgroup 1\) belonged to/);
    expect(router.stats.withheld).toBe(2);
  });

  it('tells such containers apart when only one run contains the container, or one vertex already has its container', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    const b = add('b');
    // a's make ends at 2 s, b's is still running; the first container ends at 1.9 s
    router.updateVertices('a', [runVertex('sha256:va', '[3/3] RUN make', 0, 2000)]);
    router.updateVertices('b', [runVertex('sha256:vb', '[3/3] RUN make', 1)]);
    push(cgroupRecord('mkdir', k(10), 1n, '/docker/buildkit/c1'), execRecord(k(11), 1n, 10, SH('make')), cgroupRecord('mkdir', k(12), 2n, '/docker/buildkit/c2'), execRecord(k(13), 2n, 20, SH('make')));
    at(1500);
    expect(a.records).toHaveLength(0); // both still running: not decided yet
    push(cgroupRecord('rmdir', k(1900), 1n, '/docker/buildkit/c1'));
    at(2500);
    expect(a.records).toHaveLength(0); // c2 may still be a's: its run is not over (with the tolerance)
    // c2 is still alive after a's run (a loss report of the loader says the time): not a's
    push(lossRecord(k(3200), {}));
    at(3300);
    const containers = (g: Got): bigint[] => g.records.filter((r) => r.ev?.kind !== 'loss').map((r) => r.cgroup);
    expect(containers(a)).toEqual([1n, 1n, 1n]);
    // the second: a's vertex has its container, so it is b's
    expect(containers(b)).toEqual([2n, 2n]);
    expect(a.gaps).toHaveLength(0);
    expect(b.gaps).toHaveLength(0);
  });

  it('drops the containers of builds it does not know (a client that bypassed the agent)', () => {
    const { router, add, push, at } = setup();
    const a = add('a');
    router.updateVertices('a', [runVertex('sha256:va', '[2/2] RUN make', 0)]);
    push(cgroupRecord('mkdir', k(10), 4n, '/docker/buildkit/other'), execRecord(k(11), 4n, 40, SH('curl evil')), cgroupRecord('rmdir', k(20), 4n, '/docker/buildkit/other'));
    at(2000);
    expect(a.records).toHaveLength(0);
    expect(router.stats.unclaimed).toBe(1);
  });

  it('sends loss reports to every build, counted from its start', () => {
    const { add, push } = setup();
    push(lossRecord(k(1), { [abi.Loss.RingbufFirst]: 5n, [abi.Loss.DigestFailed]: 1n }));
    const a = add('a');
    push(lossRecord(k(2), { [abi.Loss.RingbufFirst]: 7n, [abi.Loss.DigestFailed]: 1n }));
    const r = a.records[0];
    expect(r?.ev?.kind).toBe('loss');
    const slots = lossSlots(r!.buf, r!.base);
    expect(slots[abi.Loss.RingbufFirst]).toBe(2n);
    expect(slots[abi.Loss.DigestFailed]).toBe(0n);
    expect(r?.ev?.kind === 'loss' && r.ev.counters.ringbuf['cgroup-mkdir']).toBe(2n);
  });

  it('undecidedFor and forceFor: a build at its end does not wait for ever', () => {
    const { router, add, push } = setup();
    const a = add('a');
    router.updateVertices('a', [runVertex('sha256:va', '[2/2] RUN make', 0, 3000)]);
    push(cgroupRecord('mkdir', k(10), 1n, '/docker/buildkit/c1'), execRecord(k(11), 1n, 10, SH('make')));
    expect(router.undecidedFor('a')).toBe(1);
    router.forceFor('a');
    expect(router.undecidedFor('a')).toBe(0);
    expect(a.records).toHaveLength(2);
  });

  it('forgets a build: its vertices no longer claim containers', () => {
    const { router, add, push, at } = setup();
    add('a');
    router.updateVertices('a', [runVertex('sha256:va', '[2/2] RUN make', 0)]);
    router.removeBuild('a');
    push(cgroupRecord('mkdir', k(10), 1n, '/docker/buildkit/c1'), execRecord(k(11), 1n, 10, SH('make')), cgroupRecord('rmdir', k(12), 1n, '/docker/buildkit/c1'));
    at(2000);
    expect(router.stats.unclaimed).toBe(1);
    expect(router.hasBuild('a')).toBe(false);
  });
});
