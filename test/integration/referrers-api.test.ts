// The OCI referrers API path, end to end: dockerd pushes a tracebuild-built image to an
// in-test registry that implements distribution-spec 1.1 with the referrers endpoint
// (test/helpers/oci-server.ts; no real component here offers that API), tracebuild attaches
// the signed bundles through it (no sha256-<hex> fallback tag), and `referrers` and
// `verify` read them back through it, with the artifactType filter.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  BUNDLE_MEDIA_TYPE,
  PREDICATE_ANNOTATION,
  RUNTIME_TRACE_PREDICATE,
  SLSA_PREDICATE,
  checkDsseWithNodeCrypto,
  fetchBlob,
  fetchManifest,
  keyIdOfPem,
  plainReferrers,
  tracebuild,
  writeFiles,
} from '../helpers/attest.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, runId } from '../helpers/index.js';
import { OciTestRegistry } from '../helpers/oci-server.js';

const gate = await integrationGate();
const PASSWORD = 'referrers-api-test';

describe.skipIf(gate.skip)('attestations through the OCI referrers API (in-test registry)', () => {
  const registry = new OciTestRegistry();
  let work = '';
  let image = '';
  let repo = '';
  let digest = '';
  let publicPem = '';
  const env = { TRACEBUILD_KEY_PASSWORD: PASSWORD };

  beforeAll(async () => {
    await ensureCliBuilt();
    await registry.start();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-refapi-'));
    writeFiles(path.join(work, 'ctx'), {
      'Dockerfile': 'FROM busybox:local\nCOPY data.txt /data.txt\nRUN cat /data.txt > /copy.txt && echo done\n',
      'data.txt': `referrers api ${runId}\n`,
    });
    const keygen = await tracebuild(['keygen', '--out', path.join(work, 'signer')], { env });
    expect(keygen.exitCode, keygen.stderr).toBe(0);
    publicPem = readFileSync(path.join(work, 'signer.pub'), 'utf8');
    repo = `tracebuild-test/refapi-${runId}`;
    image = `${registry.host}/${repo}:v1`;
  });

  afterAll(async () => {
    if (image) await removeImage(image);
    await registry.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('build --push --key pushes through dockerd and attaches through the referrers API', async () => {
    const args = ['build', '--network', 'host', '--progress', 'plain', '-t', image, '--push', '--key', path.join(work, 'signer.key')];
    const r = await tracebuild([...args, path.join(work, 'ctx')], { env });
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).toBe(0);
    const pushed = /Pushed \S+ as \S+@(sha256:[0-9a-f]{64})/.exec(r.stdout);
    expect(pushed, shown).not.toBeNull();
    digest = pushed?.[1] ?? '';
    expect(r.stdout).toContain(`Attested ${registry.host}/${repo}@${digest}`);
    expect(r.stdout).toContain('referrers via referrers-api');

    // dockerd's push landed in the in-test registry under that digest.
    expect((await fetchManifest(registry.host, repo, 'v1'))?.digest).toBe(digest);
    // The registry indexed the referrers itself: no fallback tag was written.
    expect(registry.tagsOf(repo)).toEqual(['v1']);
    const puts = registry.log.filter((l) => l.method === 'PUT' && l.path.startsWith(`/v2/${repo}/manifests/sha256:`));
    expect(puts.length).toBe(2);
  });

  test('the referrers endpoint lists the bundles in the cosign layout, and node:crypto verifies them', async () => {
    const listed = await plainReferrers(registry.host, repo, digest, true);
    expect(listed.map((d) => d.artifactType)).toEqual(listed.map(() => BUNDLE_MEDIA_TYPE));
    const types = listed.map((d) => d.annotations?.[PREDICATE_ANNOTATION]).sort();
    expect(types).toEqual([RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE]);
    for (const entry of listed) {
      const m = await fetchManifest(registry.host, repo, entry.digest);
      expect(m?.json.subject).toMatchObject({ digest });
      const layer = (m?.json.layers as { digest: string; mediaType: string }[])[0];
      expect(layer?.mediaType).toBe(BUNDLE_MEDIA_TYPE);
      const checked = checkDsseWithNodeCrypto(await fetchBlob(registry.host, repo, layer?.digest ?? ''), publicPem);
      expect(checked.keyHint).toBe(keyIdOfPem(publicPem));
      expect(checked.statement.subject[0]?.digest.sha256).toBe(digest.slice('sha256:'.length));
    }
  });

  test('referrers lists them through the API', async () => {
    const r = await tracebuild(['referrers', image, '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    const tree = JSON.parse(r.stdout) as { digest: string; referrers: { predicateType?: string; keyId?: string }[] };
    expect(tree.digest).toBe(digest);
    expect(tree.referrers.map((n) => n.predicateType).sort()).toEqual([RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE]);
    expect(new Set(tree.referrers.map((n) => n.keyId))).toEqual(new Set([keyIdOfPem(publicPem)]));
    expect(registry.log.some((l) => l.method === 'GET' && l.path === `/v2/${repo}/referrers/${digest}`)).toBe(true);
  });

  test('verify reads every referrer through the API (no artifactType filter: the referrer manifests decide)', async () => {
    const before = registry.log.length;
    const r = await tracebuild(['verify', image, '--key', path.join(work, 'signer.pub')]);
    const shown = `${r.command}\n${r.stdout}\n${r.stderr}`;
    const listed = registry.log.slice(before).filter((l) => l.path === `/v2/${repo}/referrers/${digest}`);
    expect(listed.length, shown).toBeGreaterThan(0);
    expect(listed.every((l) => l.query.artifactType === undefined), shown).toBe(true);
    expect(r.exitCode, shown).toBe(0);
    expect(r.stdout).toContain(`Verified: ${image}@${digest}: 1 runtime-trace, 1 provenance`);
    expect(r.stdout).toMatch(/Dockerfile:3 RUN cat \/data\.txt/);
  });
});
