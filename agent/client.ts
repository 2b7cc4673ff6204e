// The client side of the agent's service (protocol.ts), through the same address and TLS as
// BuildKit (DOCKER_HOST: dockerd's `/grpc` upgrade; BUILDKIT_HOST: gRPC): a tracebuild build
// gets its records from the agent instead of a local probe (RemoteProbe: the same surface
// as the tracer's Probe, so the CLI's trace phase is the same), and `agent-trace` reads a
// trace the agent kept.
import * as grpc from '@grpc/grpc-js';
import { openBuildKitChannel, type BuildKitChannel, type Endpoint } from '../frontend/index.js';
import { TracerUnavailableError, normalizeTrace, type Trace } from '../model/index.js';
import {
  RecordStream,
  lossCountersFromSlots,
  type LossCounters,
  type MonitorGap,
  type ProbeExit,
  type ReadyEventData,
  type TraceEvent,
} from '../tracer/index.js';
import { AgentError } from './errors.js';
import { AGENT_PATHS, messages, type InfoResponse, type TraceClientMessage, type TraceServerMessage } from './protocol.js';
import type { StoredBuildSummary } from './store.js';

/** How long a ping may wait for its answer before the agent counts as lost. */
const PING_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 20_000;

function grpcError(err: unknown): { code: number; details: string } | undefined {
  if (err && typeof err === 'object' && typeof (err as { code?: unknown }).code === 'number') {
    const e = err as { code: number; details?: string; message?: string };
    return { code: e.code, details: e.details || e.message || '' };
  }
  return undefined;
}

function unreachable(endpoint: Endpoint, channel: BuildKitChannel | undefined, err: unknown): AgentError {
  const st = grpcError(err);
  const cause = channel?.lastError();
  const why = cause !== undefined ? cause.message : st !== undefined ? st.details : String(err);
  return new AgentError('agent-unreachable', `cannot reach the tracebuild agent at ${endpoint.address}: ${why}`, { cause: err });
}

function unary<Req extends object, Res>(
  channel: BuildKitChannel,
  path: string,
  encode: (v: Req) => Buffer,
  decode: (b: Uint8Array) => Res,
  request: Req,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    channel.client.makeUnaryRequest<Req, Res>(path, encode, (b: Buffer) => decode(b), request, new grpc.Metadata(), { deadline: Date.now() + CALL_TIMEOUT_MS }, (err, res) => {
      if (err) reject(err);
      else resolve(res as Res);
    });
  });
}

/** The agent's Info, or undefined when the address answers but has no agent (a plain daemon). */
export async function agentInfo(endpoint: Endpoint): Promise<InfoResponse | undefined> {
  let channel: BuildKitChannel | undefined;
  try {
    channel = await openBuildKitChannel(endpoint);
    return await unary(channel, AGENT_PATHS.info, messages.infoRequest.encode, messages.infoResponse.decode, {});
  } catch (err) {
    if (grpcError(err)?.code === grpc.status.UNIMPLEMENTED) return undefined;
    if (err instanceof AgentError) throw err;
    if (grpcError(err) === undefined) throw err;
    throw unreachable(endpoint, channel, err);
  } finally {
    channel?.close();
  }
}

export interface RemoteProbeOptions {
  /** Every record, as the tracer's Probe hands them to onRecord. */
  onRecord(buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void;
  /** The agent's probe stopped watching, a container was withheld, or the agent was lost. */
  onGap?(gap: MonitorGap): void;
}

/**
 * A build's trace from the agent: started with the build's ref before its Solve; resolves
 * once the agent sent the probe's READY record. Rejects with model's TracerUnavailableError
 * ('agent-cannot-trace') when the agent cannot trace, AgentError('refused') when the ref is
 * not this client's.
 */
export class RemoteProbe {
  private readonly stream = new RecordStream();
  private readonly call: grpc.ClientDuplexStream<TraceClientMessage, TraceServerMessage>;
  private readyEvent: ReadyEventData | undefined;
  private losses: LossCounters = lossCountersFromSlots([]);
  private seq = 0;
  private readonly pongs = new Map<number, { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private gap: MonitorGap | undefined;
  private lastDataAt = Date.now();
  private stopping = false;
  private ended = false;
  private endWaiters: (() => void)[] = [];
  private readonly readyPromise: Promise<void>;
  private consumerError: unknown;

  private constructor(
    private readonly channel: BuildKitChannel,
    private readonly endpoint: Endpoint,
    ref: string,
    private readonly options: RemoteProbeOptions,
  ) {
    this.call = channel.client.makeBidiStreamRequest<TraceClientMessage, TraceServerMessage>(
      AGENT_PATHS.trace,
      messages.traceClient.encode,
      (b: Buffer) => messages.traceServer.decode(b),
      new grpc.Metadata(),
      {},
    );
    this.readyPromise = new Promise<void>((resolve, reject) => {
      this.call.on('data', (m: TraceServerMessage) => {
        this.lastDataAt = Date.now();
        if (m.records !== undefined) {
          this.push(Buffer.from(m.records));
          if (this.readyEvent !== undefined) resolve();
        } else if (m.gap !== undefined) {
          const gap: MonitorGap = { kind: m.gap.kind as MonitorGap['kind'], fromMs: m.gap.fromMs, reason: m.gap.reason };
          this.gap ??= gap;
          this.options.onGap?.(gap);
        } else if (m.pong !== undefined) {
          const p = this.pongs.get(m.pong.seq ?? 0);
          if (p !== undefined) {
            clearTimeout(p.timer);
            this.pongs.delete(m.pong.seq ?? 0);
            p.resolve();
          }
        } else if (m.end !== undefined) {
          this.finish(undefined);
        }
      });
      this.call.on('error', (err: Error) => {
        const st = grpcError(err);
        if (this.readyEvent === undefined) {
          reject(
            st?.code === grpc.status.UNAVAILABLE && /cannot trace/.test(st.details)
              ? new TracerUnavailableError('agent-cannot-trace', st.details, { cause: err })
              : st?.code === grpc.status.PERMISSION_DENIED || st?.code === grpc.status.FAILED_PRECONDITION
                ? new AgentError('refused', st.details, { cause: err })
                : unreachable(this.endpoint, this.channel, err),
          );
        }
        this.finish(err);
      });
      this.call.on('end', () => {
        if (this.readyEvent === undefined) reject(new AgentError('protocol', `the tracebuild agent at ${this.endpoint.address} ended the trace stream before it began`));
        this.finish(undefined);
      });
    });
    this.call.write({ start: { ref } });
  }

  static async start(endpoint: Endpoint, ref: string, options: RemoteProbeOptions): Promise<RemoteProbe> {
    const channel = await openBuildKitChannel(endpoint);
    const probe = new RemoteProbe(channel, endpoint, ref, options);
    try {
      await probe.readyPromise;
    } catch (err) {
      channel.close();
      throw err;
    }
    return probe;
  }

  private push(chunk: Buffer): void {
    this.stream.pushRecords(chunk, false, (buf, base, len, ev) => {
      if (ev?.kind === 'ready') this.readyEvent = ev;
      if (ev?.kind === 'loss') this.losses = ev.counters;
      if (this.consumerError !== undefined) return;
      try {
        this.options.onRecord(buf, base, len, ev);
      } catch (err) {
        this.consumerError = err;
      }
    });
  }

  /** The stream ended: cleanly after {finish}, or not (the agent lost: a gap). */
  private finish(err: Error | undefined): void {
    if (this.ended) return;
    this.ended = true;
    if (!this.stopping || err !== undefined) {
      const why = err === undefined ? 'it ended the stream' : (grpcError(err)?.details ?? err.message);
      const cause = this.channel.lastError();
      const gap: MonitorGap = {
        kind: 'agent-lost',
        fromMs: this.lastDataAt,
        reason: `the trace stream from the tracebuild agent at ${this.endpoint.address} broke off (${cause?.message ?? why}): the builder's events from then on are not known`,
      };
      if (!this.stopping || this.gap === undefined) {
        this.gap ??= gap;
        this.options.onGap?.(gap);
      }
    }
    for (const p of this.pongs.values()) {
      clearTimeout(p.timer);
      p.reject(new AgentError('agent-unreachable', `the tracebuild agent at ${this.endpoint.address} went away`));
    }
    this.pongs.clear();
    for (const w of this.endWaiters) w();
    this.endWaiters = [];
    this.channel.close();
  }

  get ready(): ReadyEventData {
    return this.readyEvent as ReadyEventData;
  }

  /** The agent's probe is the builder's: no generation of this client's to set. */
  async setGeneration(_generation: number): Promise<void> {}

  /** Every record the agent's probe wrote before now has been delivered (and its
   * containers' owners decided). */
  ping(): Promise<void> {
    if (this.ended) return Promise.reject(new AgentError('agent-unreachable', `the tracebuild agent at ${this.endpoint.address} went away`));
    const seq = ++this.seq;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pongs.delete(seq);
        reject(new AgentError('agent-unreachable', `the tracebuild agent at ${this.endpoint.address} did not answer within ${PING_TIMEOUT_MS / 1000} s`));
        this.call.cancel();
      }, PING_TIMEOUT_MS);
      this.pongs.set(seq, { resolve, reject, timer });
      this.call.write({ ping: { seq } });
    });
  }

  async stop(): Promise<ProbeExit> {
    if (!this.ended) {
      this.stopping = true;
      this.call.write({ finish: {} });
      this.call.end();
      await new Promise<void>((resolve) => {
        if (this.ended) resolve();
        else {
          this.endWaiters.push(resolve);
          setTimeout(() => {
            this.call.cancel();
            resolve();
          }, 10_000).unref();
        }
      });
    }
    return { code: 0, signal: null, gap: this.gap, losses: this.losses, decode: this.stream.stats, error: undefined };
  }
}

/** A trace the agent kept: the trace, and what it keeps about the build. */
export interface AgentTrace {
  ref: string;
  trace: Trace;
  build: Omit<StoredBuildSummary, 'attestations'> & { attestations: Omit<StoredBuildSummary['attestations'][number], 'bundle'>[] };
}

export async function fetchAgentTrace(endpoint: Endpoint, query: string): Promise<AgentTrace> {
  let channel: BuildKitChannel | undefined;
  try {
    channel = await openBuildKitChannel(endpoint);
    const res = await unary(channel, AGENT_PATHS.getTrace, messages.getTraceRequest.encode, messages.getTraceResponse.decode, { query });
    return { ref: res.ref ?? '', trace: normalizeTrace(JSON.parse(res.traceJson ?? 'null')), build: JSON.parse(res.recordJson ?? '{}') as AgentTrace['build'] };
  } catch (err) {
    const st = grpcError(err);
    if (st?.code === grpc.status.NOT_FOUND) throw new AgentError('not-found', st.details, { cause: err });
    if (st?.code === grpc.status.UNIMPLEMENTED) throw new AgentError('agent-unreachable', `${endpoint.address} has no tracebuild agent in front of it (${st.details})`, { cause: err });
    if (err instanceof AgentError || st === undefined) throw err;
    throw unreachable(endpoint, channel, err);
  } finally {
    channel?.close();
  }
}
