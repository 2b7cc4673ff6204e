// Plain types shared by the LLB builder and its callers.

/** An OCI platform as LLB ops carry it. */
export interface LlbPlatform {
  os: string;
  architecture: string;
  variant?: string;
}

/** Per-vertex metadata sent beside the ops (pb.OpMetadata, the parts tracebuild uses). */
export interface VertexMetadata {
  ignore_cache?: boolean;
  /** e.g. `llb.customname` (the vertex name shown in progress). */
  description?: Record<string, string>;
}

/** The marshaled graph: ops in dependency order, the terminal op (one input) last,
 * metadata keyed by vertex digest `sha256:<hex>`. */
export interface LlbDefinition {
  def: Uint8Array[];
  metadata: Record<string, VertexMetadata>;
}

export type NetworkMode = 'sandbox' | 'host' | 'none';
export type SecurityMode = 'sandbox' | 'insecure';

/** Owner for file actions: a user and optional group, each a name (looked up in the
 * destination's /etc/passwd and /etc/group) or a numeric id. */
export interface ChownSpec {
  user?: string | number;
  group?: string | number;
}

export interface ProxyEnv {
  httpProxy?: string;
  httpsProxy?: string;
  ftpProxy?: string;
  noProxy?: string;
}
