import { posix } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AckEvent,
  CgroupEvent,
  CgroupFlag,
  DigestEvent,
  DigestFlag,
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
  Loss,
  LossEvent,
  NetEvent,
  NetFlag,
  NetOp,
  ReadyEvent,
  Syscall,
  type StructLayout,
} from './abi.js';
import type { TraceEvent } from './decode/events.js';
import { absolutePath, fileChangeAt } from './decode/file.js';
import { exitInfo, exitInfoAt } from './decode/fork-exit.js';
import { totalLost } from './decode/losses.js';
import { decodeRecord } from './decode/record.js';
import { MAX_RECORD_BYTES, RecordStream, decodeStream } from './decode/stream.js';

type Value = number | bigint | Buffer;

/** Builds a record: fixed struct from `fields` (by abi.ts layout), then the strings. */
function record<F extends string>(
  layout: StructLayout<F>,
  type: number,
  fields: Partial<Record<F, Value>>,
  strings: Array<string | Buffer> = [],
  header: { ts?: bigint; cg?: bigint; pid?: number; tgid?: number } = {},
): Buffer {
  const tail = Buffer.concat(strings.map((s) => (typeof s === 'string' ? Buffer.from(s) : s)));
  const buf = Buffer.alloc(layout.size + tail.length);
  tail.copy(buf, layout.size);
  buf.writeUInt32LE(type, Header.fields.type.offset);
  buf.writeUInt32LE(buf.length, Header.fields.size.offset);
  buf.writeBigUInt64LE(header.ts ?? 1000n, Header.fields.ts_ns.offset);
  buf.writeBigUInt64LE(header.cg ?? 42n, Header.fields.cgroup_id.offset);
  buf.writeUInt32LE(header.pid ?? 7, Header.fields.pid.offset);
  buf.writeUInt32LE(header.tgid ?? 7, Header.fields.tgid.offset);
  for (const [name, value] of Object.entries(fields) as Array<[F, Value]>) {
    const f = layout.fields[name];
    if (Buffer.isBuffer(value)) value.copy(buf, f.offset);
    else if (typeof value === 'bigint') buf.writeBigInt64LE(value, f.offset);
    else if (f.size === 2) buf.writeUInt16LE(value, f.offset);
    else if (f.size === 4) buf.writeInt32LE(value | 0, f.offset);
    else buf.writeBigInt64LE(BigInt(value), f.offset);
  }
  return buf;
}

function fileId(ino: bigint, size: bigint): Buffer {
  const b = Buffer.alloc(FileId.size);
  b.writeBigUInt64LE(ino, FileId.fields.ino.offset);
  b.writeBigUInt64LE(size, FileId.fields.size.offset);
  b.writeBigInt64LE(1700000000n, FileId.fields.mtime_sec.offset);
  b.writeUInt32LE(5, FileId.fields.mtime_nsec.offset);
  b.writeBigInt64LE(1700000001n, FileId.fields.ctime_sec.offset);
  b.writeUInt32LE(6, FileId.fields.ctime_nsec.offset);
  b.writeUInt32LE((8 << 20) | 1, FileId.fields.dev.offset);
  b.writeUInt32LE(0o100755, FileId.fields.mode.offset);
  return b;
}

function framed(...records: Buffer[]): Buffer {
  return Buffer.concat(
    records.flatMap((r) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(r.length);
      return [len, r];
    }),
  );
}

function only<K extends TraceEvent['kind']>(ev: TraceEvent, kind: K): Extract<TraceEvent, { kind: K }> {
  expect(ev.kind).toBe(kind);
  return ev as Extract<TraceEvent, { kind: K }>;
}

describe('decodeRecord', () => {
  it('decodes an exec of a #! script with argv, cwd and the file identity', () => {
    const argv = 'sh\0/s.sh\0-x\0';
    const rec = record(
      ExecEvent,
      EventType.Exec,
      {
        ppid: 100,
        old_pid: 101,
        uid: 0,
        gid: 0,
        flags: ExecFlag.Script | ExecFlag.NeedsDigest,
        argc: 3,
        start_boottime_ns: 5n,
        exe: fileId(1234n, 1982256n),
        filename_len: 5,
        interp_len: 7,
        exe_path_len: 12,
        cwd_len: 4,
        argv_len: argv.length,
      },
      ['/s.sh', '/bin/sh', '/bin/busybox', '/tmp', argv],
      { pid: 101, tgid: 101, cg: 6922n, ts: 77n },
    );
    const ev = only(decodeRecord(rec), 'exec');
    expect(ev.header).toEqual({ type: EventType.Exec, size: rec.length, tsNs: 77n, cgroupId: 6922n, pid: 101, tgid: 101 });
    expect(ev.filename).toBe('/s.sh');
    expect(ev.interp).toBe('/bin/sh');
    expect(ev.exePath).toBe('/bin/busybox');
    expect(ev.cwd).toBe('/tmp');
    expect(ev.argv).toEqual(['sh', '/s.sh', '-x']);
    expect(ev.script).toBe(true);
    expect(ev.needsDigest).toBe(true);
    expect(ev.argvTruncated).toBe(false);
    expect(ev.exe).toEqual({
      dev: (8 << 20) | 1,
      ino: 1234n,
      size: 1982256n,
      mtimeSec: 1700000000n,
      mtimeNsec: 5,
      ctimeSec: 1700000001n,
      ctimeNsec: 6,
      mode: 0o100755,
    });
  });

  it('keeps an empty argument and reports truncated argv', () => {
    const argv = 'echo\0\0x';
    const rec = record(ExecEvent, EventType.Exec, { flags: ExecFlag.ArgvTrunc, filename_len: 0, argv_len: argv.length }, [argv]);
    const ev = only(decodeRecord(rec), 'exec');
    expect(ev.argv).toEqual(['echo', '', 'x']);
    expect(ev.argvTruncated).toBe(true);
    expect(ev.interp).toBeUndefined();
  });

  it('makes relative paths absolute with their directory context (rename)', () => {
    const rec = record(
      FileEvent,
      EventType.File,
      { ret: 0n, op: FileOp.Rename, syscall: Syscall.renameat2, dirfd1: -100, dirfd2: 3, path1_len: 1, path2_len: 8, dir1_len: 4, dir2_len: 6 },
      ['a', '../x/./b', '/tmp', '/var/y'],
    );
    const ev = only(decodeRecord(rec), 'file');
    expect(ev.op).toBe('rename');
    expect(ev.syscall).toBe('renameat2');
    expect(ev.dirfd1).toBe(-100);
    expect(ev.absPath1).toBe('/tmp/a');
    expect(ev.absPath2).toBe('/var/x/b');
  });

  it('reports created files, the resolved path, and does not resolve symlink text', () => {
    const open = only(
      decodeRecord(
        record(
          FileEvent,
          EventType.File,
          { ret: 3n, op: FileOp.Open, syscall: Syscall.openat, flags: 0o1101, mode: 0o644, result: FileResult.Created, path1_len: 6, resolved_len: 6 },
          ['/tmp/a', '/tmp/a'],
        ),
      ),
      'file',
    );
    expect(open.created).toBe(true);
    expect(open.absPath1).toBe('/tmp/a');
    expect(open.resolved).toBe('/tmp/a');
    expect(open.ret).toBe(3n);

    const sym = only(
      decodeRecord(
        record(FileEvent, EventType.File, { op: FileOp.Symlink, syscall: Syscall.symlinkat, path1_len: 2, path2_len: 1, dir2_len: 4 }, ['..', 'l', '/tmp']),
      ),
      'file',
    );
    expect(sym.path1).toBe('..');
    expect(sym.absPath1).toBeUndefined();
    expect(sym.absPath2).toBe('/tmp/l');

    const ftrunc = only(
      decodeRecord(
        record(FileEvent, EventType.File, { op: FileOp.Truncate, syscall: Syscall.ftruncate, dirfd1: 4, length: 10n, resolved_len: 4 }, ['/a/b']),
      ),
      'file',
    );
    expect(ftrunc.absPath1).toBe('/a/b');
    expect(ftrunc.length).toBe(10n);
  });

  it('decodes IPv4, IPv6 and unix connects', () => {
    const v4 = Buffer.alloc(16);
    Buffer.from([127, 0, 0, 1]).copy(v4);
    const c4 = only(
      decodeRecord(record(NetEvent, EventType.Net, { ret: 0n, op: NetOp.Connect, syscall: Syscall.connect, fd: 3, family: 2, port: 8080, sock_type: 1, protocol: 6, addr: v4 })),
      'net',
    );
    expect(c4).toMatchObject({ op: 'connect', family: 'inet', address: '127.0.0.1', port: 8080, protocol: 'tcp', local: false });

    const v6 = Buffer.from('20010db8000000000000000000000001', 'hex');
    const c6 = only(decodeRecord(record(NetEvent, EventType.Net, { ret: -111n, op: NetOp.Connect, family: 10, port: 443, protocol: 6, addr: v6 })), 'net');
    expect(c6.address).toBe('2001:db8::1');
    expect(c6.ret).toBe(-111n);

    const mapped = Buffer.from('00000000000000000000ffff7f000001', 'hex');
    expect(only(decodeRecord(record(NetEvent, EventType.Net, { op: NetOp.Sendto, family: 10, protocol: 17, addr: mapped })), 'net').address).toBe(
      '::ffff:127.0.0.1',
    );

    const unix = only(
      decodeRecord(record(NetEvent, EventType.Net, { op: NetOp.Connect, family: 1, flags: NetFlag.UnixAbstract, unix_path_len: 4 }, ['name'])),
      'net',
    );
    expect(unix.address).toBe('@name');
    expect(unix.family).toBe('unix');
  });

  it('decodes wait statuses of exits', () => {
    const exited = only(decodeRecord(record(ExitEvent, EventType.Exit, { exit_code: 3 << 8, utime_ns: 5n, maxrss_kib: 1024n })), 'exit');
    expect(exited).toMatchObject({ exitCode: 3, signal: undefined, coreDumped: false, utimeNs: 5n, maxRssKiB: 1024n });
    const killed = only(decodeRecord(record(ExitEvent, EventType.Exit, { exit_code: 9 })), 'exit');
    expect(killed).toMatchObject({ exitCode: undefined, signal: 9 });
  });

  it('decodes cgroup, digest, loss, ack and ready records', () => {
    const cg = only(
      decodeRecord(record(CgroupEvent, EventType.CgroupMkdir, { id: 6922n, level: 3, generation: 2, flags: CgroupFlag.Auto, path_len: 19 }, ['/docker/buildkit/ab'])),
      'cgroup-mkdir',
    );
    expect(cg).toMatchObject({ id: 6922n, level: 3, generation: 2, auto: true, notTraced: false, path: '/docker/buildkit/ab' });

    const sha = Buffer.alloc(32, 0xab);
    const d = only(decodeRecord(record(DigestEvent, EventType.Digest, { kind: 1, flags: DigestFlag.FromCache, bytes: 10n, sha256: sha })), 'digest');
    expect(d).toMatchObject({ digestKind: 'exe', error: 0, sha256: 'ab'.repeat(32), fromCache: true, bytes: 10n });
    const failed = only(decodeRecord(record(DigestEvent, EventType.Digest, { kind: 2, error: 3 })), 'digest');
    expect(failed).toMatchObject({ digestKind: 'script', error: 3, sha256: undefined });

    const counters = Buffer.alloc(8 * Loss.Max);
    counters.writeBigUInt64LE(4n, 8 * (Loss.RingbufFirst + EventType.File - 1));
    counters.writeBigUInt64LE(2n, 8 * Loss.PendingFull);
    counters.writeBigUInt64LE(9n, 8 * Loss.NetSuppressed);
    const loss = only(decodeRecord(record(LossEvent, EventType.Loss, { counters })), 'loss');
    expect(loss.counters.ringbuf.file).toBe(4n);
    expect(loss.counters.ringbufTotal).toBe(4n);
    expect(loss.counters.pendingFull).toBe(2n);
    expect(loss.counters.netSuppressed).toBe(9n);
    expect(totalLost(loss.counters)).toBe(6n);

    expect(only(decodeRecord(record(AckEvent, EventType.Ack, { seq: 5, error: 22, value: 9n })), 'ack')).toMatchObject({ seq: 5, error: 22, value: 9n });
    const ready = only(decodeRecord(record(ReadyEvent, EventType.Ready, { abi_version: 1, ncpus: 2, ringbuf_bytes: 1n << 26n, flags: 1, loader_pid: 99 })), 'ready');
    expect(ready).toMatchObject({ abiVersion: 1, ncpus: 2, ringbufBytes: 1n << 26n, digests: true, traceReads: false, loaderPid: 99 });
  });

  it('returns unknown types and malformed records as unknown events, never throws', () => {
    const odd = record(AckEvent, 77, {});
    expect(only(decodeRecord(odd), 'unknown')).toMatchObject({ type: 77, reason: 'unknown-type' });

    const badSize = record(AckEvent, EventType.Ack, {});
    badSize.writeUInt32LE(999, Header.fields.size.offset);
    expect(only(decodeRecord(badSize), 'unknown').reason).toBe('bad-size');

    const short = record(Header, EventType.Exec, {});
    expect(only(decodeRecord(short), 'unknown').reason).toBe('short-record');

    const overrun = record(CgroupEvent, EventType.CgroupMkdir, { path_len: 50 }, ['/x']);
    expect(only(decodeRecord(overrun), 'unknown').reason).toBe('bad-strings');

    expect(only(decodeRecord(Buffer.from([1, 2])), 'unknown').reason).toBe('short-record');
  });
});

describe('RecordStream', () => {
  it('splits records across arbitrary chunk boundaries and counts them', () => {
    const stream = framed(
      record(AckEvent, EventType.Ack, { seq: 1 }),
      record(CgroupEvent, EventType.CgroupMkdir, { id: 1n, path_len: 3 }, ['/ab']),
      record(AckEvent, 200, {}),
      record(AckEvent, EventType.Ack, { seq: 2 }),
    );
    const s = new RecordStream();
    const events: TraceEvent[] = [];
    for (let i = 0; i < stream.length; i++) events.push(...s.push(stream.subarray(i, i + 1)));
    expect(events.map((e) => e.kind)).toEqual(['ack', 'cgroup-mkdir', 'unknown', 'ack']);
    expect(s.stats.records).toBe(4);
    expect(s.stats.unknownType).toBe(1);
    expect(s.stats.malformed).toBe(0);
    expect(s.stats.byType.get(EventType.Ack)).toBe(2);
    expect(s.stats.bytes).toBe(stream.length);
    expect(s.buffered).toBe(0);
  });

  it('hands valid file, fork and exit records over undecoded when asked (lazy), with where they are', () => {
    const fork = record(ForkEvent, EventType.Fork, { child_pid: 8, child_tgid: 8, child_start_boottime_ns: 5n });
    const exit = record(ExitEvent, EventType.Exit, { exit_code: 3 << 8, start_boottime_ns: 5n, utime_ns: 7n, maxrss_kib: 9n });
    const open = record(FileEvent, EventType.File, { op: FileOp.Open, flags: 0o101, result: FileResult.Created, path1_len: 1, dir1_len: 2 }, ['a', '/w']);
    const badFile = record(FileEvent, EventType.File, { path1_len: 500 }, ['a']); // strings overrun: malformed
    const ack = record(AckEvent, EventType.Ack, { seq: 4 });
    const stream = framed(fork, exit, open, badFile, ack);
    const s = new RecordStream();
    const seen: Array<{ kind: string; bytes: Buffer }> = [];
    s.pushRecords(stream, true, (buf, base, len, ev) => seen.push({ kind: ev?.kind ?? 'lazy', bytes: Buffer.from(buf.subarray(base, base + len)) }));
    expect(seen.map((x) => x.kind)).toEqual(['lazy', 'lazy', 'lazy', 'unknown', 'ack']);
    expect(seen.map((x) => x.bytes)).toEqual([fork, exit, open, badFile, ack]);
    expect(s.stats).toMatchObject({ records: 5, malformed: 1, unknownType: 0, bytes: stream.length });
    expect(s.stats.byType.get(EventType.File)).toBe(2);
    // what is read from an undecoded record is what decoding it gives
    const decodedExit = only(decodeRecord(exit), 'exit');
    expect(exitInfoAt(exit, 0, decodedExit.header.tsNs)).toEqual(exitInfo(decodedExit));
    const decodedOpen = only(decodeRecord(open), 'file');
    const change = fileChangeAt(open, 0);
    expect(change).toEqual(Object.fromEntries(Object.keys(change).map((k) => [k, decodedOpen[k as keyof typeof decodedOpen]])));
    expect(change).toMatchObject({ op: 'open', created: true, absPath1: '/w/a' });
  });

  it('reports trailing partial bytes', () => {
    const whole = framed(record(AckEvent, EventType.Ack, { seq: 1 }));
    const { events, trailingBytes } = decodeStream(Buffer.concat([whole, whole.subarray(0, 10)]));
    expect(events).toHaveLength(1);
    expect(trailingBytes).toBe(10);
  });

  it('a record length no loader writes loses the framing: the rest is discarded and counted, not waited on', () => {
    const ack = framed(record(AckEvent, EventType.Ack, { seq: 1 }));
    const huge = Buffer.alloc(8);
    huge.writeUInt32LE(0x7fffffff); // 2 GiB: would buffer every later byte for ever
    const s = new RecordStream();
    expect(s.push(Buffer.concat([ack, huge])).map((e) => e.kind)).toEqual(['ack']);
    expect(s.corrupt).toBe(true);
    expect(s.push(ack)).toEqual([]);
    expect(s.buffered).toBe(0);
    expect(s.stats).toMatchObject({ records: 1, malformed: 1, discardedBytes: huge.length + ack.length });

    const short = Buffer.alloc(8);
    short.writeUInt32LE(3); // shorter than any header
    const t = new RecordStream();
    expect(t.push(short)).toEqual([]);
    expect(t.corrupt).toBe(true);
  });

  it('stays framed when the callback throws: the records after it come with the next chunk', () => {
    const one = record(AckEvent, EventType.Ack, { seq: 1 });
    const two = record(AckEvent, EventType.Ack, { seq: 2 });
    const three = framed(record(AckEvent, EventType.Ack, { seq: 3 }));
    const both = framed(one, two);
    const s = new RecordStream();
    expect(() =>
      s.pushRecords(Buffer.concat([both, three.subarray(0, 5)]), false, () => {
        throw new Error('listener failed');
      }),
    ).toThrow('listener failed');
    // the first record was handed over; the second and the partial third are kept
    expect(s.buffered).toBe(4 + two.length + 5);
    const seqs: number[] = [];
    s.pushRecords(three.subarray(5), false, (_b, _o, _l, ev) => seqs.push(only(ev as TraceEvent, 'ack').seq));
    expect(seqs).toEqual([2, 3]);
    expect(s.corrupt).toBe(false);
  });
});

describe('RecordStream framing', () => {
  const lengthOf = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };

  it('takes the lengths the loader writes, Header.size to MAX_RECORD_BYTES, and no others', () => {
    expect(MAX_RECORD_BYTES).toBe((1 << 20) - 4); // bpf/output.c: 4 + len fits its 1 MiB outbuf
    for (const len of [Header.size, MAX_RECORD_BYTES]) {
      const s = new RecordStream();
      expect(s.push(lengthOf(len))).toEqual([]);
      expect(s.corrupt).toBe(false);
      expect(s.buffered).toBe(4); // waits for the record
    }
    for (const len of [0, Header.size - 1, MAX_RECORD_BYTES + 1, 0xffffffff]) {
      const s = new RecordStream();
      expect(s.push(lengthOf(len))).toEqual([]);
      expect(s.corrupt).toBe(true);
      expect(s.buffered).toBe(0);
      expect(s.stats).toMatchObject({ records: 0, malformed: 1, discardedBytes: 4 });
    }
  });

  it('reassembles a record of MAX_RECORD_BYTES sent in small chunks', () => {
    const big = Buffer.alloc(MAX_RECORD_BYTES);
    big.writeUInt32LE(200, Header.fields.type.offset); // no decoder: an unknown record, kept whole
    big.writeUInt32LE(big.length, Header.fields.size.offset);
    const stream = Buffer.concat([framed(big), framed(record(AckEvent, EventType.Ack, { seq: 9 }))]);
    const s = new RecordStream();
    const events: TraceEvent[] = [];
    const step = 64 * 1024 + 3;
    for (let i = 0; i < stream.length; i += step) {
      events.push(...s.push(stream.subarray(i, i + step)));
      expect(s.buffered).toBeLessThan(4 + MAX_RECORD_BYTES);
    }
    expect(events.map((e) => e.kind)).toEqual(['unknown', 'ack']);
    expect(only(events[0] as TraceEvent, 'unknown')).toMatchObject({ reason: 'unknown-type', type: 200 });
    expect(only(events[0] as TraceEvent, 'unknown').raw.equals(big)).toBe(true);
    expect(s.corrupt).toBe(false);
    expect(s.buffered).toBe(0);
    expect(s.stats).toMatchObject({ records: 2, unknownType: 1, malformed: 0, discardedBytes: 0, bytes: stream.length });
  });

  it('finds a bad length that arrives split across chunks, and discards all after it', () => {
    const ack = framed(record(AckEvent, EventType.Ack, { seq: 1 }));
    const bad = lengthOf(MAX_RECORD_BYTES + 1);
    const s = new RecordStream();
    expect(s.push(Buffer.concat([ack, bad.subarray(0, 2)])).map((e) => e.kind)).toEqual(['ack']);
    expect(s.corrupt).toBe(false);
    expect(s.buffered).toBe(2);
    expect(s.push(bad.subarray(2))).toEqual([]);
    expect(s.corrupt).toBe(true);
    expect(s.buffered).toBe(0);
    // a well-formed record after the bad length is not trusted: the framing is gone
    expect(s.push(ack)).toEqual([]);
    expect(s.push(ack)).toEqual([]);
    expect(s.stats).toMatchObject({ records: 1, malformed: 1, discardedBytes: 4 + 2 * ack.length });
    const d = decodeStream(Buffer.concat([ack, bad, ack]));
    expect(d).toMatchObject({ trailingBytes: 0, corrupt: true });
    expect(d.events.map((e) => e.kind)).toEqual(['ack']);
    expect(d.stats.discardedBytes).toBe(4 + ack.length);
  });

  it('says how many bytes are left when the input ends inside a record or its length', () => {
    const ack = framed(record(AckEvent, EventType.Ack, { seq: 1 }));
    for (const cut of [1, 3, 4, ack.length - 1]) {
      const s = new RecordStream();
      expect(s.push(Buffer.concat([ack, ack.subarray(0, cut)]))).toHaveLength(1);
      expect(s.buffered).toBe(cut);
      expect(s.corrupt).toBe(false);
      expect(decodeStream(Buffer.concat([ack, ack.subarray(0, cut)]))).toMatchObject({ trailingBytes: cut, corrupt: false });
    }
    const whole = new RecordStream();
    whole.push(Buffer.concat([ack, ack]));
    expect(whole.buffered).toBe(0);
  });

  it('stays framed when the callback throws on a record that straddled two chunks, and in lazy mode', () => {
    const fork = record(ForkEvent, EventType.Fork, { child_pid: 8, child_tgid: 8, child_start_boottime_ns: 5n });
    const ack = record(AckEvent, EventType.Ack, { seq: 2 });
    const stream = framed(fork, ack, fork);
    const s = new RecordStream();
    const seen: string[] = [];
    s.pushRecords(stream.subarray(0, 10), true, () => seen.push('none'));
    expect(s.buffered).toBe(10);
    let calls = 0;
    expect(() =>
      s.pushRecords(stream.subarray(10), true, (_b, _o, _l, ev) => {
        calls++;
        throw new Error(`listener failed on ${ev?.kind ?? 'lazy'}`);
      }),
    ).toThrow('listener failed on lazy');
    expect(calls).toBe(1);
    expect(s.buffered).toBe(stream.length - (4 + fork.length));
    expect(s.stats.records).toBe(1); // the record the callback threw on was handed over
    // the next push (even an empty one) carries on from the record after it
    s.pushRecords(Buffer.alloc(0), true, (buf, base, len, ev) => seen.push(`${ev?.kind ?? 'lazy'}:${len}:${buf.readUInt32LE(base)}`));
    expect(seen).toEqual([`ack:${ack.length}:${EventType.Ack}`, `lazy:${fork.length}:${EventType.Fork}`]);
    expect(s.buffered).toBe(0);
    expect(s.corrupt).toBe(false);
    expect(s.stats).toMatchObject({ records: 3, malformed: 0, bytes: stream.length });

    // a throw on the last whole record leaves only the partial one after it
    const t = new RecordStream();
    const partial = framed(ack).subarray(0, 6);
    expect(() =>
      t.pushRecords(Buffer.concat([framed(ack), partial]), false, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(t.buffered).toBe(6);
    expect(t.push(framed(ack).subarray(6)).map((e) => e.kind)).toEqual(['ack']);
    expect(t.buffered).toBe(0);
  });
});

describe('absolutePath', () => {
  it('joins and normalizes lexically', () => {
    expect(absolutePath('/a/../b', '')).toBe('/b');
    expect(absolutePath('c', '/a/b')).toBe('/a/b/c');
    expect(absolutePath('', '/a/b')).toBe('/a/b');
    expect(absolutePath('x', '/')).toBe('/x');
    expect(absolutePath('x', '')).toBeUndefined();
  });

  it('gives what joining and posix.normalize give, for every path made of awkward parts', () => {
    // absolutePath skips normalising a path that is normal already: this is the check that
    // the skip never changes a result (every path of up to three such parts, against every
    // directory of up to two)
    const parts = ['', '/', '.', '..', 'a', 'bc', '...', '.a', 'a.', '//', './', '../', 'x/', '/.', '/..'];
    const paths = (depth: number): string[] => {
      const out: string[] = [];
      const grow = (prefix: string, d: number): void => {
        out.push(prefix);
        if (d < depth) for (const q of parts) grow(prefix + q, d + 1);
      };
      grow('', 0);
      return out;
    };
    const byNormalize = (p: string, dir: string): string | undefined => {
      if (p.startsWith('/')) return posix.normalize(p);
      if (!dir) return undefined;
      const joined = posix.normalize(`${dir}/${p}`);
      return joined.length > 1 && joined.endsWith('/') ? joined.slice(0, -1) : joined;
    };
    const differ: Array<[string, string]> = [];
    const dirs = paths(2);
    for (const p of paths(3)) for (const dir of dirs) if (absolutePath(p, dir) !== byNormalize(p, dir)) differ.push([p, dir]);
    expect(dirs.length).toBe(241);
    expect(differ).toEqual([]);
  });
});
