// `--cache-from type=local,src=DIR[,tag=TAG|digest=DIGEST]`: the OCI layout a cache import
// reads, found as BuildKit's client (client/solve.go, parseCacheOptions) finds it before the
// solve: the manifest `digest` names, else the one index.json tags `tag` (default `latest`,
// in the `org.opencontainers.image.ref.name` annotation). The import goes to the daemon
// with `src` (absolute here, so that the session's store id `local:<src>` is unambiguous)
// and `digest`; the daemon then reads the layout through the session (content-store.ts).
//
// What the layout holds may be a cache manifest list (`--cache-to type=local` of a
// buildkitd) or an image whose config carries an inline cache (`--cache-to type=inline`,
// copied from a registry with `oras copy --to-oci-layout`): BuildKit's importer reads the
// second when the first has no cache config.
//
// BuildKit's client only warns and builds without the cache when the directory or its
// index.json cannot be read; here that is a usage error (exit 2) naming the flag and the
// path, so that a CI job with a wrong path does not silently rebuild everything.
import { statSync } from 'node:fs';
import path from 'node:path';
import type { CacheEntry } from '../contracts.js';
import { BuildInputError, UsageError } from '../errors.js';
import { readLayoutBlob, readLayoutEntry } from './oci-layout.js';

const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

/** A `type=local` import with its `src` made absolute and its `digest` found; the manifest
 * it names is read and checked (present, matching its digest, JSON) before the build. */
export function resolveLocalCacheImport(entry: CacheEntry, cwd: string): CacheEntry {
  const src = entry.attrs.src ?? '';
  const flag = `--cache-from type=local,src=${src}`;
  if (src === '') throw new UsageError('bad-flag', '--cache-from type=local: local cache importer requires src');
  const dir = path.resolve(cwd, src);
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) throw new UsageError('bad-flag', `${flag}: ${dir} does not exist`);
  if (!st.isDirectory()) throw new UsageError('bad-flag', `${flag}: ${dir} is not a directory (an OCI layout directory is expected)`);
  const { digest, tag } = entry.attrs;
  if (digest !== undefined && tag !== undefined) throw new UsageError('bad-flag', `${flag}: give tag= or digest=, not both`);
  if (digest !== undefined && !DIGEST.test(digest)) throw new UsageError('bad-flag', `${flag}: invalid digest ${JSON.stringify(digest)}`);
  let found: string;
  try {
    found = digest ?? readLayoutEntry(dir, tag === undefined ? {} : { tag }, dir).desc.digest;
    if (digest !== undefined) readLayoutBlob(dir, digest, dir);
  } catch (err) {
    if (err instanceof BuildInputError) throw new UsageError('bad-flag', `${flag}: ${err.message}`);
    throw err;
  }
  return { type: 'local', attrs: { ...entry.attrs, src: dir, digest: found } };
}
