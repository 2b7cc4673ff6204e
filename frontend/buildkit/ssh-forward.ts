// SSH agent forwarding for RUN --mount=type=ssh (BuildKit's session/sshforward): the daemon
// asks whether an agent id is served (CheckAgent), then opens one ForwardAgent stream per
// connection a RUN makes to its socket, naming the id in the `buildkit.ssh.id` header. Each
// stream is relayed to a fresh connection to the local agent's socket.
//
// Like BuildKit's own provider, the build gets a read-only agent: only "list identities"
// and "sign" reach the agent; adding or removing keys, locking and extensions are answered
// with SSH_AGENT_FAILURE here. So the agent protocol's framing (uint32 length, then the
// message type) is read both ways, and requests are relayed one at a time, each answered
// before the next is sent, which keeps the answers in order.
import { connect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { Msg } from './rpc.js';
import type { SessionService } from './session-service.js';

export const SSH_SERVICE = 'moby.sshforward.v1.SSH';
const ID_HEADER = 'buildkit.ssh.id';
export const DEFAULT_SSH_ID = 'default';

/** Agent protocol message types (draft-miller-ssh-agent). */
export const AGENT = {
  FAILURE: 5,
  REQUEST_IDENTITIES: 11,
  SIGN_REQUEST: 13,
} as const;
const ALLOWED = new Set<number>([AGENT.REQUEST_IDENTITIES, AGENT.SIGN_REQUEST]);
/** What OpenSSH's agent accepts as one message. */
const MAX_MESSAGE = 256 << 10;

const FAILURE_FRAME = Buffer.from([0, 0, 0, 1, AGENT.FAILURE]);

/** Splits a byte stream into agent protocol messages (length prefix included). */
export class AgentFrames {
  private buf = Buffer.alloc(0);

  /** The complete messages `chunk` ends; throws on a message larger than MAX_MESSAGE. */
  push(chunk: Uint8Array): Buffer[] {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    const out: Buffer[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len === 0 || len > MAX_MESSAGE) throw new Error(`agent message of ${len} bytes`);
      if (this.buf.length < 4 + len) break;
      out.push(this.buf.subarray(0, 4 + len));
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}

/** One forwarded connection: requests from the build, relayed to the agent in turn. */
class AgentRelay {
  private readonly fromBuild = new AgentFrames();
  private readonly fromAgent = new AgentFrames();
  private readonly queue: Buffer[] = [];
  private waiting = false;
  private closed = false;

  constructor(
    private readonly agent: Socket,
    private readonly reply: (frame: Buffer) => void,
    private readonly close: (err?: Error) => void,
  ) {
    agent.on('data', (chunk: Buffer) => {
      let frames: Buffer[];
      try {
        frames = this.fromAgent.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
      for (const f of frames) {
        this.waiting = false;
        this.reply(f);
      }
      this.next();
    });
    agent.on('error', (err) => this.fail(new Error(`ssh agent: ${err.message}`)));
    agent.on('close', () => this.fail());
  }

  /** Bytes the build wrote to its socket. */
  fromClient(chunk: Uint8Array): void {
    try {
      this.queue.push(...this.fromBuild.push(chunk));
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    this.next();
  }

  private next(): void {
    while (!this.waiting && !this.closed && this.queue.length > 0) {
      const frame = this.queue.shift()!;
      if (!ALLOWED.has(frame[4]!)) {
        // Read-only: the build may list and use keys, nothing else.
        this.reply(FAILURE_FRAME);
        continue;
      }
      this.waiting = true;
      this.agent.write(frame);
    }
  }

  fail(err?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.agent.destroy();
    this.close(err);
  }
}

/** The SSH forwarding service over local agent sockets (id -> socket path). */
export function sshForwardService(agents: Readonly<Record<string, string>>): SessionService {
  const socketOf = (id: string): string | undefined => (Object.hasOwn(agents, id) ? agents[id] : undefined);
  return {
    name: SSH_SERVICE,
    handlers: {
      CheckAgent: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const id = String(call.request.ID ?? '') || DEFAULT_SSH_ID;
        if (socketOf(id) === undefined) cb({ code: grpc.status.NOT_FOUND, details: `unset ssh forward key ${id}` });
        else cb(null, {});
      },
      ForwardAgent: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
        const id = String(call.metadata.get(ID_HEADER)[0] ?? '') || DEFAULT_SSH_ID;
        const path = socketOf(id);
        if (path === undefined) {
          call.emit('error', { code: grpc.status.NOT_FOUND, details: `unset ssh forward key ${id}` });
          return;
        }
        const agent = connect(path);
        const relay = new AgentRelay(
          agent,
          (frame) => call.write({ data: frame }),
          (err) => {
            if (err !== undefined && !call.destroyed) call.emit('error', { code: grpc.status.UNAVAILABLE, details: err.message });
            else if (!call.writableEnded) call.end();
          },
        );
        call.on('data', (m: Msg) => {
          const data = m.data as Uint8Array | undefined;
          if (data !== undefined && data.length > 0) relay.fromClient(data);
        });
        // The build closed its connection: so do we.
        call.on('end', () => relay.fail());
        call.on('cancelled', () => relay.fail());
        call.on('error', () => relay.fail());
      },
    },
  };
}
