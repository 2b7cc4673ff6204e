// The real toolchain: the sibling modules behind the structural contracts in
// `contracts.ts`. Loaded lazily by `main.ts` (so `--help` does not load gRPC); tests inject
// fakes instead.

import { parseDockerfile } from '../dockerfile-parser/index.js';
import {
  connectBuildKit,
  convertDockerfile,
  describeConversion,
  endpointFromEnv,
} from '../frontend/index.js';
import { Correlation, correlate, formatTraceTable, startProbe } from '../tracer/index.js';
import { NO_TRACE_METADATA, RemoteProbe, agentInfo, isLoopback, mayBeAgent } from '../agent/index.js';
import type { Toolchain } from './contracts.js';
import { tuneV8ForCorrelation } from './v8-tuning.js';

type Ast = ReturnType<typeof parseDockerfile>;
type Def = Awaited<ReturnType<typeof convertDockerfile>>['definition'];
type Endpoint = ReturnType<typeof endpointFromEnv>;

export const toolchain: Toolchain<Ast, Def, Endpoint> = {
  parseDockerfile,
  convertDockerfile,
  describeConversion,
  endpointFromEnv,
  connectBuildKit,
  tracer: {
    startProbe,
    correlate,
    startCorrelation: () => {
      tuneV8ForCorrelation();
      return new Correlation();
    },
    formatTraceTable,
  },
  agent: {
    mayBeAgent,
    isLoopback,
    agentInfo,
    startRemoteProbe: (endpoint, ref, options) =>
      RemoteProbe.start(endpoint, ref, { onRecord: options.onRecord ?? (() => undefined), ...(options.onGap === undefined ? {} : { onGap: options.onGap }) }),
    noTraceMetadata: NO_TRACE_METADATA,
  },
};
