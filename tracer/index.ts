// Public surface of the tracer: the eBPF probe (spawned as tracer/bpf/.output/tracebuild-probe),
// its event ABI mirror and the pure decoder of its output.
export * as abi from './abi.js';
export type {
  AckEventData,
  BatchEventData,
  CgroupEventData,
  DigestEventData,
  EventHeader,
  ExecEventData,
  ExitEventData,
  FileEventData,
  FileIdentity,
  FileOpName,
  ForkEventData,
  LossEventData,
  NetEventData,
  ProcessEventData,
  ReadyEventData,
  SyscallName,
  TraceEvent,
  UnknownEventData,
} from './decode/events.js';
export { absolutePath } from './decode/file.js';
export { lossCountersFromSlots, totalLost, type LossCounters } from './decode/losses.js';
export { RAW as RECORD_FIELDS, decodeRecord } from './decode/record.js';
export { RecordStream, decodeStream, newDecodeStats, type DecodeStats } from './decode/stream.js';
export {
  LOADER_EXIT,
  PROBE_BUILD_COMMAND,
  Probe,
  TracerError,
  TracerUnavailableError,
  type LoaderEnforcement,
  defaultLoaderPath,
  startProbe,
  DEFAULT_STALL_TIMEOUT_MS,
  type MonitorGap,
  type ProbeExit,
  type ProbeOptions,
  type TracerErrorCode,
  type TracerUnavailableCode,
} from './probe.js';
// The correlator: probe events + the frontend's steps + BuildKit's vertex states ->
// the per-instruction trace; and its text table.
export { Correlation, correlate } from './correlate/correlation.js';
export {
  CorrelateError,
  type CorrelateErrorCode,
  type CorrelateInput,
  type CorrelateOptions,
  type CorrelateServedFile,
  type CorrelateStep,
  type CorrelateVertex,
} from './correlate/input.js';
export { argvMatches } from './correlate/attribution.js';
export { matchesCopySource } from './correlate/copy.js';
export { formatDurationMs, formatKb, formatTraceTable, type TraceTableOptions } from './table.js';

