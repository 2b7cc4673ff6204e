// The network peers of a step, from its net events.
import type { NetEventData } from '../decode/events.js';
import type { TraceNetwork } from '../../model/index.js';
import { byString } from './order.js';
import type { KernelEvent } from './records.js';

const EINPROGRESS = 115;

/** The network peers of a step from its net events, fed in arrival order. */
export class NetworkBuilder {
  private readonly peers = new Map<string, TraceNetwork>();

  add(n: NetEventData): void {
    const unix = n.family === 'unix';
    const protocol = unix ? 'unix' : n.protocol;
    let direction: TraceNetwork['direction'];
    if (n.op === 'connect' || n.op === 'sendto' || n.op === 'sendmsg') direction = 'outbound';
    else if (n.op === 'listen') direction = 'listen';
    else if (n.op === 'bind') direction = protocol === 'udp' && n.port !== 0 ? 'listen' : 'bind';
    else return;
    const port = unix ? 0 : n.port;
    const key = `${direction}\0${protocol}\0${n.address}\0${port}`;
    let peer = this.peers.get(key);
    if (!peer) {
      peer = { protocol, address: n.address, port, direction, family: n.family, attempts: 0, failures: 0 };
      this.peers.set(key, peer);
    }
    peer.attempts++;
    if (n.op === 'connect' && n.ret < 0n && n.ret !== -BigInt(EINPROGRESS)) peer.failures++;
    if (n.deniedRule !== undefined) {
      peer.verdict = 'denied';
      peer.deniedRule = n.deniedRule;
    }
  }

  finish(): TraceNetwork[] {
    const order = { outbound: 0, listen: 1, bind: 2 } as const;
    return [...this.peers.values()].sort(
      (a, b) =>
        order[a.direction] - order[b.direction] ||
        byString(a.protocol, b.protocol) ||
        byString(a.address, b.address) ||
        a.port - b.port,
    );
  }
}

export function buildNetwork(events: readonly KernelEvent[]): TraceNetwork[] {
  const b = new NetworkBuilder();
  for (const ev of events) if (ev.kind === 'net') b.add(ev);
  return b.finish();
}
