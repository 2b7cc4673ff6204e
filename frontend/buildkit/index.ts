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
  RegistryAuthProvider,
  RegistryCredentials,
  RegistryToken,
  RegistryTokenRequest,
  ExportTarget,
  ExportFileSink,
  CacheEntry,
} from './types.js';
export { describeDaemon } from './daemon.js';
import type { ConnectOptions } from './client.js';
import type { BuildKitClient, Endpoint } from './types.js';

export { endpointFromEnv } from './endpoint.js';
export type { ConnectOptions };

/**
 * Connects to BuildKit (client.ts). The gRPC stack is imported on the first connection, so
 * that converting a Dockerfile alone (`tracebuild convert`) never loads it.
 */
export async function connectBuildKit(endpoint: Endpoint, options?: ConnectOptions): Promise<BuildKitClient> {
  return (await import('./client.js')).connectBuildKit(endpoint, options);
}
export { BuildKitConnectionError, SolveError } from './errors.js';
export type { BuildKitConnectionErrorCode, SolveErrorCode } from './errors.js';
// For a proxy in front of BuildKit (the tracebuild agent) and clients of its own service.
export { openBuildKitChannel, followStatus } from './channel.js';
export type { BuildKitChannel, FollowStatusOptions } from './channel.js';
export { endpointTarget } from './endpoint.js';
export { dial, upgradeH2c, UpgradeRefusedError } from './dial.js';
export type { DialOptions } from './dial.js';
export { describeSocketError } from './client.js';
export {
  BUILDKIT_PATHS,
  BUILD_ID_METADATA,
  decodeBridgeSolveRequest,
  decodeControlSolveRequest,
  decodeControlSolveResponse,
  decodeFileSyncPacket,
  decodeStatusRequest,
  decodeStatusResponse,
  definitionInfo,
} from './wire.js';
export type { BridgeSolveInfo, ControlSolveInfo, DefinitionInfo, FileSyncPacket, LlbOpInfo } from './wire.js';
