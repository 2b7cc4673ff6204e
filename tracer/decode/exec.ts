// exec records: what a task ran (the file, its path, the script's interpreter, argv, cwd)
// and whether the loader hashes it.
import { DigestEvent, DigestPart, EventType, ExecEvent, ExecFlag } from '../abi.js';
import type { DigestEventData, EventHeader, ExecEventData, TraceEvent } from './events.js';
import { decodeFileId, str } from './fields.js';
import { decodeDigestPart } from './loader.js';

const EX = ExecEvent.fields;

/** argv as on the new stack: NUL-terminated strings, an empty one kept (`echo "" x`). */
function splitArgv(buf: Buffer, at: number, len: number): string[] {
  const argv: string[] = [];
  const end = at + len;
  let from = at;
  for (let i = at; i < end; i++) {
    if (buf[i] === 0) {
      argv.push(str(buf, from, i - from));
      from = i + 1;
    }
  }
  if (from < end) argv.push(str(buf, from, end - from)); // truncated: the last one unterminated
  return argv;
}

export function decodeExec(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const filenameLen = buf.readUInt16LE(base + EX.filename_len.offset);
  const interpLen = buf.readUInt16LE(base + EX.interp_len.offset);
  const exePathLen = buf.readUInt16LE(base + EX.exe_path_len.offset);
  const cwdLen = buf.readUInt16LE(base + EX.cwd_len.offset);
  const argvLen = buf.readUInt16LE(base + EX.argv_len.offset);
  const flags = buf.readUInt32LE(base + EX.flags.offset);
  const strings = ExecEvent.size + filenameLen + interpLen + exePathLen + cwdLen + argvLen;
  // the loader's digests (TB_EXEC_DIGESTS): the exe's, and a script's, after the strings
  const parts = (flags & ExecFlag.Digests) === 0 ? 0 : (flags & ExecFlag.Script) !== 0 ? 2 : 1;
  if (parts === 0 ? strings > header.size : strings + parts * DigestPart.size !== header.size) return 'bad-strings';
  let at = base + ExecEvent.size;
  const filename = str(buf, at, filenameLen);
  at += filenameLen;
  const interp = str(buf, at, interpLen);
  at += interpLen;
  const exePath = str(buf, at, exePathLen);
  at += exePathLen;
  const cwd = str(buf, at, cwdLen);
  at += cwdLen;
  const ev: ExecEventData = {
    kind: 'exec',
    header,
    ppid: buf.readUInt32LE(base + EX.ppid.offset),
    oldPid: buf.readUInt32LE(base + EX.old_pid.offset),
    uid: buf.readUInt32LE(base + EX.uid.offset),
    gid: buf.readUInt32LE(base + EX.gid.offset),
    flags,
    argc: buf.readUInt32LE(base + EX.argc.offset),
    startBoottimeNs: buf.readBigUInt64LE(base + EX.start_boottime_ns.offset),
    exe: decodeFileId(buf, base + EX.exe.offset),
    filename,
    interp: (flags & ExecFlag.Script) !== 0 ? interp : undefined,
    exePath,
    cwd,
    argv: splitArgv(buf, at, argvLen),
    argvTruncated: (flags & ExecFlag.ArgvTrunc) !== 0,
    script: (flags & ExecFlag.Script) !== 0,
    needsDigest: (flags & ExecFlag.NeedsDigest) !== 0,
    digestSkipped: (flags & ExecFlag.DigestSkipped) !== 0,
    digestByPeer: (flags & ExecFlag.DigestByPeer) !== 0,
    execId: buf.readBigUInt64LE(base + EX.exec_id.offset),
  };
  if (parts > 0) {
    // as the digest records the loader wrote before ABI 3: the exec's header, their type
    const digestHeader: EventHeader = { ...header, type: EventType.Digest, size: DigestEvent.size };
    const digests: DigestEventData[] = [];
    for (let i = 0; i < parts; i++) digests.push(decodeDigestPart(buf, base + strings + i * DigestPart.size, digestHeader));
    ev.digests = digests;
  }
  return ev;
}
