// net records: a connect, send, bind or listen, and the address it names.
import { NetEvent, NetFlag, NetOp } from '../abi.js';
import type { EventHeader, NetEventData, TraceEvent } from './events.js';
import { str, syscallName } from './fields.js';

const NET_OPS: Record<number, NetEventData['op']> = {
  [NetOp.Connect]: 'connect',
  [NetOp.Sendto]: 'sendto',
  [NetOp.Sendmsg]: 'sendmsg',
  [NetOp.Bind]: 'bind',
  [NetOp.Listen]: 'listen',
};

function formatIPv6(b: Buffer): string {
  if (b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  // the longest run (>= 2) of zero groups becomes '::'
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

const NE = NetEvent.fields;

export function decodeNet(buf: Buffer, base: number, header: EventHeader): TraceEvent | 'bad-strings' {
  const unixLen = buf.readUInt16LE(base + NE.unix_path_len.offset);
  if (NetEvent.size + unixLen > header.size) return 'bad-strings';
  const fam = buf.readUInt16LE(base + NE.family.offset);
  const flags = buf.readUInt32LE(base + NE.flags.offset);
  const a = base + NE.addr.offset;
  let family: NetEventData['family'];
  let address: string;
  if (fam === 2) {
    family = 'inet';
    address = `${buf[a]}.${buf[a + 1]}.${buf[a + 2]}.${buf[a + 3]}`;
  } else if (fam === 10) {
    family = 'inet6';
    address = formatIPv6(buf.subarray(a, a + NE.addr.size));
  } else if (fam === 1) {
    family = 'unix';
    address = (flags & NetFlag.UnixAbstract ? '@' : '') + str(buf, base + NetEvent.size, unixLen);
  } else {
    family = `family-${fam}`;
    address = '';
  }
  const proto = buf.readUInt16LE(base + NE.protocol.offset);
  const opNum = buf.readUInt32LE(base + NE.op.offset);
  return {
    kind: 'net',
    header,
    op: NET_OPS[opNum] ?? `op-${opNum}`,
    syscall: syscallName(buf.readUInt32LE(base + NE.syscall.offset)),
    ret: buf.readBigInt64LE(base + NE.ret.offset),
    fd: buf.readInt32LE(base + NE.fd.offset),
    family,
    address,
    port: buf.readUInt16LE(base + NE.port.offset),
    sockType: buf.readUInt16LE(base + NE.sock_type.offset),
    protocol: proto === 6 ? 'tcp' : proto === 17 ? 'udp' : `proto-${proto}`,
    local: (flags & NetFlag.Local) !== 0,
    ...(flags & NetFlag.Denied ? { deniedRule: buf.readUInt16LE(base + NE.denied_rule.offset) } : {}),
  };
}
