// The tracebuild agent: traced builds on shared and remote builders. On the builder, `startAgent`
// fronts the daemon with mutual TLS, forwards the Engine API and BuildKit's gRPC, and runs the
// one probe every build passing through it is traced by; each client gets its own build's
// events only, and the agent keeps (and signs) a trace of every build. On the client, the
// RemoteProbe takes the place of a local probe, and `fetchAgentTrace` reads a kept trace.
// docs/ARCHITECTURE.md "The tracebuild agent".
import type { AgentOptions, RunningAgent } from './agent.js';

export type { AgentOptions, RunningAgent } from './agent.js';

/** Starts the agent. Its modules (probe, router, store, signing) are imported here, on
 * first use: through them a client that loads this index only for RemoteProbe or
 * mayBeAgent() loaded sigstore, its HTTP stack and yaml, ~400 CommonJS modules, which
 * were most of an untraced cached build's CPU (#17.7). */
export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const agent = await import('./agent.js');
  return agent.startAgent(o);
}

export { AgentError, type AgentErrorCode } from './errors.js';
export { RemoteProbe, agentInfo, fetchAgentTrace, isLoopback, mayBeAgent, type AgentTrace, type RemoteProbeOptions } from './client.js';
export { NO_TRACE_METADATA, AGENT_SERVICE, type InfoResponse } from './protocol.js';
export { DEFAULT_UPSTREAM, type UpstreamKind } from './upstream.js';
export { buildEngineApiAllows, type EngineApiMode } from './server.js';
export type { ServerTlsFiles, ClientIdentity } from './identity.js';
export type { StoredBuildSummary } from './store.js';
