// The correlator on hand-built sequences of decoded events (no probe, no daemon).
import { describe, expect, it } from 'vitest';
import { EventType, ExitEvent, FileEvent, FileOp, FileResult, ForkEvent, Header, Syscall } from './abi.js';
import { argvMatches } from './correlate/attribution.js';
import { matchesCopySource } from './correlate/copy.js';
import { Correlation, correlate as correlateOnce } from './correlate/correlation.js';
import { CorrelateError, type CorrelateInput, type CorrelateStep, type CorrelateVertex } from './correlate/input.js';
import type {
  CgroupEventData,
  DigestEventData,
  EventHeader,
  ExecEventData,
  ExitEventData,
  FileEventData,
  FileIdentity,
  FileOpName,
  ForkEventData,
  LossEventData,
  NetEventData,
  ReadyEventData,
  TraceEvent,
  UnknownEventData,
} from './decode/events.js';
import { absolutePath } from './decode/file.js';
import type { LossCounters } from './decode/losses.js';
import { decodeRecord } from './decode/record.js';
import { formatTraceTable } from './table.js';
import { unseenRunSteps } from '../model/index.js';

// ---- every trace three ways ---------------------------------------------------------------
//
// The CLI feeds a Correlation while the build runs, file, fork and exit records undecoded,
// and steps are built then when the speculation holds (Correlation). Every test here checks
// that this gives exactly the trace of building every step at the end from the events.

/** The record the probe would have written for a file, fork or exit event. */
function encode(ev: FileEventData | ForkEventData | ExitEventData): Buffer {
  const strings = ev.kind === 'file' ? [ev.path1, ev.path2, ev.dir1, ev.dir2, ev.resolved].map((x) => Buffer.from(x)) : [];
  const size = (ev.kind === 'file' ? FileEvent.size : ev.kind === 'fork' ? ForkEvent.size : ExitEvent.size) + strings.reduce((n, b) => n + b.length, 0);
  const b = Buffer.alloc(size);
  b.writeUInt32LE(ev.header.type, Header.fields.type.offset);
  b.writeUInt32LE(size, Header.fields.size.offset);
  b.writeBigUInt64LE(ev.header.tsNs, Header.fields.ts_ns.offset);
  b.writeBigUInt64LE(ev.header.cgroupId, Header.fields.cgroup_id.offset);
  b.writeUInt32LE(ev.header.pid, Header.fields.pid.offset);
  b.writeUInt32LE(ev.header.tgid, Header.fields.tgid.offset);
  if (ev.kind === 'fork') {
    const f = ForkEvent.fields;
    b.writeUInt32LE(ev.childPid, f.child_pid.offset);
    b.writeUInt32LE(ev.childTgid, f.child_tgid.offset);
    b.writeBigUInt64LE(ev.childStartBoottimeNs, f.child_start_boottime_ns.offset);
  } else if (ev.kind === 'exit') {
    const f = ExitEvent.fields;
    b.writeUInt32LE(ev.waitStatus, f.exit_code.offset);
    b.writeBigUInt64LE(ev.startBoottimeNs, f.start_boottime_ns.offset);
    b.writeBigUInt64LE(ev.utimeNs, f.utime_ns.offset);
    b.writeBigUInt64LE(ev.stimeNs, f.stime_ns.offset);
    b.writeBigUInt64LE(ev.runtimeNs, f.runtime_ns.offset);
    b.writeBigUInt64LE(ev.maxRssKiB, f.maxrss_kib.offset);
  } else {
    const f = FileEvent.fields;
    const op = Object.entries({ open: FileOp.Open, unlink: FileOp.Unlink, rmdir: FileOp.Rmdir, rename: FileOp.Rename, mkdir: FileOp.Mkdir, link: FileOp.Link, symlink: FileOp.Symlink, truncate: FileOp.Truncate, chmod: FileOp.Chmod, chown: FileOp.Chown }).find(([k]) => k === ev.op)?.[1] ?? 0;
    b.writeBigInt64LE(ev.ret, f.ret.offset);
    b.writeUInt32LE(op, f.op.offset);
    b.writeUInt32LE(Syscall[ev.syscall as keyof typeof Syscall] ?? 0, f.syscall.offset);
    b.writeUInt32LE(ev.flags, f.flags.offset);
    b.writeUInt32LE(ev.mode, f.mode.offset);
    b.writeInt32LE(ev.dirfd1, f.dirfd1.offset);
    b.writeInt32LE(ev.dirfd2, f.dirfd2.offset);
    b.writeUInt32LE(ev.uid, f.uid.offset);
    b.writeUInt32LE(ev.gid, f.gid.offset);
    b.writeBigInt64LE(ev.length, f.length.offset);
    b.writeUInt32LE(ev.result, f.result.offset);
    const lens = [f.path1_len, f.path2_len, f.dir1_len, f.dir2_len, f.resolved_len];
    let at = FileEvent.size;
    strings.forEach((x, k) => {
      b.writeUInt16LE(x.length, (lens[k] as { offset: number }).offset);
      x.copy(b, at);
      at += x.length;
    });
  }
  // the encoding is right: it decodes back to the event
  expect({ ...decodeRecord(b), header: { ...ev.header, size: 0 } }).toEqual({ ...ev, header: { ...ev.header, size: 0 } });
  return b;
}

/** How the streamed steps were made, over all tests (both ways must be exercised). */
const paths = { speculated: 0, rebuilt: 0 };

/** correlate(), checked against the two other ways of making the same trace. */
function correlate(input: CorrelateInput): ReturnType<typeof correlateOnce> {
  const { events, ...rest } = input;
  const atEnd = new Correlation({ speculate: false, ...(input.clock ? { clock: input.clock } : {}) });
  for (const ev of events) atEnd.push(ev);
  const expected = atEnd.finish(rest);
  expect(atEnd.stats.speculated).toBe(0);

  const streamed = new Correlation(input.clock ? { clock: input.clock } : {});
  const noBytes = Buffer.alloc(0);
  for (const ev of events) {
    if (ev.kind === 'file' || ev.kind === 'fork' || ev.kind === 'exit') {
      const rec = encode(ev);
      const chunk = Buffer.concat([Buffer.alloc(4), rec]);
      chunk.writeUInt32LE(rec.length, 0);
      streamed.pushRecord(chunk, 4, rec.length, undefined);
    } else streamed.pushRecord(noBytes, 0, 0, ev);
  }
  expect(streamed.finish(rest)).toEqual(expected);
  paths.speculated += streamed.stats.speculated;
  paths.rebuilt += streamed.stats.rebuilt;

  const trace = correlateOnce(input);
  expect(trace).toEqual(expected);
  return trace;
}

// ---- fixtures --------------------------------------------------------------------------

/** wall clock = kernel ts + OFF; kernel ts of 0 is 2023-11-14T22:13:20.000Z. */
const OFF = 1_700_000_000n * 1_000_000_000n;
const ms = (n: number): bigint => BigInt(Math.round(n * 1e6));
const iso = (t: bigint): string => new Date(Number((t + OFF) / 1_000_000n)).toISOString();
const SHA = (c: string): string => c.repeat(64);

function hdr(type: number, ts: bigint, cgroupId: bigint, tgid: number): EventHeader {
  return { type, size: 0, tsNs: ts, cgroupId, pid: tgid, tgid };
}

const ID: FileIdentity = { dev: 1, ino: 2n, size: 3n, mtimeSec: 0n, mtimeNsec: 0, ctimeSec: 0n, ctimeNsec: 0, mode: 0o100755 };

function ready(opts: { digests?: boolean; traceReads?: boolean } = {}): ReadyEventData {
  return {
    kind: 'ready',
    header: hdr(EventType.Ready, 0n, 0n, 9),
    abiVersion: 1,
    ncpus: 4,
    realtimeOffsetNs: OFF,
    ringbufBytes: 64n << 20n,
    digests: opts.digests ?? true,
    traceReads: opts.traceReads ?? false,
    loaderPid: 9,
  };
}

function mkdir(ts: bigint, id: bigint, path = `/docker/buildkit/ex${id}`): CgroupEventData {
  return {
    kind: 'cgroup-mkdir',
    header: hdr(EventType.CgroupMkdir, ts, 1n, 1),
    id,
    level: 3,
    generation: 1,
    flags: 1,
    path,
    auto: true,
    notTraced: false,
    pathTruncated: false,
  };
}

function rmdir(ts: bigint, id: bigint, path = `/docker/buildkit/ex${id}`): CgroupEventData {
  return { ...mkdir(ts, id, path), kind: 'cgroup-rmdir', header: hdr(EventType.CgroupRmdir, ts, 1n, 1) };
}

interface ExecOpts {
  ts: bigint;
  cg: bigint;
  pid: number;
  ppid?: number;
  start?: bigint;
  argv: string[];
  exePath?: string;
  filename?: string;
  interp?: string;
  cwd?: string;
  digestSkipped?: boolean;
  argvTruncated?: boolean;
}

function exec(o: ExecOpts): ExecEventData {
  return {
    kind: 'exec',
    header: hdr(EventType.Exec, o.ts, o.cg, o.pid),
    ppid: o.ppid ?? 1,
    oldPid: o.pid,
    uid: 0,
    gid: 0,
    flags: 0,
    argc: o.argv.length,
    startBoottimeNs: o.start ?? o.ts - ms(1),
    exe: ID,
    filename: o.filename ?? o.argv[0] ?? '',
    interp: o.interp,
    exePath: o.exePath ?? o.argv[0] ?? '',
    cwd: o.cwd ?? '/',
    argv: o.argv,
    argvTruncated: o.argvTruncated ?? false,
    script: o.interp !== undefined,
    needsDigest: !o.digestSkipped,
    digestSkipped: o.digestSkipped ?? false,
    digestByPeer: false,
    execId: 1n,
  };
}

function digest(e: ExecEventData, kind: 'exe' | 'script', sha: string | undefined, error = 0): DigestEventData {
  return {
    kind: 'digest',
    header: { ...e.header, type: EventType.Digest },
    digestKind: kind,
    error,
    sha256: error === 0 ? sha : undefined,
    bytes: 100n,
    fromCache: false,
    identityMismatch: false,
    wasStopped: true,
    fromPeer: false,
    file: ID,
  };
}

/** An exec followed by its exe digest. */
function run(o: ExecOpts, sha = SHA('a')): [ExecEventData, DigestEventData] {
  const e = exec(o);
  return [e, digest(e, 'exe', sha)];
}

function fork(ts: bigint, cg: bigint, parent: number, child: number, childStart = ts): ForkEventData {
  return { kind: 'fork', header: hdr(EventType.Fork, ts, cg, parent), childPid: child, childTgid: child, childStartBoottimeNs: childStart };
}

function exit(
  ts: bigint,
  cg: bigint,
  pid: number,
  start: bigint,
  o: { code?: number; signal?: number; userMs?: number; sysMs?: number; rssKb?: number } = {},
): ExitEventData {
  const code = o.code ?? 0;
  return {
    kind: 'exit',
    header: hdr(EventType.Exit, ts, cg, pid),
    waitStatus: o.signal !== undefined ? o.signal : code << 8,
    exitCode: o.signal !== undefined ? undefined : code,
    signal: o.signal,
    coreDumped: false,
    startBoottimeNs: start,
    utimeNs: ms(o.userMs ?? 0),
    stimeNs: ms(o.sysMs ?? 0),
    runtimeNs: 0n,
    maxRssKiB: BigInt(o.rssKb ?? 0),
  };
}

const O_WRONLY = 0o1;
const O_RDWR = 0o2;
const O_CREAT = 0o100;
const O_TRUNC = 0o1000;

interface FileOpts {
  syscall?: FileEventData['syscall'];
  path1?: string;
  path2?: string;
  dir1?: string;
  dir2?: string;
  resolved?: string;
  flags?: number;
  mode?: number;
  uid?: number;
  gid?: number;
  created?: boolean;
}

function file(ts: bigint, cg: bigint, pid: number, op: FileOpName, o: FileOpts = {}): FileEventData {
  const path1 = o.path1 ?? '';
  const path2 = o.path2 ?? '';
  const dir1 = o.dir1 ?? '';
  const dir2 = o.dir2 ?? '';
  const resolved = o.resolved ?? '';
  return {
    kind: 'file',
    header: hdr(EventType.File, ts, cg, pid),
    op,
    syscall: o.syscall ?? (op === 'open' ? 'openat' : (op as keyof typeof Syscall)),
    ret: 0n,
    flags: o.flags ?? 0,
    mode: o.mode ?? 0,
    dirfd1: -100,
    dirfd2: -100,
    uid: o.uid ?? 0xffffffff,
    gid: o.gid ?? 0xffffffff,
    length: 0n,
    result: o.created ? FileResult.Created : 0,
    created: o.created ?? false,
    path1,
    path2,
    dir1,
    dir2,
    resolved,
    absPath1: op === 'symlink' ? undefined : path1 || dir1 ? absolutePath(path1, dir1) : resolved || undefined,
    absPath2: path2 ? absolutePath(path2, dir2) : undefined,
    truncated: false,
  };
}

function net(
  ts: bigint,
  cg: bigint,
  pid: number,
  op: NetEventData['op'],
  o: { family?: NetEventData['family']; address: string; port?: number; protocol?: NetEventData['protocol']; ret?: bigint },
): NetEventData {
  return {
    kind: 'net',
    header: hdr(EventType.Net, ts, cg, pid),
    op,
    syscall: op === 'connect' ? 'connect' : op === 'sendto' ? 'sendto' : op === 'bind' ? 'bind' : 'listen',
    ret: o.ret ?? 0n,
    fd: 3,
    family: o.family ?? 'inet',
    address: o.address,
    port: o.port ?? 0,
    sockType: 1,
    protocol: o.protocol ?? 'tcp',
    local: op === 'listen',
  };
}

function counters(p: Partial<Omit<LossCounters, 'ringbuf'>> & { ringbuf?: Partial<LossCounters['ringbuf']> } = {}): LossCounters {
  const ringbuf = { 'cgroup-mkdir': 0n, 'cgroup-rmdir': 0n, exec: 0n, fork: 0n, exit: 0n, file: 0n, net: 0n, ...(p.ringbuf ?? {}) };
  return {
    ringbufTotal: Object.values(ringbuf).reduce((a, b) => a + b, 0n),
    pendingFull: 0n,
    tracedFull: 0n,
    scratchBusy: 0n,
    digestSkipped: 0n,
    signalFailed: 0n,
    digestFailed: 0n,
    netSuppressed: 0n,
    output: 0n,
    argsUnread: 0n,
    ...p,
    ringbuf,
  };
}

function loss(ts: bigint, c: LossCounters): LossEventData {
  return { kind: 'loss', header: hdr(EventType.Loss, ts, 0n, 9), counters: c, raw: [] };
}

const V = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;

function runStep(n: number, line: number, args: string[], stage = '0'): CorrelateStep {
  return { vertex: V(n), instruction: `RUN ${args.join(' ')}`, keyword: 'RUN', line, stage, execArgs: args };
}

function vertex(n: number, startMs: number | undefined, endMs: number | undefined, extra: Partial<CorrelateVertex> = {}): CorrelateVertex {
  const v: CorrelateVertex = { digest: V(n), cached: false, ...extra };
  if (startMs !== undefined) v.startedNs = OFF + ms(startMs);
  if (endMs !== undefined) v.completedNs = OFF + ms(endMs);
  return v;
}

function input(events: TraceEvent[], steps: CorrelateStep[], vertices: CorrelateVertex[], extra: Partial<CorrelateInput> = {}): CorrelateInput {
  return { events, steps, vertices, ...extra };
}

const SH = (cmd: string): string[] => ['/bin/sh', '-c', cmd];

// ---- attribution -----------------------------------------------------------------------

describe('correlate: attribution', () => {
  it('attributes two RUN steps in sequence, excluding and counting runc setup before the first exec', () => {
    const a = SH('echo a > /a');
    const b = SH('make');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 100n),
      // runc's setup inside the cgroup: host paths, and runc init's own exec
      file(ms(1001), 100n, 500, 'mkdir', { path1: '/var/lib/docker/overlay2/x/merged/dev/pts' }),
      file(ms(1001.5), 100n, 500, 'symlink', { path1: '/proc/self/fd', path2: '/var/lib/docker/overlay2/x/merged/dev/fd' }),
      ...run({ ts: ms(1002), cg: 100n, pid: 500, argv: ['runc', 'init'], exePath: '/usr/bin/runc' }),
      ...run({ ts: ms(1003), cg: 100n, pid: 500, ppid: 490, start: ms(999), argv: a, exePath: '/bin/dash' }),
      file(ms(1004), 100n, 500, 'open', { path1: '/a', flags: O_WRONLY | O_CREAT | O_TRUNC, created: true, resolved: '/a' }),
      exit(ms(1005), 100n, 500, ms(999), { userMs: 2, sysMs: 3, rssKb: 1500 }),
      rmdir(ms(1006), 100n),
      mkdir(ms(2000), 101n),
      ...run({ ts: ms(2001), cg: 101n, pid: 600, argv: b, exePath: '/bin/dash' }),
      fork(ms(2002), 101n, 600, 601, ms(2002)),
      ...run({ ts: ms(2003), cg: 101n, pid: 601, ppid: 600, start: ms(2002), argv: ['make'], exePath: '/usr/bin/make' }, SHA('b')),
      exit(ms(2010), 101n, 601, ms(2002), { code: 2, userMs: 10, sysMs: 1, rssKb: 4000 }),
      exit(ms(2011), 101n, 600, ms(2001) - ms(1), { code: 2, userMs: 1, sysMs: 1, rssKb: 900 }),
    ];
    const trace = correlate(
      input(events, [runStep(1, 2, a), runStep(2, 3, b)], [vertex(1, 900, 1100), vertex(2, 1900, 2100, { error: 'exit code: 2' })]),
    );
    const [s1, s2] = trace.buildSteps;
    expect(s1?.cgroup).toEqual({
      id: '100',
      path: '/docker/buildkit/ex100',
      createdOn: iso(ms(1000)),
      removedOn: iso(ms(1006)),
      attribution: 'running',
    });
    expect(s1?.runcSetupEvents).toBe(4); // mkdir, symlink, runc init exec + its digest
    expect(trace.runcSetupEvents).toBe(4);
    expect(s1?.processes).toEqual([
      {
        pid: 500,
        ppid: 490,
        argv: a,
        exe: '/bin/dash',
        exeSha256: SHA('a'),
        execed: true,
        cwd: '/',
        uid: 0,
        gid: 0,
        exitCode: 0,
        startedOn: iso(ms(1003)),
        finishedOn: iso(ms(1005)),
        cpuUserMs: 2,
        cpuSystemMs: 3,
        maxRssKb: 1500,
      },
    ]);
    expect(s1?.files.created).toEqual(['/a']);
    expect(s1?.files.links).toEqual([]); // the setup symlink is not the step's
    expect(s1?.resources).toEqual({ wallMs: 200, cpuUserMs: 2, cpuSystemMs: 3, maxRssKb: 1500 });
    expect(s1?.startedOn).toBe(iso(ms(900)));
    expect(s1?.finishedOn).toBe(iso(ms(1100)));
    expect(s1?.status).toBe('done');

    expect(s2?.cgroup?.id).toBe('101');
    expect(s2?.status).toBe('failed');
    expect(s2?.error).toBe('exit code: 2');
    expect(s2?.processes.map((p) => [p.pid, p.ppid, p.argv, p.exeSha256, p.exitCode])).toEqual([
      [600, 1, b, SHA('a'), 2],
      [601, 600, ['make'], SHA('b'), 2],
    ]);
    expect(s2?.resources).toEqual({ wallMs: 200, cpuUserMs: 11, cpuSystemMs: 2, maxRssKb: 4000 });
    expect(s2?.runcSetupEvents).toBe(0);
    expect(trace.unattributedEvents).toBe(0);
    expect(trace.ambiguities).toEqual([]);
    expect(trace.lostEvents).toBe(0);
    expect(trace.metadata).toEqual({ buildStartedOn: iso(ms(900)), buildFinishedOn: iso(ms(2100)) });
    expect(trace.monitor.name).toBe('tracebuild-probe');
    expect(trace.monitor.probe?.realtimeOffsetNs).toBe(OFF.toString());
  });

  it('records identical commands in parallel stages as ambiguous and gives each cgroup its own step', () => {
    const cmd = SH('npm ci');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 200n),
      mkdir(ms(1001), 201n),
      ...run({ ts: ms(1002), cg: 200n, pid: 700, argv: cmd }),
      ...run({ ts: ms(1003), cg: 201n, pid: 710, argv: cmd }),
      file(ms(1004), 200n, 700, 'mkdir', { path1: '/app/node_modules' }),
      exit(ms(1010), 200n, 700, ms(1001)),
      exit(ms(1011), 201n, 710, ms(1002)),
    ];
    const steps = [runStep(1, 3, cmd, 'web'), runStep(2, 8, cmd, 'api')];
    const trace = correlate(input(events, steps, [vertex(2, 995, 1100), vertex(1, 990, 1100)]));
    const [web, api] = trace.buildSteps;
    // the earliest-started vertex (1) gets the first cgroup, the other the second
    expect(web?.cgroup?.id).toBe('200');
    expect(api?.cgroup?.id).toBe('201');
    expect(web?.files.created).toEqual(['/app/node_modules']);
    expect(api?.files.created).toEqual([]);
    for (const s of [web, api]) {
      expect(s?.ambiguous?.candidates).toEqual([V(1), V(2)]);
      expect(s?.ambiguous?.reason).toMatch(/identical commands/);
    }
    expect(trace.ambiguities).toEqual([
      expect.objectContaining({ cgroupId: '200', candidates: [V(1), V(2)], chosen: V(1) }),
      expect.objectContaining({ cgroupId: '201', candidates: [V(1), V(2)], chosen: V(2) }),
    ]);
  });

  it('does not attribute to a vertex that was not running, and counts the cgroup as unattributed', () => {
    const cmd = SH('true');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(5000), 300n),
      ...run({ ts: ms(5001), cg: 300n, pid: 800, argv: cmd }),
      exit(ms(5002), 300n, 800, ms(5000)),
      mkdir(ms(6000), 301n),
      ...run({ ts: ms(6001), cg: 301n, pid: 801, argv: ['/bin/other'] }),
    ];
    const trace = correlate(input(events, [runStep(1, 2, cmd)], [vertex(1, 1000, 2000)]));
    expect(trace.buildSteps[0]?.cgroup).toBeNull();
    expect(trace.buildSteps[0]?.warnings).toContain(
      'no traced cgroup ran this command: its exec was not seen (events lost, or the probe was not tracing)',
    );
    expect(trace.unattributedEvents).toBe(5);
    expect(trace.unattributedCgroups).toEqual([
      {
        id: '300',
        path: '/docker/buildkit/ex300',
        createdOn: iso(ms(5000)),
        events: 3,
        firstArgv: cmd,
        reason: 'its command matches a RUN step that was cached or not running when the cgroup appeared',
      },
      {
        id: '301',
        path: '/docker/buildkit/ex301',
        createdOn: iso(ms(6000)),
        events: 2,
        firstArgv: ['/bin/other'],
        reason: 'no exec in it matches the command of any RUN step',
      },
    ]);
  });

  it('uses the tolerance, then untimed vertices, and nested cgroups follow their parent', () => {
    const a = SH('a');
    const b = SH('b');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 400n),
      ...run({ ts: ms(1001), cg: 400n, pid: 900, argv: a }),
      mkdir(ms(1002), 401n, '/docker/buildkit/ex400/inner'),
      file(ms(1003), 401n, 901, 'mkdir', { path1: '/inner' }),
      mkdir(ms(3000), 402n),
      ...run({ ts: ms(3001), cg: 402n, pid: 950, argv: b }),
    ];
    // vertex 1 reports a start 500 ms after the cgroup appeared; vertex 2 has no times
    const trace = correlate(input(events, [runStep(1, 2, a), runStep(2, 3, b)], [vertex(1, 1500, 2000), vertex(2, undefined, undefined)]));
    const [s1, s2] = trace.buildSteps;
    expect(s1?.cgroup?.attribution).toBe('tolerance');
    expect(s1?.extraCgroups).toEqual([expect.objectContaining({ id: '401', attribution: 'nested' })]);
    expect(s1?.files.created).toEqual(['/inner']);
    expect(s1?.warnings.some((w) => w.includes('tolerance'))).toBe(true);
    expect(s2?.cgroup?.attribution).toBe('untimed');
    expect(s2?.status).toBe('incomplete');
    // with no tolerance the first cgroup matches nothing
    const strict = correlate(input(events, [runStep(1, 2, a)], [vertex(1, 1500, 2000)], { options: { toleranceMs: 0 } }));
    expect(strict.buildSteps[0]?.cgroup).toBeNull();
  });

  it('records a cached step as cached, with its vertex, never as an empty run', () => {
    const cmd = SH('apt-get update');
    const trace = correlate(
      input([ready()], [runStep(1, 2, cmd), { vertex: V(2), instruction: 'COPY . /src', keyword: 'COPY', line: 3, stage: '0', copySources: ['.'], copyDestination: '/src' }], [
        vertex(1, 100, 100, { cached: true }),
        vertex(2, 100, 100, { cached: true }),
      ], { servedFiles: [{ path: 'a', size: 1, sha256: SHA('c') }] }),
    );
    expect(trace.buildSteps[0]).toMatchObject({
      vertex: V(1),
      cached: true,
      status: 'cached',
      cgroup: null,
      processes: [],
      resources: null,
      files: { created: [], modified: [], deleted: [], renamed: [] },
      network: [],
      lostEvents: 0,
    });
    expect(trace.buildSteps[1]).toMatchObject({ cached: true, copy: { patterns: ['.'], sources: [], destination: '/src' } });
  });

  it('throws a typed error when kernel timestamps cannot be converted', () => {
    const events: TraceEvent[] = [mkdir(ms(1), 1n)];
    expect(() => correlate(input(events, [], []))).toThrow(CorrelateError);
    try {
      correlate(input(events, [], []));
    } catch (err) {
      expect((err as CorrelateError).code).toBe('no-clock');
    }
    // an explicit clock is enough
    expect(correlate(input(events, [], [], { clock: { realtimeOffsetNs: OFF } })).unattributedCgroups).toHaveLength(1);
  });
});

// ---- processes and digests -------------------------------------------------------------

describe('correlate: processes', () => {
  it('matches a #! script by the argv the kernel builds and records script and interpreter digests', () => {
    const args = ['/build.sh', '--fast'];
    const e = exec({
      ts: ms(1001),
      cg: 10n,
      pid: 50,
      argv: ['/bin/sh', '/build.sh', '--fast'],
      filename: '/build.sh',
      interp: '/bin/sh',
      exePath: '/usr/bin/dash',
    });
    const trace = correlate(
      input(
        [ready(), mkdir(ms(1000), 10n), e, digest(e, 'exe', SHA('d')), digest(e, 'script', SHA('e'))],
        [runStep(1, 4, args)],
        [vertex(1, 900, 1100)],
      ),
    );
    const p = trace.buildSteps[0]?.processes[0];
    expect(p).toMatchObject({
      argv: ['/bin/sh', '/build.sh', '--fast'],
      exe: '/usr/bin/dash',
      exeSha256: SHA('d'),
      interpreter: '/bin/sh',
      script: { path: '/build.sh', sha256: SHA('e') },
    });
    expect(p?.digestMissing).toBeUndefined();
  });

  it('argvMatches: exact, truncated, #! with an interpreter argument, #! found on PATH', () => {
    const plain = exec({ ts: 1n, cg: 1n, pid: 1, argv: ['/bin/sh', '-c', 'x'] });
    expect(argvMatches(['/bin/sh', '-c', 'x'], plain)).toBe(true);
    expect(argvMatches(['/bin/sh', '-c', 'y'], plain)).toBe(false);
    const long = 'y'.repeat(5000);
    const cut = Buffer.from(`/bin/sh\0-c\0${long}\0`).subarray(0, 4096).toString();
    const truncated = exec({ ts: 1n, cg: 1n, pid: 1, argv: cut.split('\0'), argvTruncated: true });
    expect(argvMatches(['/bin/sh', '-c', long], truncated)).toBe(true);
    expect(argvMatches(['/bin/sh', '-c', `z${long}`], truncated)).toBe(false);
    const withArg = exec({ ts: 1n, cg: 1n, pid: 1, argv: ['/usr/bin/env', 'python3', '/s.py', 'a'], filename: '/s.py', interp: '/usr/bin/env' });
    expect(argvMatches(['/s.py', 'a'], withArg)).toBe(true);
    const onPath = exec({ ts: 1n, cg: 1n, pid: 1, argv: ['/bin/sh', '/usr/local/bin/build.sh'], filename: '/usr/local/bin/build.sh', interp: '/bin/sh' });
    expect(argvMatches(['build.sh'], onPath)).toBe(true);
    expect(argvMatches(['other.sh'], onPath)).toBe(false);
  });

  it('flags every process without a digest with the reason, and counts digest losses in the step', () => {
    const cmd = SH('x');
    const root = exec({ ts: ms(1001), cg: 10n, pid: 50, argv: cmd });
    const skipped = exec({ ts: ms(1002), cg: 10n, pid: 51, ppid: 50, argv: ['/bin/a'], digestSkipped: true });
    const failed = exec({ ts: ms(1003), cg: 10n, pid: 52, ppid: 50, argv: ['/bin/b'] });
    const lost = exec({ ts: ms(1004), cg: 10n, pid: 53, ppid: 50, argv: ['/bin/c'] });
    const trace = correlate(
      input(
        [ready(), mkdir(ms(1000), 10n), root, digest(root, 'exe', SHA('1')), skipped, failed, digest(failed, 'exe', undefined, 2), lost],
        [runStep(1, 2, cmd)],
        [vertex(1, 900, 1100)],
        { losses: counters({ digestSkipped: 1n, digestFailed: 1n }) },
      ),
    );
    const procs = trace.buildSteps[0]?.processes ?? [];
    expect(procs.map((p) => [p.argv[0], p.exeSha256, p.digestMissing])).toEqual([
      ['/bin/sh', SHA('1'), undefined],
      ['/bin/a', null, 'not hashed: the probe loader was not keeping up (the exec was not stopped)'],
      ['/bin/b', null, 'hashing failed: errno 2 (ENOENT)'],
      ['/bin/c', null, 'no digest record (lost)'],
    ]);
    expect(procs.every((p) => p.exeSha256 !== null || typeof p.digestMissing === 'string')).toBe(true);
    expect(trace.buildSteps[0]?.lostEvents).toBe(2);
    expect(trace.lostEvents).toBe(2);
    expect(trace.losses).toMatchObject({ digestSkipped: 1, digestFailed: 1, attributedToSteps: 2, unattributedToSteps: 0 });

    const disabled = correlate(input([ready({ digests: false }), mkdir(ms(1000), 10n), root], [runStep(1, 2, cmd)], [vertex(1, 900, 1100)]));
    expect(disabled.buildSteps[0]?.processes[0]?.digestMissing).toBe('digests disabled (the probe ran without hashing)');
  });

  it('builds the tree: fork-only children, exec replacing an image, signals, missing exits', () => {
    const cmd = SH('exec make');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 10n),
      ...run({ ts: ms(1001), cg: 10n, pid: 50, ppid: 40, start: ms(999), argv: cmd }),
      ...run({ ts: ms(1002), cg: 10n, pid: 50, ppid: 40, start: ms(999), argv: ['make'], exePath: '/usr/bin/make' }, SHA('m')),
      fork(ms(1003), 10n, 50, 51, ms(1003)),
      fork(ms(1004), 10n, 51, 52, ms(1004)),
      ...run({ ts: ms(1005), cg: 10n, pid: 52, ppid: 51, start: ms(1004), argv: ['cc', 'a.c'], exePath: '/usr/bin/cc' }, SHA('c')),
      exit(ms(1006), 10n, 52, ms(1004), { signal: 9 }),
      exit(ms(1007), 10n, 51, ms(1003), { code: 1 }),
      exit(ms(1008), 10n, 50, ms(999), { code: 0 }),
      fork(ms(1009), 10n, 50, 53, ms(1009)),
    ];
    const trace = correlate(input(events, [runStep(1, 2, cmd)], [vertex(1, 900, 1100)]));
    const procs = trace.buildSteps[0]?.processes ?? [];
    expect(procs.map((p) => ({ pid: p.pid, ppid: p.ppid, argv: p.argv, execed: p.execed, exitCode: p.exitCode, signal: p.signal, replacedByExec: p.replacedByExec, exitMissing: p.exitMissing, exeSha256: p.exeSha256 }))).toEqual([
      { pid: 50, ppid: 40, argv: cmd, execed: true, exitCode: null, signal: undefined, replacedByExec: true, exitMissing: undefined, exeSha256: SHA('a') },
      { pid: 50, ppid: 40, argv: ['make'], execed: true, exitCode: 0, signal: undefined, replacedByExec: undefined, exitMissing: undefined, exeSha256: SHA('m') },
      { pid: 51, ppid: 50, argv: ['make'], execed: false, exitCode: 1, signal: undefined, replacedByExec: undefined, exitMissing: undefined, exeSha256: SHA('m') },
      { pid: 52, ppid: 51, argv: ['cc', 'a.c'], execed: true, exitCode: null, signal: 9, replacedByExec: undefined, exitMissing: undefined, exeSha256: SHA('c') },
      { pid: 53, ppid: 50, argv: ['make'], execed: false, exitCode: null, signal: undefined, replacedByExec: undefined, exitMissing: true, exeSha256: SHA('m') },
    ]);
    expect(procs[0]?.finishedOn).toBe(iso(ms(1002)));
  });

  it('a reused pid is two processes: each event goes to the one of its start time', () => {
    const cmd = SH('a; b');
    const [s1, s2] = [ms(1003), ms(1006)];
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 10n),
      ...run({ ts: ms(1001), cg: 10n, pid: 50, ppid: 40, start: ms(999), argv: cmd }),
      fork(s1, 10n, 50, 60, s1),
      ...run({ ts: ms(1004), cg: 10n, pid: 60, ppid: 50, start: s1, argv: ['a'], exePath: '/bin/a' }, SHA('1')),
      exit(ms(1005), 10n, 60, s1, { code: 3 }),
      fork(s2, 10n, 50, 60, s2),
      ...run({ ts: ms(1007), cg: 10n, pid: 60, ppid: 50, start: s2, argv: ['b'], exePath: '/bin/b' }, SHA('2')),
      fork(ms(1009), 10n, 60, 61, ms(1009)),
      exit(ms(1010), 10n, 61, ms(1009), { code: 0 }),
      exit(ms(1011), 10n, 60, s2, { code: 4 }),
      exit(ms(1012), 10n, 50, ms(999), { code: 0 }),
      // the first one's exit again (kernels without group_dead may report one twice)
      exit(ms(1013), 10n, 60, s1, { code: 3 }),
    ];
    const trace = correlate(input(events, [runStep(1, 2, cmd)], [vertex(1, 900, 1100)]));
    const procs = trace.buildSteps[0]?.processes ?? [];
    expect(procs.map((p) => ({ pid: p.pid, ppid: p.ppid, argv: p.argv, exitCode: p.exitCode, startedOn: p.startedOn, finishedOn: p.finishedOn }))).toEqual([
      { pid: 50, ppid: 40, argv: cmd, exitCode: 0, startedOn: iso(ms(1001)), finishedOn: iso(ms(1012)) },
      { pid: 60, ppid: 50, argv: ['a'], exitCode: 3, startedOn: iso(ms(1004)), finishedOn: iso(ms(1013)) },
      { pid: 60, ppid: 50, argv: ['b'], exitCode: 4, startedOn: iso(ms(1007)), finishedOn: iso(ms(1011)) },
      { pid: 61, ppid: 60, argv: ['b'], exitCode: 0, startedOn: iso(ms(1009)), finishedOn: iso(ms(1010)) },
    ]);
  });

  it('writes every time exactly, records whose start and end lie in different seconds included', () => {
    const cmd = SH('x');
    // start and exit times alternate between seconds, as records made at each exit do
    const times: Array<[number, number]> = [
      [1999.4, 2000.6],
      [1000.1, 3000.9],
      [2999.999, 3000.001],
      [2000.5, 2000.5],
      [1999.9995, 4000.0004],
    ];
    const events: TraceEvent[] = [ready(), mkdir(ms(999), 10n), ...run({ ts: ms(999.5), cg: 10n, pid: 50, ppid: 40, start: ms(999), argv: cmd })];
    times.forEach(([start, end], i) => events.push(fork(ms(start), 10n, 50, 60 + i, ms(start)), exit(ms(end), 10n, 60 + i, ms(start))));
    events.push(exit(ms(4001), 10n, 50, ms(999)));
    const trace = correlate(input(events, [runStep(1, 2, cmd)], [vertex(1, 900, 4100)]));
    const procs = (trace.buildSteps[0]?.processes ?? []).filter((p) => p.pid >= 60);
    const expected = times.map(([start, end], i) => ({ pid: 60 + i, startedOn: iso(ms(start)), finishedOn: iso(ms(end)) }));
    expect(procs.map((p) => ({ pid: p.pid, startedOn: p.startedOn, finishedOn: p.finishedOn }))).toEqual(expected.sort((a, b) => (a.startedOn < b.startedOn ? -1 : 1)));
  });
});

// ---- files -----------------------------------------------------------------------------

describe('correlate: files', () => {
  function filesOf(fileEvents: (cg: bigint) => TraceEvent[], traceReads = false): ReturnType<typeof correlate>['buildSteps'][number] {
    const cmd = SH('x');
    const trace = correlate(
      input(
        [ready({ traceReads }), mkdir(ms(1000), 10n), ...run({ ts: ms(1001), cg: 10n, pid: 50, argv: cmd, cwd: '/work' }), ...fileEvents(10n)],
        [runStep(1, 2, cmd)],
        [vertex(1, 900, 1100)],
      ),
    );
    return trace.buildSteps[0] as ReturnType<typeof correlate>['buildSteps'][number];
  }

  it('classifies each syscall kind', () => {
    let t = 1002;
    const at = (): bigint => ms(t++);
    const step = filesOf((cg) => [
      file(at(), cg, 50, 'open', { path1: 'new.txt', dir1: '/work', flags: O_WRONLY | O_CREAT, created: true, resolved: '/work/new.txt' }),
      file(at(), cg, 50, 'open', { path1: '/etc/passwd', flags: O_RDWR, resolved: '/etc/passwd' }),
      file(at(), cg, 50, 'open', { syscall: 'creat', path1: '/c', flags: O_CREAT | O_WRONLY | O_TRUNC, created: true, resolved: '/c' }),
      file(at(), cg, 50, 'open', { path1: '/link-to-t', flags: O_WRONLY | O_TRUNC, resolved: '/real/t' }),
      file(at(), cg, 50, 'truncate', { path1: '/tr' }),
      file(at(), cg, 50, 'truncate', { syscall: 'ftruncate', resolved: '/ftr' }),
      file(at(), cg, 50, 'unlink', { path1: '/gone' }),
      file(at(), cg, 50, 'rmdir', { syscall: 'unlinkat', path1: 'olddir', dir1: '/work' }),
      file(at(), cg, 50, 'mkdir', { path1: '/d' }),
      file(at(), cg, 50, 'symlink', { path1: '../target', path2: '/d/sl' }),
      file(at(), cg, 50, 'link', { path1: '/c', path2: '/hl' }),
      file(at(), cg, 50, 'rename', { path1: '/old', path2: '/new' }),
      file(at(), cg, 50, 'rename', { syscall: 'renameat2', path1: '/x', path2: '/y', flags: 2 }),
      file(at(), cg, 50, 'chmod', { path1: '/c', mode: 0o100755 }),
      file(at(), cg, 50, 'chmod', { syscall: 'fchmod', resolved: '/c', mode: 0o644 }),
      file(at(), cg, 50, 'chown', { syscall: 'lchown', path1: '/d', uid: 1000 }),
      file(at(), cg, 50, 'open', { path1: '/ro', flags: 0, resolved: '/ro' }),
    ]);
    expect(step.files).toEqual({
      created: ['/c', '/d', '/d/sl', '/hl', '/work/new.txt'],
      modified: ['/etc/passwd', '/ftr', '/real/t', '/tr'],
      deleted: ['/gone', '/work/olddir'],
      renamed: [
        { from: '/old', to: '/new' },
        { from: '/x', to: '/y', exchange: true },
      ],
      transient: [],
      attributes: [
        { path: '/c', op: 'chmod', mode: '0644' },
        { path: '/d', op: 'chown', uid: 1000, gid: null },
      ],
      links: [
        { path: '/d/sl', target: '../target', kind: 'symlink' },
        { path: '/hl', target: '/c', kind: 'hard' },
      ],
    });
  });

  it('created then modified is created only; created then deleted is created, deleted and transient', () => {
    let t = 1002;
    const at = (): bigint => ms(t++);
    const step = filesOf((cg) => [
      file(at(), cg, 50, 'open', { path1: '/f', flags: O_WRONLY | O_CREAT, created: true, resolved: '/f' }),
      file(at(), cg, 50, 'open', { path1: '/f', flags: O_WRONLY | O_TRUNC, resolved: '/f' }),
      file(at(), cg, 50, 'open', { path1: '/tmp/t', flags: O_WRONLY | O_CREAT, created: true, resolved: '/tmp/t' }),
      file(at(), cg, 50, 'unlink', { path1: '/tmp/t' }),
      // dpkg style: write a new file, rename it over the old one
      file(at(), cg, 50, 'open', { path1: '/bin/ls.dpkg-new', flags: O_WRONLY | O_CREAT, created: true, resolved: '/bin/ls.dpkg-new' }),
      file(at(), cg, 50, 'rename', { path1: '/bin/ls.dpkg-new', path2: '/bin/ls' }),
      // a directory built and moved into place
      file(at(), cg, 50, 'mkdir', { path1: '/stage' }),
      file(at(), cg, 50, 'open', { path1: '/stage/a', flags: O_WRONLY | O_CREAT, created: true, resolved: '/stage/a' }),
      file(at(), cg, 50, 'rename', { path1: '/stage', path2: '/opt/app' }),
      // deleted, then created again: exists at the end, not transient
      file(at(), cg, 50, 'unlink', { path1: '/etc/x' }),
      file(at(), cg, 50, 'open', { path1: '/etc/x', flags: O_WRONLY | O_CREAT, created: true, resolved: '/etc/x' }),
    ]);
    expect(step.files.created).toEqual(['/bin/ls', '/bin/ls.dpkg-new', '/etc/x', '/f', '/opt/app', '/opt/app/a', '/stage', '/stage/a', '/tmp/t']);
    expect(step.files.modified).toEqual([]);
    expect(step.files.deleted).toEqual(['/etc/x', '/tmp/t']);
    expect(step.files.transient).toEqual(['/bin/ls.dpkg-new', '/stage', '/stage/a', '/tmp/t']);
    expect(step.files.renamed).toEqual([
      { from: '/bin/ls.dpkg-new', to: '/bin/ls' },
      { from: '/stage', to: '/opt/app' },
    ]);
  });

  it("a loop's repeated renames and chmods are listed once each, renames in the order first seen", () => {
    let t = 1002;
    const at = (): bigint => ms(t++);
    // bench/stress.c's writer: create, chmod, rename, unlink the same names, over and over
    const loop = (cg: bigint): TraceEvent[] => [
      file(at(), cg, 50, 'open', { path1: '/s/f', flags: O_WRONLY | O_CREAT | O_TRUNC, created: true, resolved: '/s/f' }),
      file(at(), cg, 50, 'chmod', { path1: '/s/f', mode: 0o600 }),
      file(at(), cg, 50, 'rename', { path1: '/s/f', path2: '/s/g' }),
      file(at(), cg, 50, 'unlink', { path1: '/s/g' }),
    ];
    const step = filesOf((cg) => [
      ...loop(cg),
      ...loop(cg),
      ...loop(cg),
      // one pair renamed both ways, plain first; another exchanged first
      file(at(), cg, 50, 'rename', { path1: '/a', path2: '/b' }),
      file(at(), cg, 50, 'rename', { syscall: 'renameat2', path1: '/a', path2: '/b', flags: 2 }),
      file(at(), cg, 50, 'rename', { path1: '/a', path2: '/b' }),
      file(at(), cg, 50, 'rename', { syscall: 'renameat2', path1: '/p', path2: '/q', flags: 2 }),
      file(at(), cg, 50, 'rename', { path1: '/p', path2: '/q' }),
      file(at(), cg, 50, 'chmod', { path1: '/c', mode: 0o644 }),
      file(at(), cg, 50, 'chmod', { path1: '/c', mode: 0o755 }),
      file(at(), cg, 50, 'chmod', { path1: '/c', mode: 0o644 }),
    ]);
    expect(step.files.created).toEqual(['/s/f', '/s/g']);
    expect(step.files.deleted).toEqual(['/s/g']);
    expect(step.files.transient).toEqual(['/s/f', '/s/g']);
    expect(step.files.renamed).toEqual([
      { from: '/a', to: '/b' },
      { from: '/a', to: '/b', exchange: true },
      { from: '/p', to: '/q', exchange: true },
      { from: '/p', to: '/q' },
      { from: '/s/f', to: '/s/g' },
    ]);
    expect(step.files.attributes).toEqual([
      { path: '/c', op: 'chmod', mode: '0644' },
      { path: '/s/f', op: 'chmod', mode: '0600' },
    ]);
  });

  it('lists read-only opens only when the probe traced reads', () => {
    const ro = (cg: bigint): TraceEvent[] => [file(ms(1002), cg, 50, 'open', { path1: '/etc/hosts', resolved: '/etc/hosts' })];
    expect(filesOf(ro).files.read).toBeUndefined();
    expect(filesOf(ro, true).files.read).toEqual(['/etc/hosts']);
  });
});

// ---- network ---------------------------------------------------------------------------

describe('correlate: network', () => {
  it('reports outbound peers, listeners and binds, de-duplicated and sorted', () => {
    const cmd = SH('x');
    const cg = 10n;
    const trace = correlate(
      input(
        [
          ready(),
          mkdir(ms(1000), cg),
          ...run({ ts: ms(1001), cg, pid: 50, argv: cmd }),
          net(ms(1002), cg, 50, 'connect', { address: '151.101.0.223', port: 443 }),
          net(ms(1003), cg, 50, 'connect', { address: '151.101.0.223', port: 443, ret: -115n }),
          net(ms(1004), cg, 50, 'connect', { address: '10.0.0.1', port: 80, ret: -111n }),
          net(ms(1005), cg, 50, 'sendto', { address: '127.0.0.11', port: 53, protocol: 'udp' }),
          net(ms(1006), cg, 50, 'connect', { family: 'inet6', address: '2001:db8::1', port: 443 }),
          net(ms(1007), cg, 50, 'listen', { address: '0.0.0.0', port: 8080 }),
          net(ms(1008), cg, 50, 'bind', { address: '0.0.0.0', port: 5353, protocol: 'udp' }),
          net(ms(1009), cg, 50, 'bind', { address: '0.0.0.0', port: 0, protocol: 'udp' }),
          net(ms(1010), cg, 50, 'connect', { family: 'unix', address: '/run/x.sock', protocol: 'proto-0' }),
        ],
        [runStep(1, 2, cmd)],
        [vertex(1, 900, 1100)],
      ),
    );
    expect(trace.buildSteps[0]?.network).toEqual([
      { protocol: 'tcp', address: '10.0.0.1', port: 80, direction: 'outbound', family: 'inet', attempts: 1, failures: 1 },
      { protocol: 'tcp', address: '151.101.0.223', port: 443, direction: 'outbound', family: 'inet', attempts: 2, failures: 0 },
      { protocol: 'tcp', address: '2001:db8::1', port: 443, direction: 'outbound', family: 'inet6', attempts: 1, failures: 0 },
      { protocol: 'udp', address: '127.0.0.11', port: 53, direction: 'outbound', family: 'inet', attempts: 1, failures: 0 },
      { protocol: 'unix', address: '/run/x.sock', port: 0, direction: 'outbound', family: 'unix', attempts: 1, failures: 0 },
      { protocol: 'tcp', address: '0.0.0.0', port: 8080, direction: 'listen', family: 'inet', attempts: 1, failures: 0 },
      { protocol: 'udp', address: '0.0.0.0', port: 5353, direction: 'listen', family: 'inet', attempts: 1, failures: 0 },
      { protocol: 'udp', address: '0.0.0.0', port: 0, direction: 'bind', family: 'inet', attempts: 1, failures: 0 },
    ]);
  });
});

// ---- COPY/ADD --------------------------------------------------------------------------

describe('correlate: COPY/ADD sources', () => {
  it('matches patterns per segment like Docker: *, ?, [...], directories, the whole context', () => {
    expect(matchesCopySource('src/*.ts', 'src/a.ts')).toBe(true);
    expect(matchesCopySource('src/*.ts', 'src/sub/a.ts')).toBe(false);
    expect(matchesCopySource('src/*', 'src/sub/a.ts')).toBe(true); // src/sub matched: a directory
    expect(matchesCopySource('a?.txt', 'ab.txt')).toBe(true);
    expect(matchesCopySource('a?.txt', 'a/.txt')).toBe(false);
    expect(matchesCopySource('[bc].md', 'c.md')).toBe(true);
    expect(matchesCopySource('[^bc].md', 'c.md')).toBe(false);
    expect(matchesCopySource('[a-c]x', 'bx')).toBe(true);
    expect(matchesCopySource('docs', 'docs/guide/intro.md')).toBe(true);
    // ** spans any number of segments, none included
    expect(matchesCopySource('src/**/*.txt', 'src/a.txt')).toBe(true);
    expect(matchesCopySource('src/**/*.txt', 'src/b/c/d.txt')).toBe(true);
    expect(matchesCopySource('src/**/*.txt', 'src/b/c/d.md')).toBe(false);
    expect(matchesCopySource('src/**/*.txt', 'other/a.txt')).toBe(false);
    expect(matchesCopySource('**/go.mod', 'go.mod')).toBe(true);
    expect(matchesCopySource('**/go.mod', 'mod/x/go.mod')).toBe(true);
    expect(matchesCopySource('src/**', 'src/x/y')).toBe(true);
    expect(matchesCopySource('a/./b/**/*.c', 'a/b/k/m.c')).toBe(true); // COPY --parents pivot
    expect(matchesCopySource('docs', 'docs2/x')).toBe(false);
    expect(matchesCopySource('./docs/', '/docs/x')).toBe(true);
    expect(matchesCopySource('.', 'anything/at/all')).toBe(true);
    expect(matchesCopySource('a\\*b', 'a*b')).toBe(true);
    expect(matchesCopySource('a\\*b', 'axb')).toBe(false);
  });

  it('records the served files of each COPY/ADD, unmatched patterns, --from and remote sources', () => {
    const served = [
      { path: 'src/b.ts', size: 20, sha256: SHA('2') },
      { path: 'src/a.ts', size: 10, sha256: SHA('1') },
      { path: 'src/lib/c.ts', size: 30, sha256: SHA('3') },
      { path: 'docs/x.md', size: 5, sha256: SHA('4') },
      { path: 'README.md', size: 7, sha256: SHA('5') },
    ];
    const copy = (n: number, line: number, sources: string[], extra: Partial<CorrelateStep> = {}): CorrelateStep => ({
      vertex: V(n),
      instruction: `COPY ${sources.join(' ')} /app/`,
      keyword: 'COPY',
      line,
      stage: '0',
      copySources: sources,
      copyDestination: '/app/',
      ...extra,
    });
    const trace = correlate(
      input(
        [],
        [
          copy(1, 2, ['src/*.ts', 'docs', 'missing.txt']),
          copy(2, 3, ['src/a.ts', 'src/*.ts']),
          copy(3, 4, ['/bin/tool'], { copyFrom: 'builder' }),
          copy(4, 5, ['https://example.com/x.tgz', '[A-Z]*.md'], { keyword: 'ADD', instruction: 'ADD ...' }),
        ],
        [vertex(1, 1, 2), vertex(2, 1, 2), vertex(3, 1, 2), vertex(4, 1, 2)],
        { servedFiles: served },
      ),
    );
    expect(trace.buildSteps[0]?.copy).toEqual({
      patterns: ['src/*.ts', 'docs', 'missing.txt'],
      sources: [
        { path: 'docs/x.md', size: 5, sha256: SHA('4') },
        { path: 'src/a.ts', size: 10, sha256: SHA('1') },
        { path: 'src/b.ts', size: 20, sha256: SHA('2') },
      ],
      unmatchedPatterns: ['missing.txt'],
      destination: '/app/',
    });
    expect(trace.buildSteps[1]?.copy?.sources.map((s) => s.path)).toEqual(['src/a.ts', 'src/b.ts']);
    expect(trace.buildSteps[2]?.copy).toEqual({ patterns: ['/bin/tool'], sources: [], unmatchedPatterns: [], destination: '/app/', from: 'builder' });
    expect(trace.buildSteps[3]?.copy).toMatchObject({
      sources: [{ path: 'README.md', size: 7, sha256: SHA('5') }],
      remote: ['https://example.com/x.tgz'],
      unmatchedPatterns: [],
    });
    expect(trace.buildSteps[0]?.resources).toBeNull();
    expect(trace.buildSteps[0]?.processes).toEqual([]);
  });
});

// ---- losses ----------------------------------------------------------------------------

describe('correlate: losses', () => {
  it('counts every loss at the top level and in a step only when its cgroup alone was alive', () => {
    const a = SH('a');
    const b = SH('b');
    const undecodable: UnknownEventData = {
      kind: 'unknown',
      header: hdr(6, ms(1003), 10n, 50),
      type: 6,
      reason: 'bad-strings',
      raw: Buffer.alloc(0),
    };
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 10n),
      ...run({ ts: ms(1001), cg: 10n, pid: 50, argv: a }),
      undecodable,
      loss(ms(1500), counters({ ringbuf: { file: 3n } })), // only cgroup 10 alive: its step
      rmdir(ms(1600), 10n),
      mkdir(ms(2000), 11n),
      mkdir(ms(2001), 12n),
      ...run({ ts: ms(2002), cg: 11n, pid: 60, argv: b }),
      ...run({ ts: ms(2003), cg: 12n, pid: 61, argv: ['/x'] }),
      loss(ms(2500), counters({ ringbuf: { file: 3n, exec: 4n }, pendingFull: 1n })), // two alive: top level only
      loss(ms(3000), counters({ ringbuf: { file: 3n, exec: 4n }, pendingFull: 1n, netSuppressed: 7n, tracedFull: 2n })),
    ];
    const trace = correlate(input(events, [runStep(1, 2, a), runStep(2, 3, b)], [vertex(1, 900, 1700), vertex(2, 1900, 2800)]));
    expect(trace.buildSteps[0]?.lostEvents).toBe(4); // 3 ring buffer + 1 undecodable record
    expect(trace.buildSteps[0]?.warnings).toContain('4 event(s) of this step were lost: the record is incomplete');
    expect(trace.buildSteps[1]?.lostEvents).toBe(0);
    expect(trace.lostEvents).toBe(3 + 4 + 1 + 2 + 1);
    expect(trace.losses).toMatchObject({
      ringbuf: { file: 3, exec: 4 },
      pendingFull: 1,
      tracedFull: 2,
      netSuppressed: 7,
      undecodedRecords: 1,
      attributedToSteps: 4,
      unattributedToSteps: 7,
    });
    expect(trace.unattributedEvents).toBe(2);
  });

  it('syscalls whose arguments the probe could not read are lost events of the step that ran then', () => {
    const a = SH('a');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 10n),
      ...run({ ts: ms(1001), cg: 10n, pid: 50, argv: a }),
      loss(ms(1500), counters({ argsUnread: 2n })),
      rmdir(ms(1600), 10n),
    ];
    const trace = correlate(input(events, [runStep(1, 2, a)], [vertex(1, 900, 1700)]));
    expect(trace.buildSteps[0]?.lostEvents).toBe(2);
    expect(trace.lostEvents).toBe(2);
    expect(trace.losses).toMatchObject({ argsUnread: 2, attributedToSteps: 2, unattributedToSteps: 0 });
  });
});

describe('Correlation: fed while the build runs', () => {
  it('two containers running one step\'s command (another build ran it too) are both kept, built at the end', () => {
    const cmd = SH('cc -o /out/app /src/main.c');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 100n),
      ...run({ ts: ms(1001), cg: 100n, pid: 500, argv: cmd }),
      file(ms(1002), 100n, 500, 'open', { path1: '/out/app', flags: O_WRONLY | O_CREAT, created: true, resolved: '/out/app' }),
      mkdir(ms(1003), 101n),
      ...run({ ts: ms(1004), cg: 101n, pid: 600, argv: cmd }, SHA('c')),
      file(ms(1005), 101n, 600, 'open', { path1: '/tmp/.implant', flags: O_WRONLY | O_CREAT, created: true, resolved: '/tmp/.implant' }),
      exit(ms(1006), 100n, 500, ms(1000)),
      exit(ms(1007), 101n, 600, ms(1003)),
    ];
    const trace = correlate(input(events, [runStep(1, 4, cmd)], [vertex(1, 900, 1100)]));
    const [step] = trace.buildSteps;
    expect(step?.cgroup?.id).toBe('100');
    expect(step?.extraCgroups?.map((c) => c.id)).toEqual(['101']);
    expect(step?.processes.map((p) => [p.pid, p.exeSha256])).toEqual([
      [500, SHA('a')],
      [600, SHA('c')],
    ]);
    expect(step?.files.created).toEqual(['/out/app', '/tmp/.implant']);
    expect(step?.warnings).toContain(
      '2 containers ran this step\'s command while it ran (another build may have run the same command): their records are merged here',
    );
  });

  it('a clock given at the end, not the READY record\'s, makes every step again', () => {
    const cmd = SH('true');
    const events: TraceEvent[] = [ready(), mkdir(ms(1000), 100n), ...run({ ts: ms(1001), cg: 100n, pid: 500, argv: cmd }), exit(ms(1002), 100n, 500, ms(1000))];
    const later = OFF + 5_000_000_000n;
    const c = new Correlation();
    for (const ev of events) c.push(ev);
    const trace = c.finish({ steps: [runStep(1, 2, cmd)], vertices: [vertex(1, 5900, 6100)], clock: { realtimeOffsetNs: later } });
    expect(c.stats).toEqual({ speculated: 0, rebuilt: 1 });
    expect(trace.buildSteps[0]?.processes[0]?.startedOn).toBe(new Date(Number((ms(1001) + later) / 1_000_000n)).toISOString());
    expect(trace).toEqual(correlateOnce({ events, steps: [runStep(1, 2, cmd)], vertices: [vertex(1, 5900, 6100)], clock: { realtimeOffsetNs: later } }));
  });

  it('a step whose container first execs runc init (newer runc) is built while the build runs', () => {
    const cmd = SH('echo a > /a');
    const events: TraceEvent[] = [
      ready(),
      mkdir(ms(1000), 100n),
      ...run({ ts: ms(1001), cg: 100n, pid: 480, argv: ['runc', 'init'], exePath: '/dev/fd/6' }),
      fork(ms(1002), 100n, 480, 500, ms(1002)),
      ...run({ ts: ms(1003), cg: 100n, pid: 500, ppid: 480, start: ms(1002), argv: cmd, exePath: '/bin/dash' }),
      file(ms(1004), 100n, 500, 'open', { path1: '/a', flags: O_WRONLY | O_CREAT | O_TRUNC, created: true, resolved: '/a' }),
      exit(ms(1005), 100n, 500, ms(1002)),
      exit(ms(1006), 100n, 480, ms(999)),
    ];
    const c = new Correlation();
    for (const ev of events) c.push(ev);
    const steps = [runStep(1, 2, cmd)];
    const vertices = [vertex(1, 900, 1100)];
    const trace = c.finish({ steps, vertices });
    expect(c.stats).toEqual({ speculated: 1, rebuilt: 0 });
    expect(trace.buildSteps[0]?.processes.find((p) => p.pid === 500)?.argv).toEqual(cmd);
    expect(trace.buildSteps[0]?.files.created).toEqual(['/a']);
    expect(trace).toEqual(correlate(input(events, steps, vertices)));
  });

  it('the tests above built steps both while the build ran and at the end (and got the same traces)', () => {
    expect(paths.speculated).toBeGreaterThan(5);
    expect(paths.rebuilt).toBeGreaterThanOrEqual(2);
  });
});

// ---- gaps in the monitoring ------------------------------------------------------------

describe('correlate: a gap in the monitoring', () => {
  const a = SH('echo a');
  const b = SH('make');
  const c = SH('make install');
  const events = (): TraceEvent[] => [
    ready(),
    mkdir(ms(1000), 100n),
    ...run({ ts: ms(1001), cg: 100n, pid: 500, argv: a, exePath: '/bin/dash' }),
    exit(ms(1002), 100n, 500, ms(1001) - ms(1)),
    mkdir(ms(2000), 101n),
    ...run({ ts: ms(2001), cg: 101n, pid: 600, argv: b, exePath: '/bin/dash' }),
  ];
  const steps = [runStep(1, 2, a), runStep(2, 3, b), runStep(3, 4, c), { vertex: V(4), instruction: 'COPY x /x', keyword: 'COPY', line: 5, stage: '0' }];
  const vertices = [vertex(1, 900, 1100), vertex(2, 1900, 2600), vertex(3, 2700, 2800), vertex(4, 2800, 2900)];

  it('marks the trace incomplete, counts the gap and flags every RUN that had not finished when it began', () => {
    // the loader's last output was read at 2100 (OFF is the realtime offset of the kernel clock)
    const fromMs = Number((OFF + ms(2100)) / 1_000_000n);
    const gap = { kind: 'loader-exited' as const, fromMs, reason: 'the probe loader exited (signal SIGKILL)' };
    const trace = correlate(input(events(), steps, vertices, { monitorGaps: [gap] }));
    const record = { kind: 'loader-exited', startedOn: iso(ms(2100)), reason: gap.reason };
    expect(trace.complete).toBe(false);
    expect(trace.monitorGaps).toEqual([record]);
    expect(trace.losses.monitorGaps).toBe(1);
    expect(trace.lostEvents).toBe(1);
    const [s1, s2, s3, s4] = trace.buildSteps;
    // finished before the gap: watched throughout
    expect(s1?.monitorGaps).toBeUndefined();
    expect(s1?.lostEvents).toBe(0);
    // running when it began, and started after it: both unobserved at least in part
    for (const s of [s2, s3]) {
      expect(s?.monitorGaps).toEqual([record]);
      expect(s?.lostEvents).toBe(1);
      expect(s?.warnings.some((w) => w.startsWith(`the probe stopped watching at ${record.startedOn}, before this step finished`))).toBe(true);
    }
    // COPY is recorded from what the session served, not by the probe
    expect(s4?.monitorGaps).toBeUndefined();
    expect(trace.losses.attributedToSteps).toBe(1);
    expect(trace.losses.unattributedToSteps).toBe(0);
  });

  it('leaves cached steps alone, and a trace without gaps complete', () => {
    const cached = [vertex(1, 900, 1100), vertex(2, 1900, 2600), vertex(3, undefined, undefined, { cached: true }), vertex(4, 2800, 2900)];
    const fromMs = Number((OFF + ms(2700)) / 1_000_000n);
    const trace = correlate(input(events(), steps, cached, { monitorGaps: [{ kind: 'loader-stalled', fromMs, reason: 'stopped answering' }] }));
    expect(trace.buildSteps.map((s) => s.monitorGaps?.length ?? 0)).toEqual([0, 0, 0, 0]);
    expect(trace.complete).toBe(false);
    expect(trace.lostEvents).toBe(1);
    expect(trace.losses.unattributedToSteps).toBe(1);

    // (the third RUN cached: one that ran unseen would make it incomplete, as below)
    const whole = correlate(input(events(), steps, cached));
    expect(whole.complete).toBe(true);
    expect(whole.monitorGaps).toEqual([]);
    expect(whole.losses.monitorGaps).toBe(0);
    expect(whole.losses.unseenSteps).toBe(0);
  });

  it('counts a RUN that completed with no container seen as a loss, and the trace incomplete', () => {
    // `make install` (Dockerfile:4, vertex 3) ran from 2700 to 2800, and the probe saw no cgroup of it: a
    // daemon whose RUN containers live where the probe does not look, for example
    const trace = correlate(input(events(), steps, vertices));
    expect(trace.complete).toBe(false);
    expect(trace.lostEvents).toBe(1);
    expect(trace.losses.unseenSteps).toBe(1);
    expect(trace.losses.attributedToSteps).toBe(1);
    const s3 = trace.buildSteps[2];
    expect(s3?.lostEvents).toBe(1);
    expect(s3?.warnings).toContain('no traced cgroup ran this command: its exec was not seen (events lost, or the probe was not tracing)');
    expect(unseenRunSteps(trace)).toEqual([s3]);
    expect(formatTraceTable(trace)).toContain('WARNING: 1 RUN step(s) ran with no process seen by the probe (Dockerfile:4): their record is empty');
    // a RUN that failed may have failed before any process ran: warned of, not counted
    const failed = vertices.map((v) => (v === vertices[2] ? { ...v, error: 'mount failed' } : v));
    const f = correlate(input(events(), steps, failed));
    expect(f.losses.unseenSteps).toBe(0);
    expect(f.complete).toBe(true);
  });
});
