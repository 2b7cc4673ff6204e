/**
 * The distribution client against the real registry that scripts/env.sh starts on
 * 127.0.0.1:5000 (CNCF distribution 2.8.2: no referrers API, so attaching goes through
 * the sha256-<hex> tag-schema index). Outside CI the suite skips, saying why, when the
 * registry is not up; in CI (CI=true) that is a failure.
 */
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  MediaType, RegistryClient, RegistryError, digestOf, parseReference, referrersTag,
  type Descriptor, type ImageIndex, type ImageManifest,
} from '../../oci/index.js';

const REGISTRY = '127.0.0.1:5000';

async function registryUp(): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${REGISTRY}/v2/`, { signal: AbortSignal.timeout(3000) });
    return res.status === 200 ? undefined : `GET http://${REGISTRY}/v2/ answered ${res.status}`;
  } catch (e) {
    return `no registry on ${REGISTRY} (${(e as Error).message}); start it with: bash scripts/env.sh`;
  }
}

const unavailable = await registryUp();
const inCI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (unavailable && !inCI) console.log(`skipping oci-registry integration tests: ${unavailable}`);

const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

describe.skipIf(unavailable !== undefined && !inCI)('oci client against the real registry', () => {
  it('has a registry to talk to', () => {
    expect(unavailable, 'the registry must be up in CI').toBeUndefined();
  });

  const repoName = `tracebuild-test/oci-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const repo = parseReference(`${REGISTRY}/${repoName}`);
  const client = new RegistryClient({ retry: { attempts: 3, baseDelayMs: 50 } });

  let image: Descriptor;
  let layerBytes: Uint8Array;

  it('pushes a small image (config, chunked layer, manifest) and gets it back by tag and digest', async () => {
    const config = json({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, config: {} });
    layerBytes = gzipSync(randomBytes(100_000));
    const configDesc = await client.pushBlob(repo, config, { mediaType: MediaType.OciConfig });
    // Three PATCH chunks, then the closing PUT.
    const layerDesc = await client.pushBlob(repo, layerBytes, { mediaType: MediaType.OciLayerTarGzip, chunkSize: 40_000 });
    expect(layerDesc.digest).toBe(digestOf(layerBytes));
    expect(await client.blobExists(repo, layerDesc.digest)).toMatchObject({ digest: layerDesc.digest, size: layerBytes.byteLength });

    const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers: [layerDesc] };
    const pushed = await client.putManifest(repo.withTag('v1'), manifest);
    image = pushed.descriptor;

    const byTag = await client.getManifest(repo.withTag('v1'));
    expect(byTag.descriptor).toEqual(image);
    expect(byTag.manifest).toEqual(manifest);
    const byDigest = await client.getManifest(repo.withDigest(image.digest));
    expect(Buffer.from(byDigest.bytes).equals(Buffer.from(byTag.bytes))).toBe(true);
    expect(await client.resolveManifest(`${REGISTRY}/${repoName}:v1`)).toEqual(image);
    expect(Buffer.from(await client.fetchBlob(repo, layerDesc.digest)).equals(Buffer.from(layerBytes))).toBe(true);
    expect(await client.listTags(repo)).toContain('v1');
  });

  it('reports a missing manifest as not-found with the registry message', async () => {
    const err = await client.getManifest(repo.withTag('absent')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ code: 'not-found', operation: 'manifest.get', status: 404, registryCodes: ['MANIFEST_UNKNOWN'] });
  });

  it('attaches two referrers through the tag schema and lists them next to a foreign entry', async () => {
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    const tagRef = repo.withTag(referrersTag(image.digest));

    // Another tool already attached something and wrote the index, with fields of its own.
    await client.pushBlob(repo, new Uint8Array([0x7b, 0x7d]), { mediaType: MediaType.OciEmpty });
    const foreignLayer = await client.pushBlob(repo, json({ other: 'tool' }), { mediaType: 'application/vnd.example.other+json' });
    const foreignManifest: ImageManifest = {
      schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType: 'application/vnd.example.other',
      config: { mediaType: MediaType.OciEmpty, digest: digestOf(new Uint8Array([0x7b, 0x7d])), size: 2 },
      layers: [foreignLayer], subject,
    };
    const foreign = await client.putManifest(repo.withDigest(digestOf(json(foreignManifest))), json(foreignManifest), MediaType.OciManifest);
    const foreignEntry: Descriptor = { ...foreign.descriptor, artifactType: 'application/vnd.example.other', annotations: { 'org.example.by': 'other-tool' } };
    const foreignIndex: ImageIndex & Record<string, unknown> = {
      schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [foreignEntry], annotations: { 'org.example.index': 'keep me' },
    };
    await client.putManifest(tagRef, json(foreignIndex), MediaType.OciIndex);

    expect(client.referrersCapability(repo)).toBe('unknown');
    const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
    const first = await client.attachArtifact(repo.withTag('v1'), {
      artifactType: bundleType,
      layers: [{ mediaType: bundleType, data: json({ bundle: 1 }) }],
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://in-toto.io/attestation/runtime-trace/v0.1' },
    });
    expect(first.via).toBe('tag-schema');
    expect(client.referrersCapability(repo)).toBe('unsupported');
    const second = await client.attachArtifact(repo.withDigest(image.digest), {
      artifactType: 'application/vnd.tracebuild.test+json',
      layers: [{ mediaType: 'application/vnd.tracebuild.test+json', data: json({ second: true }) }],
    });
    expect(second.via).toBe('tag-schema');

    const listed = await client.listReferrers(repo.withTag('v1'));
    expect(listed.map((d) => d.digest).sort()).toEqual([foreign.descriptor.digest, first.descriptor.digest, second.descriptor.digest].sort());
    expect(listed.find((d) => d.digest === foreign.descriptor.digest)).toEqual(foreignEntry);
    expect(listed.find((d) => d.digest === first.descriptor.digest)).toMatchObject({
      mediaType: MediaType.OciManifest, artifactType: bundleType,
      annotations: { 'dev.sigstore.bundle.predicateType': 'https://in-toto.io/attestation/runtime-trace/v0.1' },
    });
    const index = await client.readReferrersIndex(repo, image.digest);
    expect(index?.manifest.annotations).toEqual({ 'org.example.index': 'keep me' });

    expect((await client.listReferrers(repo.withDigest(image.digest), { artifactType: bundleType })).map((d) => d.digest)).toEqual([first.descriptor.digest]);

    // The pushed referrer is a real manifest whose subject is the image.
    const fetched = await client.getManifest(repo.withDigest(first.descriptor.digest));
    expect(fetched.manifest.subject).toEqual(subject);

    // Attaching the same manifest again adds no duplicate.
    const again = await client.attachReferrer(repo.withDigest(image.digest), fetched.bytes);
    expect(again.descriptor.digest).toBe(first.descriptor.digest);
    expect(await client.listReferrers(repo.withDigest(image.digest))).toHaveLength(3);
  });
});
