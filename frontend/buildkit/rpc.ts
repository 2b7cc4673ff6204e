// gRPC plumbing shared by every client and server here: protobufjs reflection types from
// the project's .proto files turned into grpc-js method definitions. No generated code:
// messages travel as plain objects (int64 as decimal strings, bytes as Uint8Array).
import * as grpc from '@grpc/grpc-js';
import type protobuf from 'protobufjs';
import { loadProtoRoot } from '../proto/index.js';

/** Decoded message as a plain object. */
export type Msg = Record<string, unknown>;

const TO_OBJECT: protobuf.IConversionOptions = {
  longs: String, // exact int64 (nanosecond timestamps exceed 2^53)
  enums: Number,
  defaults: false,
  arrays: true,
  objects: true,
  oneofs: true,
};

export function messageType(fullName: string): protobuf.Type {
  return loadProtoRoot().lookupType(fullName);
}

export function encode(type: protobuf.Type, value: Msg): Uint8Array {
  return type.encode(type.fromObject(value)).finish();
}

export function decode(type: protobuf.Type, bytes: Uint8Array): Msg {
  return type.toObject(type.decode(bytes), TO_OBJECT) as Msg;
}

export interface Method {
  path: string;
  requestType: protobuf.Type;
  responseType: protobuf.Type;
  requestStream: boolean;
  responseStream: boolean;
}

/** Looks a method up in the loaded .proto files, e.g. `moby.buildkit.v1.Control`, `Solve`. */
export function method(service: string, name: string): Method {
  const svc = loadProtoRoot().lookupService(service);
  const m = svc.methods[name];
  if (!m) throw new Error(`no method ${name} in ${service}`);
  m.resolve();
  const requestType = m.resolvedRequestType;
  const responseType = m.resolvedResponseType;
  if (!requestType || !responseType) throw new Error(`unresolved types for ${service}/${name}`);
  return {
    path: `/${service}/${name}`,
    requestType,
    responseType,
    requestStream: Boolean(m.requestStream),
    responseStream: Boolean(m.responseStream),
  };
}

function serializer(type: protobuf.Type): (value: Msg) => Buffer {
  return (value) => Buffer.from(encode(type, value));
}

function deserializer(type: protobuf.Type): (bytes: Buffer) => Msg {
  return (bytes) => decode(type, bytes);
}

/** A grpc-js service definition (for `Server.addService`) from a .proto service. */
export function serviceDefinition(service: string): grpc.ServiceDefinition {
  const svc = loadProtoRoot().lookupService(service);
  const def: Record<string, grpc.MethodDefinition<Msg, Msg>> = {};
  for (const name of Object.keys(svc.methods)) {
    const m = method(service, name);
    def[name] = {
      path: m.path,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: serializer(m.requestType),
      requestDeserialize: deserializer(m.requestType),
      responseSerialize: serializer(m.responseType),
      responseDeserialize: deserializer(m.responseType),
    };
  }
  return def;
}

/** The gRPC paths a service serves, e.g. for dockerd's session method headers. */
export function methodPaths(service: string): string[] {
  const svc = loadProtoRoot().lookupService(service);
  return Object.keys(svc.methods).map((name) => `/${service}/${name}`);
}

export interface CallOptions {
  metadata?: Record<string, string>;
  signal?: AbortSignal;
  deadlineMs?: number;
}

function toMetadata(values: Record<string, string> | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(values ?? {})) md.set(k, v);
  return md;
}

function callOptions(opts: CallOptions): grpc.CallOptions {
  return opts.deadlineMs === undefined ? {} : { deadline: Date.now() + opts.deadlineMs };
}

/** The gRPC status of a failed call, if it is one. */
export function grpcStatus(err: unknown): { code: grpc.status; details: string } | undefined {
  if (err && typeof err === 'object' && 'code' in err && typeof (err as { code: unknown }).code === 'number') {
    const e = err as { code: number; details?: unknown; message?: unknown };
    const details = typeof e.details === 'string' && e.details ? e.details : String(e.message ?? '');
    return { code: e.code, details };
  }
  return undefined;
}

/** Typed calls over one grpc-js Client (one HTTP/2 channel). */
export class Rpc {
  constructor(readonly client: grpc.Client) {}

  unary(m: Method, request: Msg, opts: CallOptions = {}): Promise<Msg> {
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) {
        reject(Object.assign(new Error('cancelled'), { code: grpc.status.CANCELLED, details: 'cancelled' }));
        return;
      }
      const call = this.client.makeUnaryRequest<Msg, Msg>(
        m.path,
        serializer(m.requestType),
        deserializer(m.responseType),
        request,
        toMetadata(opts.metadata),
        callOptions(opts),
        (err, res) => {
          opts.signal?.removeEventListener('abort', onAbort);
          if (err) reject(err);
          else resolve(res ?? {});
        },
      );
      const onAbort = (): void => call.cancel();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  serverStream(m: Method, request: Msg, opts: CallOptions = {}): grpc.ClientReadableStream<Msg> {
    return this.client.makeServerStreamRequest<Msg, Msg>(
      m.path,
      serializer(m.requestType),
      deserializer(m.responseType),
      request,
      toMetadata(opts.metadata),
      callOptions(opts),
    );
  }

  bidi(m: Method, opts: CallOptions = {}): grpc.ClientDuplexStream<Msg, Msg> {
    return this.client.makeBidiStreamRequest<Msg, Msg>(
      m.path,
      serializer(m.requestType),
      deserializer(m.responseType),
      toMetadata(opts.metadata),
      callOptions(opts),
    );
  }
}
