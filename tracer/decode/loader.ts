// The records the loader writes itself (types from TB_EV_LOADER_FIRST on): ready, digest,
// loss and ack (process and batch records: proc.ts).
import { AckEvent, DigestEvent, DigestFlag, DigestKind, DigestPart, Loss, LossEvent, ReadyEvent, ReadyFlag } from '../abi.js';
import type { DigestEventData, EventHeader, TraceEvent } from './events.js';
import { decodeFileId } from './fields.js';
import { lossCountersFromSlots } from './losses.js';

const RD = ReadyEvent.fields;

export function decodeReady(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const flags = buf.readUInt32LE(base + RD.flags.offset);
  return {
    kind: 'ready',
    header,
    abiVersion: buf.readUInt32LE(base + RD.abi_version.offset),
    ncpus: buf.readUInt32LE(base + RD.ncpus.offset),
    realtimeOffsetNs: buf.readBigInt64LE(base + RD.realtime_offset_ns.offset),
    ringbufBytes: buf.readBigUInt64LE(base + RD.ringbuf_bytes.offset),
    digests: (flags & ReadyFlag.Digests) !== 0,
    traceReads: (flags & ReadyFlag.TraceReads) !== 0,
    loaderPid: buf.readUInt32LE(base + RD.loader_pid.offset),
  };
}

const DP = DigestPart.fields;
const DIGEST_PART_AT = DigestEvent.fields.kind.offset;

/** A digest (struct tb_digest_part) at `at`: in a digest record, or appended to an exec's. */
export function decodeDigestPart(buf: Buffer, at: number, header: EventHeader): DigestEventData {
  const kind = buf.readUInt32LE(at + DP.kind.offset);
  const error = buf.readInt32LE(at + DP.error.offset);
  const flags = buf.readUInt32LE(at + DP.flags.offset);
  const sha = at + DP.sha256.offset;
  return {
    kind: 'digest',
    header,
    digestKind: kind === DigestKind.Exe ? 'exe' : kind === DigestKind.Script ? 'script' : `kind-${kind}`,
    error,
    sha256: error === 0 ? buf.toString('hex', sha, sha + DP.sha256.size) : undefined,
    bytes: buf.readBigUInt64LE(at + DP.bytes.offset),
    fromCache: (flags & DigestFlag.FromCache) !== 0,
    identityMismatch: (flags & DigestFlag.IdentityMismatch) !== 0,
    wasStopped: (flags & DigestFlag.WasStopped) !== 0,
    fromPeer: (flags & DigestFlag.FromPeer) !== 0,
    file: decodeFileId(buf, at + DP.file.offset),
  };
}

export function decodeDigest(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  return decodeDigestPart(buf, base + DIGEST_PART_AT, header);
}

export function decodeLoss(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const raw: bigint[] = [];
  for (let i = 0; i < Loss.Max; i++) raw.push(buf.readBigUInt64LE(base + LossEvent.fields.counters.offset + 8 * i));
  return { kind: 'loss', header, counters: lossCountersFromSlots(raw), raw };
}

const AK = AckEvent.fields;

export function decodeAck(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  return {
    kind: 'ack',
    header,
    seq: buf.readUInt32LE(base + AK.seq.offset),
    error: buf.readInt32LE(base + AK.error.offset),
    value: buf.readBigUInt64LE(base + AK.value.offset),
  };
}
