// The data model the modules share: the build (steps, vertex states, served files) and the
// trace (its types and the reader of untrusted trace JSON). Types and pure functions only;
// it imports nothing but common/.
export { mergeVertexReports, type BuildStep, type ServedFile, type Vertex } from './build.js';
export type {
  TraceEnforcement,
  TraceEnforcedStep,
  Trace,
  TraceAmbiguity,
  TraceAmbiguityRecord,
  TraceAttributeChange,
  TraceBuildStep,
  TraceCgroup,
  TraceCopy,
  TraceCopySource,
  TraceFiles,
  TraceLink,
  TraceLosses,
  TraceMonitor,
  TraceMonitorGap,
  TraceNetwork,
  TraceProcess,
  TraceRename,
  TraceUnlistedProcesses,
  TraceResources,
  TraceScript,
  TraceStepStatus,
  TraceUnattributedCgroup,
} from './trace.js';
export { unseenRunSteps } from './trace.js';
export { TraceShapeError, isObject, normalizeTrace } from './trace-schema.js';
export {
  BUNDLE_MEDIA_TYPE,
  IN_TOTO_PAYLOAD_TYPE,
  KNOWN_PREDICATE_TYPES,
  RUNTIME_TRACE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  STATEMENT_TYPE_V1,
} from './attestation-types.js';
export { TracerUnavailableError, type TracerUnavailableCode } from './tracing-errors.js';
