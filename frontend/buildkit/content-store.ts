// OCI layouts on this machine, served to the daemon as BuildKit's session content stores
// (session/content). The daemon reads blobs through containerd's content service (Info for
// a blob's size, Read for its bytes) and names the store in each call's
// `buildkit-attachable-store-id` header:
//   oci:<id>      an `oci-layout://` source (its `oci.store` attribute is <id>)
//   local:<src>   a `type=local` cache import (BuildKit's remotecache/local prefixes the
//                 import's `src` attribute with `local:`)
// Only blobs under a layout's `blobs/<alg>/<hex>`, for a well-formed digest, are served.
// Nothing is written: the write side of the service (Writer, Status, Delete, ...) is not
// declared, so the session answers it UNIMPLEMENTED.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { Msg } from './rpc.js';
import type { SessionService } from './session-service.js';

export const CONTENT_SERVICE = 'containerd.services.content.v1.Content';
const STORE_HEADER = 'buildkit-attachable-store-id';
/** How BuildKit names a session's OCI layout store (`oci:<store id>`) and a local cache
 * import's (`local:<src attribute>`). */
export const OCI_STORE_PREFIX = 'oci:';
export const LOCAL_CACHE_STORE_PREFIX = 'local:';
const CHUNK = 1 << 20;

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

class ContentError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

/** The file of a blob in a layout, or a NOT_FOUND/INVALID_ARGUMENT error. */
async function blobFile(stores: Readonly<Record<string, string>>, md: grpc.Metadata, digest: string): Promise<{ path: string; size: number }> {
  const id = String(md.get(STORE_HEADER)[0] ?? '');
  if (id === '') throw new ContentError(grpc.status.INVALID_ARGUMENT, `request lacks a store id (${STORE_HEADER})`);
  const dir = Object.hasOwn(stores, id) ? stores[id] : undefined;
  if (dir === undefined) throw new ContentError(grpc.status.NOT_FOUND, `unknown store ${id}`);
  if (!DIGEST.test(digest)) throw new ContentError(grpc.status.INVALID_ARGUMENT, `invalid digest ${JSON.stringify(digest)}`);
  const [alg, hex] = digest.split(':') as [string, string];
  const path = join(dir, 'blobs', alg, hex);
  const st = await stat(path).catch(() => undefined);
  if (st === undefined || !st.isFile()) throw new ContentError(grpc.status.NOT_FOUND, `content digest ${digest}: not found in the OCI layout`);
  return { path, size: st.size };
}

function toServiceError(err: unknown): Partial<grpc.StatusObject> {
  if (err instanceof ContentError) return { code: err.code, details: err.message };
  return { code: grpc.status.UNKNOWN, details: err instanceof Error ? err.message : String(err) };
}

/** The content service over the given layouts (store id as the header names it, with its
 * prefix -> layout directory). */
export function contentStoreService(stores: Readonly<Record<string, string>>): SessionService {
  return {
    name: CONTENT_SERVICE,
    handlers: {
      Info: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
        const digest = String(call.request.digest ?? '');
        blobFile(stores, call.metadata, digest).then(
          ({ size }) => cb(null, { info: { digest, size: String(size) } }),
          (err: unknown) => cb(toServiceError(err)),
        );
      },
      Read: (call: grpc.ServerWritableStream<Msg, Msg>) => {
        const digest = String(call.request.digest ?? '');
        const offset = Number(call.request.offset ?? 0);
        const wanted = Number(call.request.size ?? 0);
        blobFile(stores, call.metadata, digest)
          .then(({ path, size }) => {
            if (!Number.isSafeInteger(offset) || offset < 0 || offset > size) {
              throw new ContentError(grpc.status.OUT_OF_RANGE, `offset ${offset} is outside ${digest} (${size} bytes)`);
            }
            const end = wanted > 0 ? Math.min(size, offset + wanted) : size;
            if (end === offset) {
              call.end();
              return;
            }
            let at = offset;
            const stream = createReadStream(path, { start: offset, end: end - 1, highWaterMark: CHUNK });
            stream.on('data', (chunk) => {
              const data = chunk as Buffer;
              if (!call.write({ offset: String(at), data })) {
                stream.pause();
                call.once('drain', () => stream.resume());
              }
              at += data.length;
            });
            stream.on('end', () => call.end());
            stream.on('error', (err) => call.emit('error', toServiceError(err)));
            call.on('cancelled', () => stream.destroy());
          })
          .catch((err: unknown) => call.emit('error', toServiceError(err)));
      },
    },
  };
}
