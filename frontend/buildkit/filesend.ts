// The FileSend session service (moby.filesync.v1.FileSend/DiffCopy): how the daemon hands
// a build's result back to the client for `-o type=local|tar|oci|docker`. The daemon is the
// gRPC client of the call; which exporter the call belongs to is the metadata
// `buildkit-attachable-exporter-id` (the exporter's index in the solve; absent: 0).
//   - a directory target (local exporter): the daemon is the *sender* of fsutil's DiffCopy
//     protocol (filesync.ts describes it from the other side), so the messages are fsutil
//     Packets although the service declares BytesMessage; we receive into the directory;
//   - a file target (tar, oci, docker exporters): BytesMessage chunks of one file, ended by
//     the daemon's half-close; we end the call once the file is complete.
// Messages are (de)serialized here, not by rpc.ts: which type a message has depends on the
// target, which is only known from the call's metadata.
import * as grpc from '@grpc/grpc-js';
import type { ExportTarget } from './types.js';
import { decode, encode, messageType, type Msg } from './rpc.js';
import { receiveDirectory } from './receive-dir.js';
import type { Packet } from './filesync.js';

export const FILESEND_SERVICE = 'moby.filesync.v1.FileSend';
export const FILESEND_DIFFCOPY = `/${FILESEND_SERVICE}/DiffCopy`;
const EXPORTER_ID_KEY = 'buildkit-attachable-exporter-id';

const identity = (b: Buffer): Buffer => b;

/** The service definition: raw bytes both ways, decoded per target. */
export const fileSendDefinition: grpc.ServiceDefinition = {
  DiffCopy: {
    path: FILESEND_DIFFCOPY,
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

/** The exporter index a call is for, as BuildKit's own client chooses it (a bad value: 0). */
export function exporterIndex(md: grpc.Metadata): number {
  const raw = md.get(EXPORTER_ID_KEY)[0];
  if (raw === undefined) return 0;
  const n = Number.parseInt(String(raw), 10);
  return Number.isSafeInteger(n) && n >= 0 ? n : 0;
}

export interface FileSendOptions {
  targets: ReadonlyMap<number, ExportTarget>;
  signal?: AbortSignal;
  onError?: (err: Error) => void;
}

export function fileSendHandlers(opts: FileSendOptions): grpc.UntypedServiceImplementation {
  return {
    DiffCopy: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
      const index = exporterIndex(call.metadata);
      const target = opts.targets.get(index);
      const fail = (err: unknown): void => {
        const e = err instanceof Error ? err : new Error(String(err));
        opts.onError?.(e);
        if (!call.destroyed) call.emit('error', { code: grpc.status.UNKNOWN, details: e.message });
      };
      if (target === undefined) {
        call.emit('error', { code: grpc.status.NOT_FOUND, details: `exporter ${index} not found` });
        return;
      }
      const receiving = target.kind === 'directory' ? receiveIntoDirectory(call, target.path, opts.signal) : receiveIntoFile(call, target);
      receiving.then(() => call.end(), fail);
    },
  };
}

function receiveIntoDirectory(call: grpc.ServerDuplexStream<Buffer, Buffer>, dest: string, signal?: AbortSignal): Promise<void> {
  const packetType = messageType('fsutil.types.Packet');
  const packets = (async function* (): AsyncGenerator<Packet> {
    // Not `for await (… of call)`: leaving that loop would reset the stream (see session.ts).
    for await (const chunk of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) yield decode(packetType, chunk) as Packet;
  })();
  return receiveDirectory(
    {
      packets,
      send: (packet: Packet) =>
        new Promise<void>((resolve, reject) => {
          if (call.destroyed || call.writableEnded) {
            reject(new Error('export call closed'));
            return;
          }
          call.write(Buffer.from(encode(packetType, packet as Msg)), (err?: Error | null) => (err ? reject(err) : resolve()));
        }),
    },
    dest,
    signal,
  );
}

async function receiveIntoFile(call: grpc.ServerDuplexStream<Buffer, Buffer>, target: Extract<ExportTarget, { kind: 'file' }>): Promise<void> {
  const bytesType = messageType('moby.filesync.v1.BytesMessage');
  const sink = await target.open();
  try {
    for await (const chunk of call.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      const data = decode(bytesType, chunk).data as Uint8Array | undefined;
      if (data !== undefined && data.length > 0) await sink.write(data);
    }
    // A cancelled call ends the iteration too: the file is then incomplete.
    if (call.cancelled) throw new Error('the daemon cancelled the export');
  } catch (err) {
    await sink.abort();
    throw err;
  }
  await sink.close();
}
