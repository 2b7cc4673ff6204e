// Public surface of the frontend: Dockerfile -> LLB conversion (pure) and the BuildKit
// client that solves it. Other modules import only from here (docs/ARCHITECTURE.md).
export { convertDockerfile, describeConversion, ConvertError } from './convert/index.js';
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
} from './convert/index.js';
export {
  endpointFromEnv,
  connectBuildKit,
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
} from './buildkit/index.js';
