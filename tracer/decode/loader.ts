// The records the loader writes itself (types from TB_EV_LOADER_FIRST on): ready, digest,
// loss and ack.
import { AckEvent, DigestEvent, DigestFlag, DigestKind, Loss, LossEvent, ReadyEvent, ReadyFlag } from '../abi.js';
import type { EventHeader, TraceEvent } from './events.js';
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

const DG = DigestEvent.fields;

export function decodeDigest(buf: Buffer, base: number, header: EventHeader): TraceEvent {
  const kind = buf.readUInt32LE(base + DG.kind.offset);
  const error = buf.readInt32LE(base + DG.error.offset);
  const flags = buf.readUInt32LE(base + DG.flags.offset);
  const sha = base + DG.sha256.offset;
  return {
    kind: 'digest',
    header,
    digestKind: kind === DigestKind.Exe ? 'exe' : kind === DigestKind.Script ? 'script' : `kind-${kind}`,
    error,
    sha256: error === 0 ? buf.toString('hex', sha, sha + DG.sha256.size) : undefined,
    bytes: buf.readBigUInt64LE(base + DG.bytes.offset),
    fromCache: (flags & DigestFlag.FromCache) !== 0,
    identityMismatch: (flags & DigestFlag.IdentityMismatch) !== 0,
    wasStopped: (flags & DigestFlag.WasStopped) !== 0,
    fromPeer: (flags & DigestFlag.FromPeer) !== 0,
    file: decodeFileId(buf, base + DG.file.offset),
  };
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
