// The LLB builder: immutable states, one marshal boundary, deterministic bytes.
export type { LlbDefinition, LlbPlatform, VertexMetadata, ChownSpec, NetworkMode, SecurityMode, ProxyEnv } from './types.js';
export {
  LlbState,
  FileAction,
  SourceVertex,
  ExecVertex,
  FileVertex,
} from './state.js';
export type {
  Output,
  Vertex,
  ExecOptions,
  MountSpec,
  SecretEnvSpec,
  MountType,
  CacheSharing,
  CopyOptions,
  MkdirOptions,
  MkfileOptions,
  RmOptions,
  ImageOptions,
  LocalOptions,
  FileActionSpec,
} from './state.js';
export { marshal, digestOf, vertexDigests, decodeDefinition, sha256Digest, cleanAbs } from './marshal.js';
export type { MarshalOptions, MetadataByState, DecodedOp } from './marshal.js';
