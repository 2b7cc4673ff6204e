// What the correlator is given: the probe's events, the frontend's steps, BuildKit's
// vertex states and the served context files; and its one error.
import type { LossCounters, TraceEvent } from '../decode.js';
import type { MonitorGap } from '../probe.js';

/** One Dockerfile instruction as converted (the frontend's source map entry + LLB detail). */
export interface CorrelateStep {
  /** LLB vertex digest (sha256:...). */
  vertex: string;
  instruction: string;
  keyword: string;
  line: number;
  endLine?: number;
  /** Stage name, or its index as a string. */
  stage: string;
  /** RUN: the exec op's meta.args, exactly as in the LLB. */
  execArgs?: readonly string[];
  /** COPY/ADD: source paths/patterns (variables expanded), relative to the context. */
  copySources?: readonly string[];
  copyDestination?: string;
  /** COPY --from / ADD from another stage or image: sources are not from the context. */
  copyFrom?: string;
}

/** The last state of a vertex in BuildKit's Status stream. */
export interface CorrelateVertex {
  digest: string;
  name?: string;
  cached: boolean;
  started?: Date;
  completed?: Date;
  /** Exact times (ns since the Unix epoch); preferred over started/completed. */
  startedNs?: bigint;
  completedNs?: bigint;
  error?: string;
}

/** A regular file the build-context session sent (path relative to the context). */
export interface CorrelateServedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface CorrelateInput {
  /** Decoded probe events in arrival order (including ready, loss, digest records). */
  events: readonly TraceEvent[];
  steps: readonly CorrelateStep[];
  vertices: readonly CorrelateVertex[];
  servedFiles?: readonly CorrelateServedFile[];
  /**
   * Kernel timestamps are CLOCK_BOOTTIME ns; wall clock = tsNs + realtimeOffsetNs.
   * Default: the probe's READY record (ReadyEventData.realtimeOffsetNs).
   */
  clock?: { realtimeOffsetNs: bigint };
  /** Merged into trace.monitor (name defaults to "tracebuild-probe"). */
  monitor?: { name?: string; version?: string; kernel?: string; [key: string]: unknown };
  /** Final loss counters (Probe.stop().losses); default: the last loss record in events. */
  losses?: LossCounters;
  /** Where the probe stopped watching (ProbeExit.gap, onGap). */
  monitorGaps?: readonly MonitorGap[];
  options?: CorrelateOptions;
}

export interface CorrelateOptions {
  /** Slack around a vertex's started/completed when no vertex was strictly running (default 1000). */
  toleranceMs?: number;
}

export type CorrelateErrorCode = 'no-clock';

export class CorrelateError extends Error {
  override readonly name = 'CorrelateError';
  constructor(
    readonly code: CorrelateErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
