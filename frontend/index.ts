// Public surface of the frontend: Dockerfile -> LLB conversion (pure) and the BuildKit
// client that solves it. Other modules import only from here (docs/ARCHITECTURE.md).
export { convertDockerfile, describeConversion, ConvertError, NEWEST_CAPABILITIES, V0_8_LLB_CAPS, V0_13_FRONTEND_CAPS, V0_13_LLB_CAPS } from './convert/index.js';
export type {
  ConvertErrorCode,
  Platform,
  ResolvedImage,
  ImageConfigResolver,
  ConvertOptions,
  BuildStep,
  Conversion,
  ContextDirEntry,
  ContextDirReader,
  DaemonCapabilities,
} from './convert/index.js';
export {
  endpointFromEnv,
  connectBuildKit,
  describeDaemon,
  BuildKitConnectionError,
  SolveError,
} from './buildkit/index.js';
export type {
  Endpoint,
  BuildKitClient,
  GatewaySolveRequest,
  LlbDefinition,
  GatewayApi,
  SolveResult,
  StatusBatch,
  VertexUpdate,
  VertexStatusUpdate,
  VertexLogLine,
  ServedFile,
  WorkerInfo,
  ConnectOptions,
  BuildKitConnectionErrorCode,
  SolveErrorCode,
  DaemonInfo,
  ExportTarget,
  ExportFileSink,
  CacheEntry,
  BuildKitCapabilities,
} from './buildkit/index.js';
