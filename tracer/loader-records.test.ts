// The loader's records (ABI 3) against the kernel's, one by one. The loader folds each
// process's fork and exit into one process record (bpf/procs.c: compiled here with a small
// harness and run on the kernel records of each scenario), appends an exec's digests to its
// record, and packs a cgroup's consecutive file, net and process records into batches. The
// correlator must make of that the trace it makes of the kernel's records: every scenario is
// correlated from the kernel's events (correlate) and, from the loader's records, decoded
// (push), undecoded as the CLI takes them (pushRecord), and with every step built at the end
// from the records read again, out of a temporary file.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BatchEvent,
  DigestEvent,
  DigestPart,
  EventType,
  ExecEvent,
  ExecFlag,
  ExitEvent,
  FileEvent,
  FileId,
  FileOp,
  FileResult,
  ForkEvent,
  Header,
  ProcEvent,
  ProcFlag,
  Syscall,
} from './abi.js';
import { Correlation, correlate } from './correlate/correlation.js';
import type { CorrelateInput, CorrelateStep, CorrelateVertex } from './correlate/input.js';
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
  ReadyEventData,
  TraceEvent,
} from './decode/events.js';
import { absolutePath } from './decode/file.js';
import { decodeRecord, recordIsValid } from './decode/record.js';
import type { Trace } from '../model/index.js';

const bpfDir = path.join(path.dirname(fileURLToPath(import.meta.url)), 'bpf');

function haveHarnessTools(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
  } catch {
    return false;
  }
  return existsSync('/usr/include/bpf/libbpf.h');
}
const canCompile = haveHarnessTools();
if (!canCompile && !process.env.CI) console.warn('loader-records.test: skipped, no C compiler or libbpf headers');

// ---- the harness: bpf/procs.c between framed records on stdin and stdout ---------------------
// Fork and exit records go to the process table; every other record passes through, as the
// loader's main loop passes them on; what the table writes (out_batched) comes out in place.
const HARNESS = `#include <stdio.h>
#include "loader.h"
uint64_t user_loss[TB_LOSS_MAX];
static void put(const void *rec, uint32_t len) { fwrite(&len, 4, 1, stdout); fwrite(rec, len, 1, stdout); }
void out_batched(const void *rec, uint32_t len) { put(rec, len); }
int main(void) {
  static unsigned char buf[1 << 20];
  uint32_t len;
  while (fread(&len, 4, 1, stdin) == 1) {
    if (len > sizeof(buf) || fread(buf, len, 1, stdin) != 1) return 1;
    const struct tb_header *h = (const void *)buf;
    if (h->type == TB_EV_FORK) procs_fork((const void *)buf);
    else if (h->type == TB_EV_EXIT) procs_exit((const void *)buf);
    else {
      if (h->type == TB_EV_EXEC) procs_exec((const void *)buf);
      put(buf, len);
    }
  }
  procs_flush();
  return user_loss[TB_LOSS_OUTPUT] ? 3 : 0;
}
`;

let dir = '';
let harness = '';

// ---- events (as the kernel reports them) -----------------------------------------------------

const OFF = 1_700_000_000n * 1_000_000_000n;
const ms = (n: number): bigint => BigInt(Math.round(n * 1e6));
const SHA = (c: string): string => c.repeat(64);
const ID: FileIdentity = { dev: 1, ino: 2n, size: 3n, mtimeSec: 0n, mtimeNsec: 0, ctimeSec: 0n, ctimeNsec: 0, mode: 0o100755 };

function hdr(type: number, ts: bigint, cgroupId: bigint, tgid: number): EventHeader {
  return { type, size: 0, tsNs: ts, cgroupId, pid: tgid, tgid };
}

function ready(): ReadyEventData {
  return {
    kind: 'ready',
    header: hdr(EventType.Ready, 0n, 0n, 9),
    abiVersion: 3,
    ncpus: 2,
    realtimeOffsetNs: OFF,
    ringbufBytes: 64n << 20n,
    digests: true,
    traceReads: false,
    loaderPid: 9,
  };
}

function cgroupEvent(kind: 'cgroup-mkdir' | 'cgroup-rmdir', ts: bigint, id: bigint): CgroupEventData {
  return {
    kind,
    header: hdr(kind === 'cgroup-mkdir' ? EventType.CgroupMkdir : EventType.CgroupRmdir, ts, 1n, 1),
    id,
    level: 3,
    generation: 1,
    flags: 1,
    path: `/docker/buildkit/ex${id}`,
    auto: true,
    notTraced: false,
    pathTruncated: false,
  };
}

function exec(ts: bigint, cg: bigint, pid: number, start: bigint, argv: string[], execId = 1n, ppid = 1): ExecEventData {
  return {
    kind: 'exec',
    header: hdr(EventType.Exec, ts, cg, pid),
    ppid,
    oldPid: pid,
    uid: 0,
    gid: 0,
    flags: ExecFlag.NeedsDigest,
    argc: argv.length,
    startBoottimeNs: start,
    exe: ID,
    filename: argv[0] ?? '',
    interp: undefined,
    exePath: argv[0] ?? '',
    cwd: '/',
    argv,
    argvTruncated: false,
    script: false,
    needsDigest: true,
    digestSkipped: false,
    digestByPeer: false,
    execId,
  };
}

function digest(e: ExecEventData, sha: string): DigestEventData {
  return {
    kind: 'digest',
    header: { ...e.header, type: EventType.Digest, size: DigestEvent.size },
    digestKind: 'exe',
    error: 0,
    sha256: sha,
    bytes: 100n,
    fromCache: false,
    identityMismatch: false,
    wasStopped: true,
    fromPeer: false,
    file: ID,
  };
}

function fork(ts: bigint, cg: bigint, parent: number, child: number, childStart = ts): ForkEventData {
  return { kind: 'fork', header: hdr(EventType.Fork, ts, cg, parent), childPid: child, childTgid: child, childStartBoottimeNs: childStart };
}

function exit(ts: bigint, cg: bigint, pid: number, start: bigint, o: { code?: number; signal?: number; userMs?: number } = {}): ExitEventData {
  const code = o.code ?? 0;
  return {
    kind: 'exit',
    header: hdr(EventType.Exit, ts, cg, pid),
    waitStatus: o.signal !== undefined ? o.signal : code << 8,
    exitCode: o.signal !== undefined ? undefined : code,
    signal: o.signal,
    coreDumped: false,
    startBoottimeNs: start,
    utimeNs: ms(o.userMs ?? 1),
    stimeNs: ms(0.5),
    runtimeNs: 0n,
    maxRssKiB: 100n,
  };
}

function file(ts: bigint, cg: bigint, pid: number, op: FileOpName, path1: string, o: { path2?: string; flags?: number; created?: boolean } = {}): FileEventData {
  const path2 = o.path2 ?? '';
  return {
    kind: 'file',
    header: hdr(EventType.File, ts, cg, pid),
    op,
    syscall: op === 'open' ? 'openat' : (op as keyof typeof Syscall),
    ret: 0n,
    flags: o.flags ?? 0,
    mode: 0,
    dirfd1: -100,
    dirfd2: -100,
    uid: 0xffffffff,
    gid: 0xffffffff,
    length: 0n,
    result: o.created ? FileResult.Created : 0,
    created: o.created ?? false,
    path1,
    path2,
    dir1: '',
    dir2: '',
    resolved: op === 'open' ? path1 : '',
    absPath1: absolutePath(path1, ''),
    absPath2: path2 ? absolutePath(path2, '') : undefined,
    truncated: false,
  };
}

// ---- the kernel's records of those events ----------------------------------------------------

function withHeader(size: number, h: EventHeader): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(h.type, Header.fields.type.offset);
  b.writeUInt32LE(size, Header.fields.size.offset);
  b.writeBigUInt64LE(h.tsNs, Header.fields.ts_ns.offset);
  b.writeBigUInt64LE(h.cgroupId, Header.fields.cgroup_id.offset);
  b.writeUInt32LE(h.pid, Header.fields.pid.offset);
  b.writeUInt32LE(h.tgid, Header.fields.tgid.offset);
  return b;
}

function fileIdBytes(id: FileIdentity): Buffer {
  const b = Buffer.alloc(FileId.size);
  b.writeBigUInt64LE(id.ino, FileId.fields.ino.offset);
  b.writeBigUInt64LE(id.size, FileId.fields.size.offset);
  b.writeUInt32LE(id.dev, FileId.fields.dev.offset);
  b.writeUInt32LE(id.mode, FileId.fields.mode.offset);
  return b;
}

function encodeExec(e: ExecEventData): Buffer {
  const strings = [e.filename, e.interp ?? '', e.exePath, e.cwd, e.argv.map((a) => `${a}\0`).join('')].map((s) => Buffer.from(s));
  const b = Buffer.concat([withHeader(ExecEvent.size, e.header), ...strings]);
  b.writeUInt32LE(b.length, Header.fields.size.offset);
  const f = ExecEvent.fields;
  b.writeUInt32LE(e.ppid, f.ppid.offset);
  b.writeUInt32LE(e.oldPid, f.old_pid.offset);
  b.writeUInt32LE(e.flags, f.flags.offset);
  b.writeUInt32LE(e.argc, f.argc.offset);
  b.writeBigUInt64LE(e.startBoottimeNs, f.start_boottime_ns.offset);
  fileIdBytes(e.exe).copy(b, f.exe.offset);
  [f.filename_len, f.interp_len, f.exe_path_len, f.cwd_len, f.argv_len].forEach((l, i) => b.writeUInt16LE((strings[i] as Buffer).length, l.offset));
  b.writeBigUInt64LE(e.execId, f.exec_id.offset);
  return b;
}

function digestPart(d: DigestEventData): Buffer {
  const b = Buffer.alloc(DigestPart.size);
  const f = DigestPart.fields;
  b.writeUInt32LE(d.digestKind === 'exe' ? 1 : 2, f.kind.offset);
  b.writeInt32LE(d.error, f.error.offset);
  b.writeUInt32LE(d.wasStopped ? 0x4 : 0, f.flags.offset);
  b.writeBigUInt64LE(d.bytes, f.bytes.offset);
  if (d.sha256) Buffer.from(d.sha256, 'hex').copy(b, f.sha256.offset);
  fileIdBytes(d.file).copy(b, f.file.offset);
  return b;
}

function encodeDigest(d: DigestEventData): Buffer {
  const b = withHeader(DigestEvent.size, d.header);
  digestPart(d).copy(b, DigestEvent.fields.kind.offset);
  return b;
}

function encodeFork(e: ForkEventData, parentStart: bigint): Buffer {
  const b = withHeader(ForkEvent.size, e.header);
  const f = ForkEvent.fields;
  b.writeUInt32LE(e.childPid, f.child_pid.offset);
  b.writeUInt32LE(e.childTgid, f.child_tgid.offset);
  b.writeBigUInt64LE(e.childStartBoottimeNs, f.child_start_boottime_ns.offset);
  b.writeBigUInt64LE(parentStart, f.parent_start_boottime_ns.offset);
  return b;
}

function encodeExit(e: ExitEventData): Buffer {
  const b = withHeader(ExitEvent.size, e.header);
  const f = ExitEvent.fields;
  b.writeUInt32LE(e.waitStatus, f.exit_code.offset);
  b.writeBigUInt64LE(e.startBoottimeNs, f.start_boottime_ns.offset);
  b.writeBigUInt64LE(e.utimeNs, f.utime_ns.offset);
  b.writeBigUInt64LE(e.stimeNs, f.stime_ns.offset);
  b.writeBigUInt64LE(e.maxRssKiB, f.maxrss_kib.offset);
  return b;
}

function encodeFile(e: FileEventData): Buffer {
  const strings = [e.path1, e.path2, e.dir1, e.dir2, e.resolved].map((s) => Buffer.from(s));
  const b = Buffer.concat([withHeader(FileEvent.size, e.header), ...strings]);
  b.writeUInt32LE(b.length, Header.fields.size.offset);
  const f = FileEvent.fields;
  const op = { open: FileOp.Open, unlink: FileOp.Unlink, rmdir: FileOp.Rmdir, rename: FileOp.Rename, mkdir: FileOp.Mkdir } as Record<string, number>;
  b.writeUInt32LE(op[e.op] ?? 0, f.op.offset);
  b.writeUInt32LE(Syscall[e.syscall as keyof typeof Syscall] ?? 0, f.syscall.offset);
  b.writeUInt32LE(e.flags, f.flags.offset);
  b.writeInt32LE(e.dirfd1, f.dirfd1.offset);
  b.writeInt32LE(e.dirfd2, f.dirfd2.offset);
  b.writeUInt32LE(e.uid, f.uid.offset);
  b.writeUInt32LE(e.gid, f.gid.offset);
  b.writeUInt32LE(e.result, f.result.offset);
  [f.path1_len, f.path2_len, f.dir1_len, f.dir2_len, f.resolved_len].forEach((l, i) => b.writeUInt16LE((strings[i] as Buffer).length, l.offset));
  return b;
}

function framed(records: Buffer[]): Buffer {
  return Buffer.concat(
    records.flatMap((r) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(r.length);
      return [len, r];
    }),
  );
}

function unframe(buf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off + 4 <= buf.length; ) {
    const len = buf.readUInt32LE(off);
    out.push(buf.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

/** A record standing for an event the test keeps as it is (cgroups, ready): the harness
 * passes it on in its place. */
const PLACEHOLDER = 250;

/** What the loader writes for these kernel events: its process records from the harness,
 * each exec with its digests appended, and a cgroup's consecutive records in batches. */
function loaderRecords(events: readonly TraceEvent[]): Array<Buffer | TraceEvent> {
  const starts = new Map<number, bigint>();
  const input: Buffer[] = [];
  events.forEach((ev, i) => {
    if (ev.kind === 'fork') {
      input.push(encodeFork(ev, starts.get(ev.header.tgid) ?? 0n));
      starts.set(ev.childTgid, ev.childStartBoottimeNs);
    } else if (ev.kind === 'exec') {
      starts.set(ev.header.tgid, ev.startBoottimeNs);
      input.push(encodeExec(ev));
    } else if (ev.kind === 'exit') input.push(encodeExit(ev));
    else if (ev.kind === 'file') input.push(encodeFile(ev));
    else if (ev.kind === 'digest') input.push(encodeDigest(ev));
    else {
      const p = withHeader(Header.size, hdr(PLACEHOLDER, 0n, 0n, i));
      input.push(p);
    }
  });
  const out = unframe(execFileSync(harness, { input: framed(input) }));
  // the exec records with the digest records after them
  const merged: Array<Buffer | TraceEvent> = [];
  for (let k = 0; k < out.length; k++) {
    const r = out[k] as Buffer;
    const type = r.readUInt32LE(Header.fields.type.offset);
    if (type === PLACEHOLDER) {
      merged.push(events[r.readUInt32LE(Header.fields.tgid.offset)] as TraceEvent);
      continue;
    }
    if (type !== EventType.Exec) {
      merged.push(r);
      continue;
    }
    const next = out[k + 1];
    if (next === undefined || next.readUInt32LE(Header.fields.type.offset) !== EventType.Digest) {
      merged.push(r);
      continue;
    }
    k++;
    const withDigests = Buffer.concat([r, next.subarray(DigestEvent.fields.kind.offset)]);
    withDigests.writeUInt32LE(withDigests.length, Header.fields.size.offset);
    withDigests.writeUInt32LE(withDigests.readUInt32LE(ExecEvent.fields.flags.offset) | ExecFlag.Digests, ExecEvent.fields.flags.offset);
    merged.push(withDigests);
  }
  // batches: consecutive file and process records of one cgroup (output.c)
  const batched: Array<Buffer | TraceEvent> = [];
  let run: Buffer[] = [];
  const flush = (): void => {
    if (run.length === 1) batched.push(run[0] as Buffer);
    else if (run.length > 1) {
      const b = withHeader(BatchEvent.size, hdr(EventType.Batch, (run[0] as Buffer).readBigUInt64LE(Header.fields.ts_ns.offset), (run[0] as Buffer).readBigUInt64LE(Header.fields.cgroup_id.offset), 0));
      b.writeUInt32LE(run.length, BatchEvent.fields.count.offset);
      const all = Buffer.concat([b, ...run]);
      all.writeUInt32LE(all.length, Header.fields.size.offset);
      batched.push(all);
    }
    run = [];
  };
  for (const r of merged) {
    const t = Buffer.isBuffer(r) ? r.readUInt32LE(Header.fields.type.offset) : -1;
    if (t === EventType.File || t === EventType.Proc) {
      const cg = (r as Buffer).readBigUInt64LE(Header.fields.cgroup_id.offset);
      if (run.length && (run[0] as Buffer).readBigUInt64LE(Header.fields.cgroup_id.offset) !== cg) flush();
      run.push(r as Buffer);
    } else {
      flush();
      batched.push(r);
    }
  }
  flush();
  return batched;
}

// ---- steps, and the three ways --------------------------------------------------------------

const V = (n: number): string => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const SH = (cmd: string): string[] => ['/bin/sh', '-c', cmd];

function runStep(n: number, args: string[]): CorrelateStep {
  return { vertex: V(n), instruction: `RUN ${args.join(' ')}`, keyword: 'RUN', line: n + 1, stage: '0', execArgs: args };
}

function vertex(n: number, startMs: number, endMs: number): CorrelateVertex {
  return { digest: V(n), cached: false, startedNs: OFF + ms(startMs), completedNs: OFF + ms(endMs) };
}

/** The trace from the loader's records, every way the CLI may make it, checked equal to the
 * kernel events' trace; returns it and the loader's records. */
function threeWays(events: TraceEvent[], steps: CorrelateStep[], vertices: CorrelateVertex[], forkOnlyListed?: number): { trace: Trace; records: Array<Buffer | TraceEvent> } {
  const options = forkOnlyListed === undefined ? {} : { forkOnlyListed };
  const base: Omit<CorrelateInput, 'events'> = { steps, vertices, options };
  const expected = correlate({ ...base, events });
  const records = loaderRecords(events);
  const ways = [
    { speculate: true, lazy: false, recordsInMemory: undefined },
    { speculate: true, lazy: true, recordsInMemory: undefined },
    { speculate: false, lazy: true, recordsInMemory: 200 },
    { speculate: false, lazy: false, recordsInMemory: 200 },
  ];
  for (const w of ways) {
    const c = new Correlation({ speculate: w.speculate, ...options, ...(w.recordsInMemory ? { recordsInMemory: w.recordsInMemory } : {}) });
    for (const r of records) {
      if (!Buffer.isBuffer(r)) c.push(r);
      else if (w.lazy && LAZY.has(r.readUInt32LE(0)) && recordIsValid(r, 0, r.length, r.readUInt32LE(0))) {
        const chunk = Buffer.concat([Buffer.alloc(4), r]);
        chunk.writeUInt32LE(r.length, 0);
        c.pushRecord(chunk, 4, r.length, undefined);
      } else c.push(decodeRecord(r));
    }
    expect({ way: w, trace: c.finish(base) }).toEqual({ way: w, trace: expected });
  }
  return { trace: expected, records };
}

const LAZY: ReadonlySet<number> = new Set([EventType.File, EventType.Proc, EventType.Batch]);
const typeOf = (r: Buffer | TraceEvent): number => (Buffer.isBuffer(r) ? r.readUInt32LE(0) : -1);

describe.skipIf(!canCompile && !process.env.CI)("the loader's records make the kernel events' trace", () => {
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'tb-procs-'));
    writeFileSync(path.join(dir, 'probe.skel.h'), 'struct probe;\n');
    writeFileSync(path.join(dir, 'harness.c'), HARNESS);
    harness = path.join(dir, 'harness');
    execFileSync('cc', ['-std=gnu11', '-O1', '-Wall', '-I', dir, '-I', bpfDir, '-o', harness, path.join(dir, 'harness.c'), path.join(bpfDir, 'procs.c')]);
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a shell that forks applets, runs commands, execs again, reuses a pid and leaves one running', () => {
    const cmd = SH('loop');
    const cg = 10n;
    const sh = exec(ms(1002), cg, 50, ms(999), cmd);
    const cat = exec(ms(1006), cg, 61, ms(1005), ['cat', 'x'], 1n, 50);
    const make = exec(ms(1013), cg, 50, ms(999), ['make'], 2n, 40);
    const events: TraceEvent[] = [
      ready(),
      cgroupEvent('cgroup-mkdir', ms(1000), cg),
      // runc's setup: a process forked and gone before the command, one forked before it that ends after it
      file(ms(1000.2), cg, 400, 'mkdir', '/var/lib/x/dev'),
      fork(ms(1001), cg, 400, 401),
      exit(ms(1001.5), cg, 401, ms(1001)),
      fork(ms(1001.6), cg, 400, 402),
      sh,
      digest(sh, SHA('a')),
      // an applet that never execs
      fork(ms(1003), cg, 50, 60),
      file(ms(1003.5), cg, 60, 'rename', '/w/f1', { path2: '/w/g1' }),
      exit(ms(1004), cg, 60, ms(1003), { code: 1 }),
      // a command
      fork(ms(1005), cg, 50, 61),
      cat,
      digest(cat, SHA('c')),
      file(ms(1006.5), cg, 61, 'open', '/w/out', { flags: 0o101, created: true }),
      exit(ms(1007), cg, 61, ms(1005)),
      // a subshell's subshell: the grandchild runs the shell's image too
      fork(ms(1008), cg, 50, 62),
      fork(ms(1009), cg, 62, 63),
      exit(ms(1010), cg, 63, ms(1009)),
      exit(ms(1011), cg, 62, ms(1008)),
      // forked before the shell execs make: it ran the shell's image, not make's
      fork(ms(1012), cg, 50, 64),
      make,
      digest(make, SHA('e')),
      exit(ms(1014), cg, 64, ms(1012), { signal: 9 }),
      // pid 60 again, another process
      fork(ms(1015), cg, 50, 60),
      exit(ms(1016), cg, 60, ms(1015)),
      // still running when the probe stops
      fork(ms(1017), cg, 50, 65),
      exit(ms(1018), cg, 402, ms(1001.6)),
      exit(ms(1020), cg, 50, ms(999)),
      cgroupEvent('cgroup-rmdir', ms(1030), cg),
    ];
    const { trace, records } = threeWays(events, [runStep(1, cmd)], [vertex(1, 900, 1100)]);
    const step = trace.buildSteps[0];
    expect(step?.processes.map((p) => [p.pid, p.execed, p.argv[0], p.exitCode, p.signal, p.exitMissing])).toEqual([
      // forked during runc's setup: its fork is not the step's, its exit is (sorted by its start)
      [402, false, undefined, 0, undefined, undefined],
      [50, true, '/bin/sh', null, undefined, undefined],
      [60, false, '/bin/sh', 1, undefined, undefined],
      [61, true, 'cat', 0, undefined, undefined],
      [62, false, '/bin/sh', 0, undefined, undefined],
      [63, false, '/bin/sh', 0, undefined, undefined],
      [64, false, '/bin/sh', null, 9, undefined],
      [50, true, 'make', 0, undefined, undefined],
      [60, false, 'make', 0, undefined, undefined],
      [65, false, 'make', null, undefined, true],
    ]);
    // runc's setup: the mkdir, two forks, one exit
    expect(step?.runcSetupEvents).toBe(4);
    // no fork record reaches the CLI; a process record per process; execs carry their digests
    expect(records.filter((r) => typeOf(r) === EventType.Fork || typeOf(r) === EventType.Exit || typeOf(r) === EventType.Digest)).toEqual([]);
    const procs = records.flatMap((r) => {
      if (!Buffer.isBuffer(r)) return [];
      const ev = decodeRecord(r);
      return ev.kind === 'batch' ? ev.events.filter((e) => e.kind === 'process') : ev.kind === 'process' ? [ev] : [];
    });
    expect(procs).toHaveLength(10);
    expect(records.filter((r) => typeOf(r) === EventType.Batch).length).toBeGreaterThan(0);
    // the grandchild's image is the shell's exec, named by the loader
    const grandchild = procs.find((p) => p.header.tgid === 63);
    expect(grandchild?.image).toEqual({ tgid: 50, startBoottimeNs: ms(999), execId: 1n });
    expect(grandchild?.fork).toMatchObject({ ppid: 62, tsNs: ms(1009), cgroupId: cg });
  });

  it('counts the processes that never exec beyond the ones a step lists, the same every way', () => {
    const cmd = SH('many');
    const cg = 20n;
    const sh = exec(ms(2001), cg, 70, ms(1999), cmd);
    const events: TraceEvent[] = [ready(), cgroupEvent('cgroup-mkdir', ms(2000), cg), sh, digest(sh, SHA('a'))];
    for (let k = 0; k < 8; k++) {
      events.push(fork(ms(2002 + k), cg, 70, 100 + k));
      events.push(exit(ms(2002.5 + k), cg, 100 + k, ms(2002 + k), k === 6 ? { signal: 15 } : { code: k % 2, userMs: 2 }));
    }
    events.push(fork(ms(2020), cg, 70, 200)); // never exits: listed whatever the limit
    events.push(exit(ms(2030), cg, 70, ms(1999)));
    const { trace } = threeWays(events, [runStep(2, cmd)], [vertex(2, 1900, 2100)], 3);
    const step = trace.buildSteps[0];
    expect(step?.processes.map((p) => p.pid)).toEqual([70, 100, 101, 102, 200]);
    expect(step?.unlistedProcesses).toEqual({
      count: 5,
      listedLimit: 3,
      exitedZero: 1,
      exitedNonZero: 3,
      killed: 1,
      firstStartedOn: new Date(Number((OFF + ms(2005)) / 1_000_000n)).toISOString(),
      lastFinishedOn: new Date(Number((OFF + ms(2009.5)) / 1_000_000n)).toISOString(),
      cpuUserMs: 9,
      cpuSystemMs: 2.5,
    });
    expect(step?.warnings.join('\n')).toContain("5 process(es) that forked and never exec'd are counted in unlistedProcesses");
    // their CPU is the step's all the same
    expect(step?.resources?.cpuUserMs).toBe(8 * 2 - 2 + 1 + 1);
  });

  it('builds a step of two containers from its records read again, out of a temporary file', () => {
    // the same command in two containers: one step holds both, built at the end
    const cmd = SH('same');
    const events: TraceEvent[] = [ready()];
    for (const [cg, t] of [
      [30n, 3000],
      [31n, 3000.5],
    ] as const) {
      events.push(cgroupEvent('cgroup-mkdir', ms(t), cg));
    }
    for (const [cg, pid, t] of [
      [30n, 80, 3001],
      [31n, 90, 3001.5],
    ] as const) {
      const e = exec(ms(t), cg, pid, ms(t - 1), cmd);
      events.push(e, digest(e, SHA('b')));
    }
    for (let k = 0; k < 30; k++) {
      const [cg, pid] = k % 2 ? [31n, 90] : [30n, 80];
      events.push(fork(ms(3002 + k), cg, pid, 300 + k));
      events.push(file(ms(3002.2 + k), cg, 300 + k, 'open', `/out/${k % 5}`, { flags: 0o101, created: k < 5 }));
      events.push(exit(ms(3002.5 + k), cg, 300 + k, ms(3002 + k)));
    }
    events.push(exit(ms(3040), 30n, 80, ms(3000)), exit(ms(3041), 31n, 90, ms(3000.5)));
    const { trace } = threeWays(events, [runStep(3, cmd)], [vertex(3, 2900, 3100)]);
    const step = trace.buildSteps[0];
    expect(step?.processes).toHaveLength(32);
    expect(step?.files.created).toEqual(['/out/0', '/out/1', '/out/2', '/out/3', '/out/4']);
    expect(step?.warnings.join('\n')).toContain('2 containers ran this step');
  });
});

describe('batch records', () => {
  it('are taken whole only when every record in them is whole and of a type a batch holds', () => {
    const proc = withHeader(ProcEvent.size, hdr(EventType.Proc, 5n, 7n, 3));
    proc.writeUInt32LE(ProcFlag.Exited, ProcEvent.fields.flags.offset);
    const b = withHeader(BatchEvent.size, hdr(EventType.Batch, 5n, 7n, 0));
    b.writeUInt32LE(2, BatchEvent.fields.count.offset);
    const good = Buffer.concat([b, proc, proc]);
    good.writeUInt32LE(good.length, Header.fields.size.offset);
    expect(recordIsValid(good, 0, good.length, EventType.Batch)).toBe(true);
    const decoded = decodeRecord(good);
    expect(decoded.kind === 'batch' ? decoded.events.map((e) => e.kind) : decoded.kind).toEqual(['process', 'process']);

    const wrongCount = Buffer.from(good);
    wrongCount.writeUInt32LE(3, BatchEvent.fields.count.offset);
    const cut = Buffer.from(good);
    cut.writeUInt32LE(ProcEvent.size + 8, BatchEvent.size + Header.fields.size.offset); // overruns the batch
    const exec = withHeader(Header.size, hdr(EventType.Exec, 5n, 7n, 3)); // not a type a batch holds
    const withExec = Buffer.concat([b, proc, exec]);
    withExec.writeUInt32LE(withExec.length, Header.fields.size.offset);
    for (const bad of [wrongCount, cut, withExec]) {
      expect(recordIsValid(bad, 0, bad.length, EventType.Batch)).toBe(false);
      expect(decodeRecord(bad)).toMatchObject({ kind: 'unknown', reason: 'bad-strings' });
    }
  });
});
