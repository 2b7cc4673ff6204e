// Probe records as the loader writes them (tracer/bpf/events.h, mirrored by tracer/abi.ts),
// for tests of what reads them raw (the agent's router and Trace stream): each record framed
// with its u32 length, decoded as the tracer's RecordStream delivers it.
import { RecordStream, abi, type TraceEvent } from '../../tracer/index.js';

const H = abi.Header.fields;

function header(buf: Buffer, type: number, ts: bigint, cgroup: bigint, tgid: number): void {
  buf.writeUInt32LE(type, H.type.offset);
  buf.writeUInt32LE(buf.length, H.size.offset);
  buf.writeBigUInt64LE(ts, H.ts_ns.offset);
  buf.writeBigUInt64LE(cgroup, H.cgroup_id.offset);
  buf.writeUInt32LE(tgid, H.pid.offset);
  buf.writeUInt32LE(tgid, H.tgid.offset);
}

export function readyRecord(realtimeOffsetNs: bigint, ts = 1_000n): Buffer {
  const b = Buffer.alloc(abi.ReadyEvent.size);
  header(b, abi.EventType.Ready, ts, 0n, 9);
  const F = abi.ReadyEvent.fields;
  b.writeUInt32LE(abi.ABI_VERSION, F.abi_version.offset);
  b.writeUInt32LE(2, F.ncpus.offset);
  b.writeBigInt64LE(realtimeOffsetNs, F.realtime_offset_ns.offset);
  b.writeBigUInt64LE(64n << 20n, F.ringbuf_bytes.offset);
  b.writeUInt32LE(9, F.loader_pid.offset);
  return b;
}

/** The cgroup of the host's tasks that create the containers' cgroups. */
export const HOST_CGROUP = 424242n;

export function cgroupRecord(kind: 'mkdir' | 'rmdir', ts: bigint, id: bigint, path: string, level = 3): Buffer {
  const p = Buffer.from(path);
  const b = Buffer.alloc(abi.CgroupEvent.size + p.length);
  // made by runc, in a cgroup of the host's (not traced)
  header(b, kind === 'mkdir' ? abi.EventType.CgroupMkdir : abi.EventType.CgroupRmdir, ts, HOST_CGROUP, 1);
  const F = abi.CgroupEvent.fields;
  b.writeBigUInt64LE(id, F.id.offset);
  b.writeUInt32LE(level, F.level.offset);
  b.writeUInt32LE(1, F.generation.offset);
  b.writeUInt16LE(p.length, F.path_len.offset);
  p.copy(b, abi.CgroupEvent.size);
  return b;
}

export function execRecord(ts: bigint, cgroup: bigint, tgid: number, argv: readonly string[], filename = argv[0] ?? ''): Buffer {
  const fn = Buffer.from(filename);
  const args = Buffer.from(argv.map((a) => `${a}\0`).join(''));
  const cwd = Buffer.from('/');
  const b = Buffer.alloc(abi.ExecEvent.size + fn.length + fn.length + cwd.length + args.length);
  header(b, abi.EventType.Exec, ts, cgroup, tgid);
  const F = abi.ExecEvent.fields;
  b.writeUInt32LE(1, F.ppid.offset);
  b.writeUInt32LE(argv.length, F.argc.offset);
  b.writeBigUInt64LE(ts, F.start_boottime_ns.offset);
  b.writeUInt16LE(fn.length, F.filename_len.offset);
  b.writeUInt16LE(fn.length, F.exe_path_len.offset);
  b.writeUInt16LE(cwd.length, F.cwd_len.offset);
  b.writeUInt16LE(args.length, F.argv_len.offset);
  let at = abi.ExecEvent.size;
  fn.copy(b, at);
  at += fn.length;
  fn.copy(b, at);
  at += fn.length;
  cwd.copy(b, at);
  at += cwd.length;
  args.copy(b, at);
  return b;
}

export function forkRecord(ts: bigint, cgroup: bigint, parent: number, child: number): Buffer {
  const b = Buffer.alloc(abi.ForkEvent.size);
  header(b, abi.EventType.Fork, ts, cgroup, parent);
  b.writeUInt32LE(child, abi.ForkEvent.fields.child_pid.offset);
  b.writeUInt32LE(child, abi.ForkEvent.fields.child_tgid.offset);
  b.writeBigUInt64LE(ts, abi.ForkEvent.fields.child_start_boottime_ns.offset);
  return b;
}

/** A loss report with these raw slots (indexed by abi.Loss). */
export function lossRecord(ts: bigint, slots: Partial<Record<number, bigint>>): Buffer {
  const b = Buffer.alloc(abi.LossEvent.size);
  header(b, abi.EventType.Loss, ts, 0n, 9);
  for (const [i, v] of Object.entries(slots)) b.writeBigUInt64LE(v ?? 0n, abi.LossEvent.fields.counters.offset + Number(i) * 8);
  return b;
}

export interface Delivered {
  buf: Buffer;
  base: number;
  len: number;
  ev: TraceEvent | undefined;
}

/** Frames the records and hands each over as the tracer's Probe does (file, fork and exit undecoded). */
export function deliver(records: readonly Buffer[], to: (d: Delivered) => void): void {
  const framed = Buffer.concat(
    records.flatMap((r) => {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(r.length);
      return [len, r];
    }),
  );
  new RecordStream().pushRecords(framed, true, (buf, base, len, ev) => to({ buf, base, len, ev }));
}
