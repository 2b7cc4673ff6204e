// --annotation on the real daemons. dockerd's own BuildKit worker stores the image with its
// moby exporter and dockerd pushes a Docker schema 2 manifest: there is nowhere for an
// annotation to go. On Docker 26, buildx 0.13 (docker driver) is run first to show what it
// does there: the build and push succeed and the annotation is silently absent from the
// registry's manifest. tracebuild refuses before anything is built, naming the daemon, on
// both daemons, from --annotation and from an -o annotation attribute; nothing is pushed.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { fetchManifest, tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, dockerCli } from '../helpers/daemons.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId } from '../helpers/index.js';

const gate = await integrationGate();
const REGISTRY = '127.0.0.1:5000';

describe.skipIf(gate.skip)('--annotation', () => {
  let work = '';
  const repo = `tracebuild-test/annotations-${currentDaemon().id}`;
  const ref = (tag: string): string => `${REGISTRY}/${repo}:${tag}-${runId}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-annotations-'));
    writeFiles(path.join(work, 'ctx'), { Dockerfile: `FROM busybox:local\nLABEL run=${runId}\n` });
  });

  afterAll(async () => {
    for (const t of ['buildx', 'flag', 'attr']) await removeImage(ref(t));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test.runIf(currentDaemon().id === 'docker26')('buildx 0.13 on the docker driver pushes the image without the annotation', async () => {
    const r = await run(dockerCli, ['buildx', 'build', '--annotation', 'manifest:com.example.note=kept?', '-t', ref('buildx'), '--push', path.join(work, 'ctx')]);
    expect(r.exitCode, lastLines(r.stderr, 20)).toBe(0);
    const manifest = await fetchManifest(REGISTRY, repo, `buildx-${runId}`);
    expect(manifest?.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    expect(manifest?.json.annotations).toBeUndefined();
  });

  test('tracebuild refuses --annotation on dockerd, naming it, and pushes nothing', async () => {
    const r = await tracebuild(['build', '--no-trace', '--progress', 'plain', '--annotation', 'manifest:com.example.note=kept?', '-t', ref('flag'), '--push', path.join(work, 'ctx')]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/--annotation: dockerd \S+'s BuildKit\b.* cannot carry annotations/);
    expect(await fetchManifest(REGISTRY, repo, `flag-${runId}`)).toBeUndefined();
  });

  test('and an annotation attribute of -o type=registry', async () => {
    const r = await tracebuild(['build', '--no-trace', '--progress', 'plain', '-o', `type=registry,name=${ref('attr')},annotation-index.com.example.note=x`, path.join(work, 'ctx')]);
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/-o type=image with annotation attributes: dockerd \S+'s BuildKit\b.* cannot carry annotations/);
    expect(await fetchManifest(REGISTRY, repo, `attr-${runId}`)).toBeUndefined();
  });

  test('a malformed --annotation is a usage error', async () => {
    const r = await tracebuild(['build', '--no-trace', '--annotation', 'layer:k=v', path.join(work, 'ctx')]);
    expect(r.exitCode, r.stderr).toBe(2);
    expect(r.stderr).toContain('unknown type layer');
  });
});
