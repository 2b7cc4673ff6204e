// The per-instruction build trace: made by the tracer's correlator, wrapped by attest in an
// in-toto runtime-trace statement, read by policies, diffs, show, verify and the guard. This
// is its one definition; model/trace-schema.ts reads an untrusted JSON value as one. Fields
// are never renamed, only added. Plain JSON: no bigint, no Date; timestamps are ISO 8601 /
// RFC 3339 strings in UTC (millisecond precision); cgroup ids are decimal strings (u64).
//
// Semantics, stated once here and relied on by readers:
// - A step whose vertex was cached did not run: `cached: true`, `status: 'cached'`, empty
//   lists, `resources: null`, `cgroup: null`. It is never presented as a step that ran and
//   did nothing.
// - Process entries are exec images (Tetragon style): every execve that succeeded in the
//   step is one entry; a process that execs again (`sh -c 'exec make'`) gives a second
//   entry with the same pid, and the first one ends with `replacedByExec: true` and
//   `exitCode: null`. A process forked in the step that never exec'd is an entry with
//   `execed: false` and its parent's image (argv, exe, exeSha256) at the time of the fork.
//   A step lists the first 16 384 of those to exit; the ones after them are counted in
//   `unlistedProcesses` (how many, how they ended, when, their CPU) and said in a warning,
//   so that a step of millions keeps a trace of bounded size (their CPU and RSS are in
//   `resources` as every process's). pid/ppid are host pid-namespace ids.
// - `exeSha256` is null only together with `digestMissing` (the reason), never silently.
// - File lists are sorted and de-duplicated; each path appears at most once per list.
//   A path created (open with FMODE_CREATED, creat, mkdir, symlink, link, or the target of
//   a rename whose source was created in the step) and later modified is in `created`
//   only. A path created and later deleted (or renamed away) is in `created` AND in
//   `deleted` (when deleted by unlink/rmdir: both happened) AND in `transient` (it does
//   not exist at the end of the step). A rename is listed in `renamed` and does not put
//   its source in `deleted`.
// - Only successful syscalls are reported (the probe drops failed ones); a write open is
//   `modified` even if nothing was written (the probe does not trace writes).
// - Network: `direction` is 'outbound' for connect and for sendto/sendmsg with a
//   destination, 'listen' for listen (and for a bind of a UDP socket to a non-zero port:
//   it receives there), 'bind' for other binds. Connects are reported whatever their
//   result (`failures` counts the ones that failed, EINPROGRESS is not a failure).
//   Unix sockets have protocol 'unix', the socket path as address and port 0.
// - Losses: `lostEvents` (top level) = every event the probe counted as lost (ring buffer
//   full, pending-map full, traced-map full, scratch busy, digests skipped/failed, signal
//   failures, loader output failures) + records that could not be decoded. A step's
//   `lostEvents` counts only losses provably of its cgroup(s): execs flagged
//   digest-skipped, digest records with an error, undecodable records carrying its cgroup
//   id, and increases of the other counters between two loss reports during which its
//   cgroup was the only traced cgroup alive (and no cgroup creation was lost). Such losses
//   may include the step's runc setup. Everything else is counted at the top level only
//   (`losses.unattributedToSteps`).
// - Gaps: `monitorGaps` lists the times from which the probe did not watch (its loader died,
//   or stopped answering and was killed). How many events a gap missed is unknown, so each
//   gap counts as one in `lostEvents` and `losses.monitorGaps`, and as one in the
//   `lostEvents` of every step that ran (not cached) and had not finished when it began;
//   those steps list it in their own `monitorGaps` and say so in `warnings`.
// - A RUN step that completed while the probe watched, with no container of it seen, counts
//   as one lost event (`losses.unseenSteps`, and in the step): a RUN always runs its command.
// - `complete` is true only when nothing is missing that the trace knows of: no gap, no
//   lost event, no cgroup left untraced.

/** Who produced the trace. Free-form beyond these fields (attest copies it as is). */
export type TraceMonitor = {
  /** e.g. "tracebuild-probe". */
  name: string;
  version?: string;
  /** Kernel release the probe ran on. */
  kernel?: string;
  /** From the probe's READY record. */
  probe?: {
    abiVersion: number;
    ncpus: number;
    /** Executables were hashed (sha256). */
    digests: boolean;
    /** Read-only opens were traced (files.read is present). */
    traceReads: boolean;
    ringbufBytes: number;
    /** CLOCK_REALTIME - CLOCK_BOOTTIME used to convert kernel timestamps (ns, decimal). */
    realtimeOffsetNs: string;
  };
  /** The daemon the build ran on, as the client learned it when connecting: dockerd (its
   * version and Engine API version, from `GET /version`) or a standalone buildkitd. */
  daemon?: { engine: 'dockerd' | 'buildkitd'; version?: string; apiVersion?: string };
  /** The daemon's BuildKit: its version from Control.Info, absent where the daemon has no
   * Info (BuildKit v0.8) or reports none (`v0.0.0+unknown` builds are kept as reported). */
  buildkit?: { version?: string };
  [key: string]: unknown;
};

export interface TraceScript {
  /** The #! script as executed (absolute, inside the container). */
  path: string;
  sha256: string | null;
  /** Why sha256 is null. */
  digestMissing?: string;
}

export interface TraceProcess {
  pid: number;
  ppid: number;
  argv: string[];
  /** argv was longer than the probe's limit: only its beginning is recorded. */
  argvTruncated?: boolean;
  /** The file that ran, inside the container (for a #! script: its interpreter). '' when unknown. */
  exe: string;
  exeSha256: string | null;
  /** Present exactly when exeSha256 is null: why there is no digest. */
  digestMissing?: string;
  /** The file changed between the exec and its hashing: the digest is of the file as hashed. */
  digestIdentityMismatch?: boolean;
  /** A #! script: the script itself (exe/exeSha256 are its interpreter). */
  script?: TraceScript;
  /** Interpreter path as the kernel resolved it from the #! line. */
  interpreter?: string;
  cwd?: string;
  uid?: number;
  gid?: number;
  /** false: forked in the step without exec (a subshell); argv/exe are the parent's. */
  execed: boolean;
  /** Exit status (normal exit); null when killed, replaced by another exec, or no exit seen. */
  exitCode: number | null;
  /** Terminating signal number. */
  signal?: number;
  /** This image was replaced by another exec of the same process (see the next entry). */
  replacedByExec?: boolean;
  /** No exit event was seen for this process (still running at the end, or lost). */
  exitMissing?: boolean;
  /** Exec time (fork time for execed: false). */
  startedOn: string;
  /** Exit time, or the time of the exec that replaced it; null when unknown. */
  finishedOn: string | null;
  /** For the entry that exited: CPU and peak RSS of the whole process (all its images). */
  cpuUserMs?: number;
  cpuSystemMs?: number;
  maxRssKb?: number;
}

/** Processes a step forked that never exec'd, beyond the ones it lists (see the semantics
 * above): counted here, not listed in `processes`. */
export interface TraceUnlistedProcesses {
  count: number;
  /** How many such processes the step lists (the first to exit). */
  listedLimit: number;
  /** Of the counted ones: exit status 0, another exit status, killed by a signal. */
  exitedZero: number;
  exitedNonZero: number;
  killed: number;
  /** The first one's fork (or start) and the last one's exit. */
  firstStartedOn: string | null;
  lastFinishedOn: string | null;
  cpuUserMs: number;
  cpuSystemMs: number;
}

export interface TraceRename {
  from: string;
  to: string;
  /** renameat2(RENAME_EXCHANGE): the two paths were swapped. */
  exchange?: boolean;
}

export type TraceAttributeChange =
  | { path: string; op: 'chmod'; mode: string }
  | { path: string; op: 'chown'; uid: number | null; gid: number | null };

export interface TraceLink {
  /** The new name. */
  path: string;
  /** symlink: the link text as given; link: the existing path. */
  target: string;
  kind: 'symlink' | 'hard';
}

export interface TraceFiles {
  created: string[];
  modified: string[];
  deleted: string[];
  renamed: TraceRename[];
  /** Created in the step and gone at its end (deleted or renamed away). Also in created. */
  transient: string[];
  /** chmod/chown, last value per (path, op), sorted by path then op. */
  attributes: TraceAttributeChange[];
  /** Symlinks and hard links made (their paths are also in created). */
  links: TraceLink[];
  /** Read-only opens; present only when the probe traced reads. */
  read?: string[];
}

export interface TraceNetwork {
  /** 'tcp', 'udp', 'unix' or 'proto-<n>'. */
  protocol: string;
  /** Peer address (IPv4/IPv6 text), local address for listen/bind, socket path for unix. */
  address: string;
  port: number;
  direction: 'outbound' | 'listen' | 'bind';
  family: string;
  /** Syscalls seen for this peer (sendto/sendmsg: once per process and destination). */
  attempts: number;
  /** connect attempts that failed (other than EINPROGRESS). */
  failures: number;
  /** Refused while the build ran (build --enforce): the process was killed at that call. */
  verdict?: 'denied';
  /** With verdict 'denied': the index of the refusing rule among the egress rules of
   * `enforcement.rules` (in order, exec rules skipped). */
  deniedRule?: number;
}

export interface TraceResources {
  /** From the vertex's started/completed; else from the traced span. */
  wallMs: number;
  /** Sum over the step's processes that exited. */
  cpuUserMs: number;
  cpuSystemMs: number;
  /** Max over the step's processes of their peak RSS. */
  maxRssKb: number;
}

export interface TraceCgroup {
  id: string;
  /** Path below the cgroup v2 root, e.g. /docker/buildkit/<executor-id>; '' if never seen. */
  path: string;
  createdOn: string | null;
  removedOn: string | null;
  /**
   * How the cgroup was tied to the vertex: 'running' (the vertex was running when the
   * cgroup appeared), 'tolerance' (within toleranceMs of its start/completion),
   * 'untimed' (the vertex had no timestamps; args alone), 'nested' (a child cgroup of an
   * attributed one).
   */
  attribution: 'running' | 'tolerance' | 'untimed' | 'nested';
}

export interface TraceAmbiguity {
  /** Vertex digests of every step the cgroup could belong to, earliest started first. */
  candidates: string[];
  reason: string;
}

export interface TraceCopySource {
  /** Path relative to the build context, '/'-separated. */
  path: string;
  size: number;
  sha256: string;
}

export interface TraceCopy {
  /** Source patterns as given to the step. */
  patterns: string[];
  /** Served context files matching the patterns, sorted by path. */
  sources: TraceCopySource[];
  /** Patterns that matched no served file (not served this build, e.g. unchanged and cached by BuildKit, or remote). */
  unmatchedPatterns: string[];
  destination: string;
  /** COPY --from: the sources come from that stage/image, not the context (sources is empty). */
  from?: string;
  /** ADD of URLs / git: not served by the session. */
  remote?: string[];
}

/** A time from which the probe did not watch (see the semantics above). It has no end: the
 * probe is not restarted within a build. */
export interface TraceMonitorGap {
  /**
   * 'loader-exited': the loader died; 'loader-stalled': it stopped answering and was killed.
   * Through a tracebuild agent (the probe runs on the builder): 'agent-lost': the stream of
   * events from the agent ended before the build did (the agent died or the connection was
   * lost); 'agent-withheld': the agent could not tell which of the builds running at once a
   * container belonged to, and gave its events to none of them.
   */
  kind: 'loader-exited' | 'loader-stalled' | 'agent-lost' | 'agent-withheld';
  /** The last time the probe's output was read: events after it may be missing. */
  startedOn: string;
  reason: string;
}

export type TraceStepStatus = 'done' | 'cached' | 'failed' | 'incomplete' | 'not-reported';

export interface TraceBuildStep {
  /** Instruction text, e.g. "RUN make". */
  instruction: string;
  keyword: string;
  /** 1-based Dockerfile lines. */
  line: number;
  endLine: number;
  /** Stage name, or its index as a string. */
  stage: string;
  /** LLB vertex digest (sha256:...). */
  vertex: string;
  cached: boolean;
  /** done: ran and completed; failed: the vertex reported an error; incomplete: started, never completed; not-reported: BuildKit never reported the vertex. */
  status: TraceStepStatus;
  error?: string;
  startedOn: string | null;
  finishedOn: string | null;
  /** From the vertex's started/completed (null when unknown). */
  durationMs: number | null;
  /** The cgroup the RUN executed in (null: not a RUN, cached, or no cgroup found: see warnings). */
  cgroup: TraceCgroup | null;
  /** Further cgroups attributed to the same vertex (nested ones, or a second container). */
  extraCgroups?: TraceCgroup[];
  /** The cgroup could belong to more than one step: the attribution is a guess, said so. */
  ambiguous?: TraceAmbiguity;
  processes: TraceProcess[];
  /** Processes that forked and never exec'd beyond the ones listed: counted (present only
   * when there are some). */
  unlistedProcesses?: TraceUnlistedProcesses;
  files: TraceFiles;
  network: TraceNetwork[];
  /** COPY/ADD: what the build-context session served for it. */
  copy?: TraceCopy;
  /** null when nothing was measured (cached, not a RUN, no cgroup). */
  resources: TraceResources | null;
  /** Events in the step's cgroup before its first exec (runc's container setup): excluded, counted. */
  runcSetupEvents: number;
  lostEvents: number;
  /** Gaps in the monitoring while this step ran (present only when there was one). */
  monitorGaps?: TraceMonitorGap[];
  /** Anything a reader should know about this step's completeness. */
  warnings: string[];
}

export interface TraceUnattributedCgroup {
  id: string;
  path: string;
  createdOn: string | null;
  /** Kernel events (exec, fork, exit, file, net, digest) seen in it. */
  events: number;
  /** argv of its first exec, if any (helps see what it was). */
  firstArgv?: string[];
  reason: string;
}

export interface TraceAmbiguityRecord {
  cgroupId: string;
  cgroupPath: string;
  candidates: string[];
  /** The vertex the cgroup was attributed to. */
  chosen: string;
  reason: string;
}

/** Loss counters at the end of the trace (cumulative since the probe started). */
export interface TraceLosses {
  ringbuf: Record<'cgroup-mkdir' | 'cgroup-rmdir' | 'exec' | 'fork' | 'exit' | 'file' | 'net', number>;
  pendingFull: number;
  tracedFull: number;
  scratchBusy: number;
  digestSkipped: number;
  signalFailed: number;
  digestFailed: number;
  output: number;
  /** Syscalls whose arguments could not be read (their events lost). */
  argsUnread: number;
  /** Repeated UDP sends folded into one event: not a loss, for information. */
  netSuppressed: number;
  /** Records the decoder could not read (unknown type, malformed). */
  undecodedRecords: number;
  /** Gaps in the monitoring (monitorGaps), one each: how many events they missed is unknown. */
  monitorGaps: number;
  /** RUN steps that completed while the probe watched but whose container it never saw (one
   * each; the step's own lostEvents and warnings say so). */
  unseenSteps: number;
  /** Part of lostEvents counted in some step's lostEvents. */
  attributedToSteps: number;
  /** lostEvents - attributedToSteps. */
  unattributedToSteps: number;
}

export interface Trace {
  monitor: TraceMonitor;
  metadata: { buildStartedOn: string | null; buildFinishedOn: string | null };
  buildSteps: TraceBuildStep[];
  /** No gap, no lost event, no untraced cgroup: the probe saw everything it was meant to. */
  complete: boolean;
  /** Times from which the probe did not watch (empty when it watched the whole build). */
  monitorGaps: TraceMonitorGap[];
  /** Every event lost (see TraceLosses); never dropped silently. */
  lostEvents: number;
  losses: TraceLosses;
  /** Kernel events in traced cgroups that belong to no step. */
  unattributedEvents: number;
  unattributedCgroups: TraceUnattributedCgroup[];
  /** Cgroups the probe should have traced but could not (traced map full): their events are missing. */
  untracedCgroups: { id: string; path: string }[];
  /** Events of runc's container setup (before each step's first exec), excluded from the steps. */
  runcSetupEvents: number;
  ambiguities: TraceAmbiguityRecord[];
  /** The rules enforced while the build ran (build --enforce); absent when none were. */
  enforcement?: TraceEnforcement;
}

/** What build --enforce applied (attest/enforce.ts, describeRules). */
export interface TraceEnforcement {
  /** The policy file as given. */
  policy: string;
  /** sha256 of the rules' canonical form (with their step selectors). */
  rulesDigest: string;
  /** The cgroup parents of the build, where the programs were attached: one per distinct
   * set of egress rules in force on a RUN, named after that set's digest. (It replaced the
   * single `cgroupParent` of earlier traces, which the reader still takes.) */
  cgroupParents: string[];
  /** The rules in their canonical form, in the file's order. */
  rules: unknown[];
  /** The names of the egress rules, in order: what a network entry's deniedRule indexes. */
  egressRules: string[];
  /** Each RUN of the Dockerfile (and each FROM, for ONBUILD RUNs) and the rules in force
   * on it (empty in earlier traces). */
  steps: TraceEnforcedStep[];
}

/** A RUN (or a FROM's ONBUILD RUNs) and the enforce rules that selected it (build --enforce). */
export interface TraceEnforcedStep {
  /** The RUN's first Dockerfile line. */
  line: number;
  /** Its stage: the `AS` name, or the 0-based index of an unnamed one. */
  stage: string | number;
  /** The names of the rules in force on it, in the policy's order (none: unenforced). */
  rules: string[];
  /** The cgroup parent it ran under; absent when no egress rule is in force on it. */
  cgroupParent?: string;
  /** A FROM: the rules in force on the RUN triggers of its base image's ONBUILD (they run
   * in its stage and are reported at its line), should it have any. */
  onbuild?: true;
}

/**
 * The RUN steps counted in `losses.unseenSteps`: completed while the probe watched (no gap
 * in them), with no process of theirs seen, so their one lost event is that.
 */
export function unseenRunSteps(trace: Trace): TraceBuildStep[] {
  return trace.buildSteps.filter((s) => s.status === 'done' && s.cgroup === null && s.lostEvents > 0 && s.monitorGaps === undefined);
}
