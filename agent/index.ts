// The tracebuild agent: traced builds on shared and remote builders. On the builder, `startAgent`
// fronts the daemon with mutual TLS, forwards the Engine API and BuildKit's gRPC, and runs the
// one probe every build passing through it is traced by; each client gets its own build's
// events only, and the agent keeps (and signs) a trace of every build. On the client, the
// RemoteProbe takes the place of a local probe, and `fetchAgentTrace` reads a kept trace.
// docs/ARCHITECTURE.md "The tracebuild agent".
//
// This index loads nothing heavy: every build asks mayBeAgent() of its endpoint, and the
// agent's server side (probe, router, store, signing: through them sigstore, its HTTP stack
// and yaml, ~400 CommonJS modules) and its client (gRPC to the agent, its protobuf
// messages, ~0.1 s) were most of an untraced cached build's CPU (#17.7). They are imported
// on first use by the functions below.
import type { AgentOptions, RunningAgent } from './agent.js';
import type { AgentTrace, RemoteProbe, RemoteProbeOptions } from './client.js';
import type { InfoResponse } from './protocol.js';
import type { Endpoint } from '../frontend/index.js';

export type { AgentOptions, RunningAgent } from './agent.js';
export type { AgentTrace, RemoteProbe, RemoteProbeOptions } from './client.js';

/** Starts the agent. */
export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const agent = await import('./agent.js');
  return agent.startAgent(o);
}

/** What the agent at `endpoint` is (undefined: no agent answered there). */
export async function agentInfo(endpoint: Endpoint): Promise<InfoResponse | undefined> {
  const client = await import('./client.js');
  return client.agentInfo(endpoint);
}

/** A build's records from the agent's probe, in place of a local probe. */
export async function startRemoteProbe(endpoint: Endpoint, ref: string, options: RemoteProbeOptions): Promise<RemoteProbe> {
  const client = await import('./client.js');
  return client.RemoteProbe.start(endpoint, ref, options);
}

/** A finished build's trace kept by the agent. */
export async function fetchAgentTrace(endpoint: Endpoint, query: string): Promise<AgentTrace> {
  const client = await import('./client.js');
  return client.fetchAgentTrace(endpoint, query);
}

export { AgentError, type AgentErrorCode } from './errors.js';
export { NO_TRACE_METADATA, isLoopback, mayBeAgent } from './endpoint.js';
export type { InfoResponse } from './protocol.js';
export type { UpstreamKind } from './upstream.js';
export type { EngineApiMode } from './server.js';
export type { ServerTlsFiles, ClientIdentity } from './identity.js';
export type { StoredBuildSummary } from './store.js';
