// file records: a file operation's arguments, the directories they are relative to, the
// file it resolved to; its FileChange (also read from an undecoded record, fileChangeAt).
import { posix } from 'node:path';
import { FileEvent, FileOp, FileResult } from '../abi.js';
import type { EventHeader, FileChange, FileOpName, TraceEvent } from './events.js';
import { str, syscallName } from './fields.js';

/** A part of an absolute path that normalising changes: an empty one (`//`, or a trailing
 * `/`), `.` or `..`. */
const NOT_NORMAL = /\/(?:\.{1,2})?(?:\/|$)/;

/** Lexically absolute path of `p` relative to `dir` (both below the task's root). */
export function absolutePath(p: string, dir: string): string | undefined {
  // most paths are normal already: one scan, and no new string (posix.normalize makes one)
  if (p.startsWith('/')) return NOT_NORMAL.test(p) && p !== '/' ? posix.normalize(p) : p;
  if (!dir) return undefined;
  const joined = `${dir}/${p}`;
  if (dir.startsWith('/') && !NOT_NORMAL.test(joined)) return joined;
  const normal = posix.normalize(joined);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

const FILE_OPS: Record<number, FileOpName> = {
  [FileOp.Open]: 'open',
  [FileOp.Unlink]: 'unlink',
  [FileOp.Rmdir]: 'rmdir',
  [FileOp.Rename]: 'rename',
  [FileOp.Mkdir]: 'mkdir',
  [FileOp.Link]: 'link',
  [FileOp.Symlink]: 'symlink',
  [FileOp.Truncate]: 'truncate',
  [FileOp.Chmod]: 'chmod',
  [FileOp.Chown]: 'chown',
};

const FE = FileEvent.fields;
const FILE_TRUNC_MASK = FileResult.Path1Trunc | FileResult.Path2Trunc | FileResult.Dir1Trunc |
  FileResult.Dir2Trunc | FileResult.ResolvedTrunc;

/** The bytes of a file record's five strings (path1, path2, dir1, dir2, resolved, in that
 * order after its fixed part). */
export function fileStringsLength(buf: Buffer, base: number): number {
  return buf.readUInt16LE(base + FE.path1_len.offset) + buf.readUInt16LE(base + FE.path2_len.offset) +
    buf.readUInt16LE(base + FE.dir1_len.offset) + buf.readUInt16LE(base + FE.dir2_len.offset) +
    buf.readUInt16LE(base + FE.resolved_len.offset);
}

export function decodeFile(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  if (FileEvent.size + fileStringsLength(buf, base) > header.size) return 'bad-strings';
  const { change, dir1, dir2 } = readFileRecord(buf, base);
  return {
    kind: 'file',
    header,
    ...change,
    syscall: syscallName(buf.readUInt32LE(base + FE.syscall.offset)),
    ret: buf.readBigInt64LE(base + FE.ret.offset),
    dirfd1: buf.readInt32LE(base + FE.dirfd1.offset),
    dirfd2: buf.readInt32LE(base + FE.dirfd2.offset),
    length: buf.readBigInt64LE(base + FE.length.offset),
    dir1,
    dir2,
  };
}

/** The FileChange of a valid file record (see recordIsValid), without the event around it:
 * what decodeFile reads, by the same code. */
export function fileChangeAt(buf: Buffer, base: number): FileChange {
  return readFileRecord(buf, base).change;
}

function readFileRecord(buf: Buffer, base: number): { change: FileChange; dir1: string; dir2: string } {
  const path1Len = buf.readUInt16LE(base + FE.path1_len.offset);
  const path2Len = buf.readUInt16LE(base + FE.path2_len.offset);
  const dir1Len = buf.readUInt16LE(base + FE.dir1_len.offset);
  const dir2Len = buf.readUInt16LE(base + FE.dir2_len.offset);
  const resolvedLen = buf.readUInt16LE(base + FE.resolved_len.offset);
  let at = base + FileEvent.size;
  const path1 = str(buf, at, path1Len);
  at += path1Len;
  const path2 = str(buf, at, path2Len);
  at += path2Len;
  const dir1 = str(buf, at, dir1Len);
  at += dir1Len;
  const dir2 = str(buf, at, dir2Len);
  at += dir2Len;
  const resolved = str(buf, at, resolvedLen);
  const opNum = buf.readUInt32LE(base + FE.op.offset);
  const op = FILE_OPS[opNum] ?? (`op-${opNum}` as const);
  const result = buf.readUInt32LE(base + FE.result.offset);
  const change: FileChange = {
    op,
    flags: buf.readUInt32LE(base + FE.flags.offset),
    mode: buf.readUInt32LE(base + FE.mode.offset),
    uid: buf.readUInt32LE(base + FE.uid.offset),
    gid: buf.readUInt32LE(base + FE.gid.offset),
    result,
    created: (result & FileResult.Created) !== 0,
    path1,
    path2,
    resolved,
    // the symlink text is not a path to resolve; f* calls have only `resolved`
    absPath1: op === 'symlink' ? undefined : path1 || dir1 ? absolutePath(path1, dir1) : resolved || undefined,
    absPath2: path2 ? absolutePath(path2, dir2) : undefined,
    truncated: (result & FILE_TRUNC_MASK) !== 0,
  };
  return { change, dir1, dir2 };
}
