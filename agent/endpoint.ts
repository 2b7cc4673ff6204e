// What a client can tell about an agent from the address alone, without loading the agent's
// client (gRPC, its protobuf messages): an untraced build asks mayBeAgent() of every
// endpoint, and only a tcp:// one loads the rest (cli/modules.ts).
import type { Endpoint } from '../frontend/index.js';

/** gRPC metadata a tracebuild client sends with Control.Solve when built with --no-trace:
 * the agent lets such a build through when it cannot trace. */
export const NO_TRACE_METADATA = 'tracebuild-no-trace';

/** A tcp:// address: possibly a builder elsewhere, with an agent in front of it. */
export function mayBeAgent(endpoint: Endpoint): boolean {
  return endpoint.address.startsWith('tcp://');
}

/** A loopback address: a daemon on this host, which a local probe can trace. */
export function isLoopback(endpoint: Endpoint): boolean {
  const m = /^tcp:\/\/\[?([^\]/]+?)\]?(?::\d+)?\/?$/.exec(endpoint.address);
  const host = m?.[1] ?? '';
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
