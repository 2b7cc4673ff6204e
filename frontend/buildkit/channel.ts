// A gRPC channel to the endpoint, for callers other than the build client: the tracebuild
// agent follows each build's Status stream on the daemon it fronts, and a tracebuild client
// calls the agent's own service through the same address (over dockerd's `/grpc` upgrade,
// or gRPC on a buildkitd address), with the same TLS. Calls go through Rpc with plain
// message objects, or raw grpc-js with serializers of the caller's own.
import * as grpc from '@grpc/grpc-js';
import { grpcStatus, method, Rpc } from './rpc.js';
import { toStatusBatch } from './status.js';
import { endpointTarget } from './endpoint.js';
import { openTransport, type Transport } from './transport.js';
import type { Endpoint, StatusBatch } from './types.js';

export interface BuildKitChannel {
  readonly endpoint: Endpoint;
  readonly client: grpc.Client;
  /** The last failure seen while reaching the address (a socket or TLS error). */
  lastError(): Error | undefined;
  close(): void;
}

export async function openBuildKitChannel(endpoint: Endpoint): Promise<BuildKitChannel> {
  const transport: Transport = await openTransport(endpoint, endpointTarget(endpoint));
  const client = new grpc.Client(transport.grpcTarget, transport.credentials, {
    ...transport.channelOptions,
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
    'grpc.enable_retries': 0,
  });
  let closed = false;
  return {
    endpoint,
    client,
    lastError: () => transport.lastError(),
    close: () => {
      if (closed) return;
      closed = true;
      client.close();
      transport.close();
    },
  };
}

export interface FollowStatusOptions {
  signal?: AbortSignal;
  /** How long to wait for the daemon to know the ref (it answers "no such job" until then). */
  waitForJobMs?: number;
}

/**
 * Follows a build's Control.Status stream from its start (BuildKit replays what it already
 * reported) until the build ends. Resolves when the stream ends, the signal fires, or the
 * job never appeared; rejects on any other failure.
 */
export function followStatus(channel: BuildKitChannel, ref: string, onBatch: (batch: StatusBatch) => void, options: FollowStatusOptions = {}): Promise<void> {
  const rpc = new Rpc(channel.client);
  const deadline = Date.now() + (options.waitForJobMs ?? 20_000);
  return new Promise<void>((resolve, reject) => {
    let call: grpc.ClientReadableStream<Record<string, unknown>> | undefined;
    const onAbort = (): void => call?.cancel();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (err?: unknown): void => {
      options.signal?.removeEventListener('abort', onAbort);
      if (err === undefined) resolve();
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const start = (): void => {
      if (options.signal?.aborted) return finish();
      let gotData = false;
      const c = rpc.serverStream(method('moby.buildkit.v1.Control', 'Status'), { Ref: ref });
      call = c;
      c.on('data', (res: Record<string, unknown>) => {
        gotData = true;
        onBatch(toStatusBatch(res));
      });
      c.on('error', (err) => {
        if (c !== call) return;
        call = undefined;
        const st = grpcStatus(err);
        if (options.signal?.aborted || st?.code === grpc.status.CANCELLED) return finish();
        if (!gotData && st && /no such job/i.test(st.details)) {
          if (Date.now() < deadline) setTimeout(start, 200);
          else finish();
          return;
        }
        finish(err);
      });
      c.on('end', () => {
        if (c === call) finish();
      });
    };
    start();
  });
}
