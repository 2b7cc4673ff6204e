// The real toolchain: the sibling modules behind the structural contracts in
// `contracts.ts`. Loaded lazily by `main.ts` (so `--help` does not load gRPC), the tracer
// only by a traced build; tests inject fakes instead.

import { parseDockerfile } from '../dockerfile-parser/index.js';
import {
  connectBuildKit,
  convertDockerfile,
  describeConversion,
  endpointFromEnv,
} from '../frontend/index.js';
import type { Toolchain } from './contracts.js';
import type { AgentToolkit, TracerToolkit } from './trace-contracts.js';
import { tuneV8ForCorrelation } from './v8-tuning.js';

type Ast = ReturnType<typeof parseDockerfile>;
type Def = Awaited<ReturnType<typeof convertDockerfile>>['definition'];
type Endpoint = ReturnType<typeof endpointFromEnv>;

/** The tracer's modules (~30 files) are imported only when a build is traced. */
async function loadTracer(): Promise<TracerToolkit> {
  const { Correlation, correlate, formatTraceTable, startProbe } = await import('../tracer/index.js');
  return {
    startProbe,
    correlate,
    startCorrelation: (options) => {
      tuneV8ForCorrelation();
      return new Correlation(options);
    },
    formatTraceTable,
  };
}

/** The agent's client side (its index loads the gRPC client only when a build talks to an agent). */
async function loadAgent(): Promise<AgentToolkit<Endpoint>> {
  const { NO_TRACE_METADATA, agentInfo, isLoopback, mayBeAgent, startRemoteProbe } = await import('../agent/index.js');
  return {
    mayBeAgent,
    isLoopback,
    agentInfo,
    startRemoteProbe: (endpoint, ref, options) =>
      startRemoteProbe(endpoint, ref, { onRecord: options.onRecord ?? (() => undefined), ...(options.onGap === undefined ? {} : { onGap: options.onGap }) }),
    noTraceMetadata: NO_TRACE_METADATA,
  };
}

export const toolchain: Toolchain<Ast, Def, Endpoint> = {
  parseDockerfile,
  convertDockerfile,
  describeConversion,
  endpointFromEnv,
  connectBuildKit,
  tracer: loadTracer,
  agent: loadAgent,
};
