// What the build command uses from the tracer, as a structural contract: the real module is
// injected through the toolchain (modules.ts), tests inject a fake probe. Only types come
// from the tracer here, so the cli type-checks and unit-tests without loading it.

import type { CorrelateInput, NetEventData, ProbeExit, ProbeOptions, ReadyEventData, TraceEvent, TraceTableOptions } from '../tracer/index.js';
import type { Trace } from '../model/index.js';

/** The running probe, as the trace phase drives it (tracer's Probe satisfies it). */
export interface TraceProbe {
  /** The READY record (ABI version, clocks, ring buffer size). */
  readonly ready: ReadyEventData;
  /** Sets the generation stamped on new cgroups; 0 stops adding new ones. */
  setGeneration(generation: number): Promise<void>;
  /** A round trip through the loader: every event written before it has been delivered. */
  ping(): Promise<void>;
  /** Drains, stops the loader, resolves with its final loss counters. Idempotent. */
  stop(timeoutMs?: number): Promise<ProbeExit>;
}

/** A correlator fed while the build runs: the trace correlate() would make of the same
 * events, with most of the work done before the solve is over (tracer's Correlation). */
export interface TraceCorrelation {
  push(event: TraceEvent): void;
  /** A record as ProbeOptions.onRecord delivers it (its event, or undecoded). */
  pushRecord(buf: Buffer, base: number, len: number, event: TraceEvent | undefined): void;
  /** Records pushed so far. */
  readonly records: number;
  finish(input: Omit<CorrelateInput, 'events'>): Trace;
}

/**
 * A tracebuild agent in front of a remote daemon (agent/): where the build's events come
 * from instead of a local probe. Its RemoteProbe satisfies TraceProbe.
 */
export interface AgentToolkit<Endpoint> {
  /** tcp:// addresses may have an agent in front of them. */
  mayBeAgent(endpoint: Endpoint): boolean;
  /** A daemon on this host (a local probe can trace it). */
  isLoopback(endpoint: Endpoint): boolean;
  /** The agent's Info; undefined when the address is a plain daemon. */
  agentInfo(endpoint: Endpoint): Promise<{ tracing?: boolean; reason?: string; builderId?: string; kernel?: string } | undefined>;
  /** The build's events from the agent, from its READY record on (before the Solve of `ref`). */
  startRemoteProbe(endpoint: Endpoint, ref: string, options: Pick<ProbeOptions, 'onRecord' | 'onGap'>): Promise<TraceProbe>;
  /** gRPC metadata a build without a trace sends with its Solve (`--no-trace` through an agent that cannot trace). */
  readonly noTraceMetadata: string;
}

export interface TracerToolkit {
  /** Resolves once attached; rejects with model's TracerUnavailableError when it cannot run here. */
  startProbe(options: ProbeOptions): Promise<TraceProbe>;
  correlate(input: CorrelateInput): Trace;
  /** Optional: correlate while the build runs (without it, the events are kept for correlate()). */
  startCorrelation?(options?: { onDenied?: (ev: NetEventData) => void }): TraceCorrelation;
  formatTraceTable(trace: Trace, options?: TraceTableOptions): string;
}
