// What the correlator is given: the probe's events, the frontend's steps, BuildKit's
// vertex states and the served context files; and its one error.
import { TracebuildError, type ExitKind } from '../../common/index.js';
import type { BuildStep, ServedFile, Vertex } from '../../model/index.js';
import type { TraceEvent } from '../decode/events.js';
import type { LossCounters } from '../decode/losses.js';
import type { MonitorGap } from '../probe.js';

/** What the correlator reads of a build step (model/build.ts): its vertex, where it is in
 * the Dockerfile, and what it runs (RUN: the exec op's args, exactly as in the LLB) or
 * copies (COPY/ADD: sources with variables expanded, the destination, --from). */
export type CorrelateStep = Pick<BuildStep, 'vertex' | 'instruction' | 'keyword' | 'line' | 'stage'> &
  Partial<Pick<BuildStep, 'endLine' | 'execArgs' | 'copySources' | 'copyDestination' | 'copyFrom'>>;

/** The last state of a vertex in BuildKit's Status stream (model/build.ts: mergeVertexReports). */
export type CorrelateVertex = Vertex;

/** A regular file the build-context session sent (path relative to the context). */
export type CorrelateServedFile = ServedFile;

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
  /** How many processes that never exec'd a step lists; the others are counted
   * (default 16 384, processes.ts FORK_ONLY_LISTED_MAX). */
  forkOnlyListed?: number;
}

export type CorrelateErrorCode = 'no-clock';

/** The correlator cannot make a trace of what it was given (a bug, or a probe that sent no clock). */
export class CorrelateError extends TracebuildError<CorrelateErrorCode> {
  override readonly name = 'CorrelateError';
  readonly exit: ExitKind = 'trace';
  constructor(code: CorrelateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
