// Public surface of the BuildKit client (see docs/ARCHITECTURE.md: frontend/buildkit). Everything
// else in this folder is internal.
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
  Platform,
  WorkerInfo,
  DaemonInfo,
  BuildKitCapabilities,
  ExportTarget,
  ExportFileSink,
  CacheEntry,
} from './types.js';
export { describeDaemon } from './daemon.js';
export { endpointFromEnv } from './endpoint.js';
export { connectBuildKit } from './client.js';
export type { ConnectOptions } from './client.js';
export { BuildKitConnectionError, SolveError } from './errors.js';
export type { BuildKitConnectionErrorCode, SolveErrorCode } from './errors.js';
