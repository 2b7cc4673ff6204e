// The agent's own gRPC service, `tracebuild.agent.v1.Agent`, served on the agent's TLS port
// beside the BuildKit API it forwards (docs/ARCHITECTURE.md "The tracebuild agent"). A
// client reaches it the way it reaches BuildKit there: through dockerd's `POST /grpc`
// upgrade (DOCKER_HOST) or straight over HTTP/2 (BUILDKIT_HOST); the caller is the client
// certificate of that connection.
//
//   Info      what the agent is: whether it can trace now (and why not), its builder id and
//             signing key, and who it takes the caller for.
//   Trace     bidi: {start: ref} before the build's Control.Solve; the agent answers with
//             the probe's READY record, then streams the raw probe records of the build's
//             own containers (the loader's framing: u32 length + record), the loss reports
//             (counted from the build's start), gaps, and a pong for each ping once every
//             record written before it was sent; {finish} ends the stream ({end}).
//   GetTrace  a finished build's trace kept by the agent (any BuildKit client's), by build
//             ref, image id or manifest digest, for its owner or a trace reader.
//
// Messages are protobuf, defined here (protobufjs reflection; no .proto file to load).
import protobuf from 'protobufjs';

export const AGENT_SERVICE = 'tracebuild.agent.v1.Agent';
export const AGENT_PATHS = {
  info: `/${AGENT_SERVICE}/Info`,
  trace: `/${AGENT_SERVICE}/Trace`,
  getTrace: `/${AGENT_SERVICE}/GetTrace`,
} as const;

const DESCRIPTOR = {
  nested: {
    tracebuild: {
      nested: {
        agent: {
          nested: {
            v1: {
              nested: {
                InfoRequest: { fields: {} },
                InfoResponse: {
                  fields: {
                    version: { type: 'string', id: 1 },
                    tracing: { type: 'bool', id: 2 },
                    reason: { type: 'string', id: 3 },
                    client: { type: 'string', id: 4 },
                    clientFingerprint: { type: 'string', id: 5 },
                    builderId: { type: 'string', id: 6 },
                    keyId: { type: 'string', id: 7 },
                    kernel: { type: 'string', id: 8 },
                  },
                },
                TraceStart: { fields: { ref: { type: 'string', id: 1 } } },
                TracePing: { fields: { seq: { type: 'uint32', id: 1 } } },
                TraceFinish: { fields: {} },
                TraceClientMessage: {
                  oneofs: { msg: { oneof: ['start', 'ping', 'finish'] } },
                  fields: {
                    start: { type: 'TraceStart', id: 1 },
                    ping: { type: 'TracePing', id: 2 },
                    finish: { type: 'TraceFinish', id: 3 },
                  },
                },
                TraceGap: {
                  fields: {
                    kind: { type: 'string', id: 1 },
                    fromMs: { type: 'double', id: 2 },
                    reason: { type: 'string', id: 3 },
                  },
                },
                TraceEnd: { fields: {} },
                TraceServerMessage: {
                  oneofs: { msg: { oneof: ['records', 'gap', 'pong', 'end'] } },
                  fields: {
                    records: { type: 'bytes', id: 1 },
                    gap: { type: 'TraceGap', id: 2 },
                    pong: { type: 'TracePing', id: 3 },
                    end: { type: 'TraceEnd', id: 4 },
                  },
                },
                GetTraceRequest: { fields: { query: { type: 'string', id: 1 } } },
                GetTraceResponse: {
                  fields: {
                    ref: { type: 'string', id: 1 },
                    traceJson: { type: 'string', id: 2 },
                    recordJson: { type: 'string', id: 3 },
                  },
                },
              },
            },
          },
        },
      },
    },
  },
};

let root: protobuf.Root | undefined;

function type(name: string): protobuf.Type {
  root ??= protobuf.Root.fromJSON(DESCRIPTOR);
  return root.lookupType(`tracebuild.agent.v1.${name}`);
}

const TO_OBJECT: protobuf.IConversionOptions = { longs: Number, defaults: false, arrays: true, objects: true, oneofs: true };

function codec<T extends object>(name: string): { encode(value: T): Buffer; decode(bytes: Uint8Array): T } {
  return {
    encode: (value) => Buffer.from(type(name).encode(type(name).fromObject(value as Record<string, unknown>)).finish()),
    decode: (bytes) => type(name).toObject(type(name).decode(bytes), TO_OBJECT) as T,
  };
}

export interface InfoResponse {
  version?: string;
  tracing?: boolean;
  reason?: string;
  client?: string;
  clientFingerprint?: string;
  builderId?: string;
  keyId?: string;
  /** The builder's kernel release. */
  kernel?: string;
}

export interface TraceGapMessage {
  kind: string;
  fromMs: number;
  reason: string;
}

export interface TraceClientMessage {
  start?: { ref?: string };
  ping?: { seq?: number };
  finish?: Record<string, never>;
}

export interface TraceServerMessage {
  records?: Uint8Array;
  gap?: TraceGapMessage;
  pong?: { seq?: number };
  end?: Record<string, never>;
}

export interface GetTraceRequest {
  query?: string;
}

export interface GetTraceResponse {
  ref?: string;
  /** The trace, as --trace-out writes it. */
  traceJson?: string;
  /** What the agent keeps about the build besides the trace (StoredBuildSummary). */
  recordJson?: string;
}

export const messages = {
  infoRequest: codec<Record<string, never>>('InfoRequest'),
  infoResponse: codec<InfoResponse>('InfoResponse'),
  traceClient: codec<TraceClientMessage>('TraceClientMessage'),
  traceServer: codec<TraceServerMessage>('TraceServerMessage'),
  getTraceRequest: codec<GetTraceRequest>('GetTraceRequest'),
  getTraceResponse: codec<GetTraceResponse>('GetTraceResponse'),
};
