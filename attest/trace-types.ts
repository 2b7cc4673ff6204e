// The per-instruction runtime trace that attest wraps in a statement.
//
// This is the interface fixed in the issue and read by other tools (policy, diff, show).
// The types are structural: the tracer's correlator produces objects of this shape, and
// attest may later import the tracer's own types instead of these. More fields may be
// added by the tracer; attest copies each build step into the predicate as it is, so an
// added field is carried through without a change here.

/** Information about the monitor (probe) that produced the trace. Free-form. */
export interface TraceMonitor {
  /** e.g. "tracebuild-probe" */
  readonly name?: string;
  readonly version?: string;
  /** Kernel release the probe ran on, e.g. "6.18.0". */
  readonly kernel?: string;
  readonly [key: string]: unknown;
}

/** One process that ran during a build step. */
export interface TraceProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
  /** Path of the executable as seen inside the build container. */
  readonly exe: string;
  /** Hex sha256 of the executable, when it could be read. */
  readonly exeSha256?: string | null;
  /** Exit status; null when the process did not exit while traced. */
  readonly exitCode: number | null;
  /** RFC 3339 timestamps. */
  readonly startedOn: string;
  readonly finishedOn?: string | null;
}

export interface TraceRename {
  readonly from: string;
  readonly to: string;
}

/** Paths (inside the build container) changed by a step. */
export interface TraceFiles {
  readonly created: readonly string[];
  readonly modified: readonly string[];
  readonly deleted: readonly string[];
  readonly renamed: readonly TraceRename[];
  /** Optional read set. */
  readonly read?: readonly string[];
}

export interface TraceNetwork {
  /** Lower-case transport, e.g. "tcp", "udp". */
  readonly protocol: string;
  /** Peer address (IPv4/IPv6 text form; a host name if that is all that is known). */
  readonly address: string;
  readonly port: number;
  /** "outbound" (connect, send), "listen" (listen, or bind of a UDP port) or "bind"; see tracer/trace-types.ts. */
  readonly direction: string;
  readonly bytesSent?: number;
  readonly bytesReceived?: number;
}

export interface TraceResources {
  readonly wallMs: number;
  readonly cpuUserMs: number;
  readonly cpuSystemMs: number;
  readonly maxRssKb: number;
}

/** One Dockerfile instruction (one LLB vertex). Cached steps did not run: cached=true. */
export interface TraceBuildStep {
  /** Instruction text, e.g. "RUN make". */
  readonly instruction: string;
  /** 1-based Dockerfile line. */
  readonly line: number;
  /** Stage name or index. */
  readonly stage: string | number;
  /** LLB vertex digest ("sha256:..."). */
  readonly vertex: string;
  readonly cached: boolean;
  readonly startedOn?: string | null;
  readonly finishedOn?: string | null;
  readonly processes: readonly TraceProcess[];
  readonly files: TraceFiles;
  readonly network: readonly TraceNetwork[];
  readonly resources?: TraceResources | null;
  /** Kernel events lost while this step ran (ring buffer full, truncation...). */
  readonly lostEvents: number;
}

/** The whole trace of a build. */
export interface RuntimeTrace {
  readonly monitor: TraceMonitor;
  readonly buildSteps: readonly TraceBuildStep[];
  /** Events lost or not attributable to any step. Never dropped silently. */
  readonly lostEvents: number;
  // Optional completeness records of the tracer's Trace (tracer/trace-types.ts), carried
  // into the predicate unchanged when present, so that a reader of the attestation sees
  // the same loss and attribution figures as the build did.
  readonly complete?: boolean;
  readonly monitorGaps?: readonly object[];
  readonly losses?: object;
  readonly unattributedEvents?: number;
  readonly unattributedCgroups?: readonly object[];
  readonly untracedCgroups?: readonly object[];
  readonly runcSetupEvents?: number;
  readonly ambiguities?: readonly object[];
}

/** The optional completeness fields of RuntimeTrace, in predicate order. */
export const TRACE_COMPLETENESS_FIELDS = [
  'complete',
  'monitorGaps',
  'losses',
  'unattributedEvents',
  'unattributedCgroups',
  'untracedCgroups',
  'runcSetupEvents',
  'ambiguities',
] as const;
