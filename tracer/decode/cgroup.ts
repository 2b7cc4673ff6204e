// cgroup-mkdir and cgroup-rmdir records: a traced cgroup added or removed.
import { CgroupEvent, CgroupFlag, EventType } from '../abi.js';
import type { EventHeader, TraceEvent } from './events.js';
import { str } from './fields.js';

const CG = CgroupEvent.fields;

export function decodeCgroup(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const len = buf.readUInt16LE(base + CG.path_len.offset);
  if (CgroupEvent.size + len > header.size) return 'bad-strings';
  const flags = buf.readUInt32LE(base + CG.flags.offset);
  return {
    kind: header.type === EventType.CgroupMkdir ? 'cgroup-mkdir' : 'cgroup-rmdir',
    header,
    id: buf.readBigUInt64LE(base + CG.id.offset),
    level: buf.readUInt32LE(base + CG.level.offset),
    generation: buf.readUInt32LE(base + CG.generation.offset),
    flags,
    path: str(buf, base + CgroupEvent.size, len),
    auto: (flags & CgroupFlag.Auto) !== 0,
    notTraced: (flags & CgroupFlag.MapFull) !== 0,
    pathTruncated: (flags & CgroupFlag.PathTrunc) !== 0,
  };
}
