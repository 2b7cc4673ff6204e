// --build-context values read as buildx reads them, and images found in OCI layouts.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBuildContexts } from './build-contexts.js';

const AMD64 = { os: 'linux', architecture: 'amd64' };
let dir: string;

function putBlob(layout: string, doc: unknown): string {
  const bytes = Buffer.from(JSON.stringify(doc));
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(path.join(layout, 'blobs', 'sha256', hex), bytes);
  return `sha256:${hex}`;
}

let amdManifest = '';
let indexDigest = '';
beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-build-contexts-'));
  mkdirSync(path.join(dir, 'extra'));
  writeFileSync(path.join(dir, 'extra', '.dockerignore'), '# comment\n*.tmp\n');
  const layout = path.join(dir, 'layout');
  mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
  const manifestFor = (arch: string): string => {
    const config = putBlob(layout, { architecture: arch, os: 'linux', config: { Env: [`ARCH=${arch}`] }, rootfs: { type: 'layers', diff_ids: [] } });
    return putBlob(layout, { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: config, size: 1 }, layers: [] });
  };
  amdManifest = manifestFor('amd64');
  const armManifest = manifestFor('arm64');
  indexDigest = putBlob(layout, {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: armManifest, size: 1, platform: { os: 'linux', architecture: 'arm64' } },
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: amdManifest, size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    ],
  });
  writeFileSync(
    path.join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.index.v1+json', digest: indexDigest, size: 1, annotations: { 'org.opencontainers.image.ref.name': 'v1' } }] }),
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('--build-context', () => {
  it('reads a local directory with its .dockerignore, named in short form', () => {
    const c = parseBuildContexts(['docker.io/library/extra:latest=extra'], dir, AMD64);
    expect(c.named).toEqual({ extra: { type: 'local', name: 'extra', excludePatterns: ['*.tmp'] } });
    expect(c.localDirs).toEqual({ extra: { dir: path.join(dir, 'extra'), dockerignore: ['*.tmp'] } });
  });

  it('takes docker-image:// references as given', () => {
    expect(parseBuildContexts(['alpine:3.19=docker-image://127.0.0.1:5000/alpine:3.19'], dir, AMD64).named).toEqual({
      'alpine:3.19': { type: 'docker-image', ref: '127.0.0.1:5000/alpine:3.19' },
    });
  });

  it('finds an OCI layout image by tag, narrowed to the platform, or by digest', () => {
    const byTag = parseBuildContexts(['base=oci-layout://layout:v1'], dir, AMD64);
    const named = byTag.named['base'];
    expect(named).toMatchObject({ type: 'oci-layout', digest: amdManifest, config: { config: { Env: ['ARCH=amd64'] } } });
    expect(byTag.ociLayouts).toEqual({ [(named as { storeId: string }).storeId]: path.join(dir, 'layout') });
    const byDigest = parseBuildContexts([`base=oci-layout://layout@${indexDigest}`], dir, { os: 'linux', architecture: 'arm64' });
    expect(byDigest.named['base']).toMatchObject({ config: { config: { Env: ['ARCH=arm64'] } } });
  });

  it('names what is wrong', () => {
    expect(() => parseBuildContexts(['extra'], dir, AMD64)).toThrow('invalid argument "extra" for "--build-context" flag: expected NAME=VALUE');
    expect(() => parseBuildContexts(['context=extra'], dir, AMD64)).toThrow('the name context is reserved');
    expect(() => parseBuildContexts(['Bad=extra'], dir, AMD64)).toThrow('invalid context name "Bad"');
    expect(() => parseBuildContexts(['x=https://example.com/repo.git'], dir, AMD64)).toThrow('only local directories, docker-image:// and oci-layout:// contexts are supported');
    expect(() => parseBuildContexts(['x=missing'], dir, AMD64)).toThrow('failed to get build context x=missing: ENOENT');
    expect(() => parseBuildContexts(['x=oci-layout://layout'], dir, AMD64)).toThrow('OCI layout layout: no image tagged "latest" in index.json (tags: v1)');
    expect(() => parseBuildContexts(['x=oci-layout://layout:v1'], dir, { os: 'linux', architecture: 's390x' })).toThrow(`OCI layout layout: ${indexDigest} has no image for linux/s390x`);
  });
});
