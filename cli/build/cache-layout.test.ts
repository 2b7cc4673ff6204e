// --cache-from type=local: the OCI layout found as BuildKit's client finds it (tag `latest`
// by default, a tag or a digest), and a wrong path or layout refused before the build, as a
// usage error naming the flag and the directory.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { resolveLocalCacheImport } from './cache-layout.js';

let dir: string;
let layout: string;
let latest = '';
let v2 = '';

function putBlob(doc: unknown): string {
  const bytes = Buffer.from(JSON.stringify(doc));
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(layout, 'blobs', 'sha256', hex), bytes);
  return `sha256:${hex}`;
}

function usageError(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return err as UsageError;
  }
  throw new Error('expected a usage error');
}

const local = (attrs: Record<string, string>) => ({ type: 'local', attrs });

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-cache-layout-'));
  layout = path.join(dir, 'cache');
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  // an image manifest with an inline cache (what oras copies), and a cache manifest list
  const config = putBlob({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, 'moby.buildkit.cache.v0': 'e30=' });
  latest = putBlob({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1 }, layers: [] });
  const cacheConfig = putBlob({ layers: [], records: [] });
  v2 = putBlob({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: cacheConfig, size: 1 }] });
  const ref = (tag: string) => ({ 'org.opencontainers.image.ref.name': tag });
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: latest, size: 1, annotations: ref('latest') },
        { mediaType: 'application/vnd.oci.image.index.v1+json', digest: v2, size: 1, annotations: ref('v2') },
      ],
    }),
  );
  writeFileSync(path.join(dir, 'a-file'), 'x');
  mkdirSync(path.join(dir, 'empty'));
  mkdirSync(path.join(dir, 'corrupt'));
  writeFileSync(path.join(dir, 'corrupt', 'index.json'), '{"schemaVersion": 2, "manifests": [');
  mkdirSync(path.join(dir, 'missing-blob', 'blobs', 'sha256'), { recursive: true });
  writeFileSync(path.join(dir, 'missing-blob', 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ digest: latest, size: 1, annotations: ref('latest') }] }));
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--cache-from type=local', () => {
  it('sends src made absolute and the digest index.json tags latest, or the given tag', () => {
    expect(resolveLocalCacheImport(local({ src: 'cache' }), dir)).toEqual(local({ src: layout, digest: latest }));
    expect(resolveLocalCacheImport(local({ src: layout, tag: 'v2' }), '/')).toEqual(local({ src: layout, tag: 'v2', digest: v2 }));
  });

  it('takes a digest as given once its blob is there, without index.json', () => {
    rmSync(path.join(dir, 'by-digest'), { recursive: true, force: true });
    mkdirSync(path.join(dir, 'by-digest', 'blobs', 'sha256'), { recursive: true });
    writeFileSync(path.join(dir, 'by-digest', 'blobs', 'sha256', v2.slice(7)), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.buildkit.cacheconfig.v0', digest: putBlob({ layers: [], records: [] }), size: 1 }] }));
    expect(resolveLocalCacheImport(local({ src: 'cache', digest: v2 }), dir)).toEqual(local({ src: layout, digest: v2 }));
  });

  it('refuses a wrong path or layout before the build, naming the flag and the directory (exit 2)', () => {
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'nowhere' }), dir)).message).toBe(`--cache-from type=local,src=nowhere: ${path.join(dir, 'nowhere')} does not exist`);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'a-file' }), dir)).message).toMatch(/^--cache-from type=local,src=a-file: .*a-file is not a directory/);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'empty' }), dir)).message).toMatch(/^--cache-from type=local,src=empty: OCI layout .*empty: .*index\.json/);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'corrupt' }), dir)).message).toMatch(/^--cache-from type=local,src=corrupt: OCI layout .*corrupt: index\.json is not JSON/);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'cache', tag: 'v9' }), dir)).message).toMatch(/^--cache-from type=local,src=cache: OCI layout .*: no image tagged "v9" in index\.json \(tags: latest, v2\)/);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'missing-blob' }), dir)).message).toMatch(/^--cache-from type=local,src=missing-blob: OCI layout .*blobs\/sha256\/[a-f0-9]{64}/);
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'cache', digest: 'sha256:../../x' }), dir)).message).toContain('invalid digest');
    expect(usageError(() => resolveLocalCacheImport(local({ src: 'cache', digest: latest, tag: 'v2' }), dir)).message).toContain('tag= or digest=, not both');
  });
});
