// --cache-from / --cache-to against the real daemon and the registry at 127.0.0.1:5000:
// a build exports its cache (inline: the only cache export dockerd's own worker has) and is
// pushed; the daemon's build cache is pruned and the local image removed; the rebuild with
// --cache-from takes its RUN steps from the registry: they come out cached, the trace says
// so and records nothing for them (they did not run). A control build without --cache-from
// after another prune runs them again, so the cache came from the registry. What the
// daemon cannot do (a registry or local cache export on dockerd) is refused, naming the
// daemon.
//
// A local cache (--cache-from type=local,src=DIR) is made as a user of dockerd would make
// one, since dockerd cannot export it: the image with its inline cache is pushed and copied
// into an OCI layout with `oras copy --to-oci-layout`. The session serves that layout to the
// daemon; buildx on the same daemon, given the same layout, is the oracle (CACHED too).
//
// The build is FROM a base image tag of its own (busybox:local re-tagged): BuildKit's solver
// merges a vertex into the same vertex of a concurrent build, and when that build runs with
// --no-cache (BuildKit v0.13 solver/jobs.go: "if same vertex is already loaded without cache
// just use that") the steps that build on it find no cache at all, neither the daemon's nor
// an imported one. Observed on Docker 26 with buildx's own frontend as well; with FROM
// busybox:local this test failed whenever a --no-cache build of busybox:local ran alongside.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, dockerCli } from '../helpers/daemons.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, uniqueTag } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const REGISTRY = '127.0.0.1:5000';

async function pruneBuildCache(): Promise<void> {
  const r = await run(dockerCli, ['builder', 'prune', '-af']);
  expect(r.exitCode, r.stderr).toBe(0);
}

function runSteps(trace: Trace): Trace['buildSteps'] {
  return trace.buildSteps.filter((s) => s.keyword.toUpperCase() === 'RUN');
}

/** Steps that came from a cache: marked so, and nothing recorded as if they had run here. */
function expectCachedWithoutEvidence(steps: Trace['buildSteps']): void {
  expect(steps).toHaveLength(2);
  for (const s of steps) {
    expect(s.cached, s.instruction).toBe(true);
    expect(s.status).toBe('cached');
    expect(s.processes).toEqual([]);
    expect(s.files.created).toEqual([]);
    expect(s.files.modified).toEqual([]);
    expect(s.files.deleted).toEqual([]);
    expect(s.network).toEqual([]);
    expect(s.resources).toBeNull();
    expect(s.cgroup).toBeNull();
  }
}

/** A Dockerfile whose RUN steps have cache keys of their own (`salt`). */
function dockerfile(base: string, salt: string): string {
  return [`FROM ${base}`, `RUN echo ${salt} > /first && sleep 1`, 'RUN cat /first > /second && ls / > /dev/null', ''].join('\n');
}

describe.skipIf(gate.skip || noTracing !== undefined)('remote cache (--cache-from, --cache-to)', () => {
  let work = '';
  const image = `${REGISTRY}/tracebuild-test/cache:${currentDaemon().id}-${runId}`;
  // a base of this test's own, so no concurrent --no-cache build shares its FROM (above)
  const base = uniqueTag('cache-base', currentDaemon().id);
  const localImage = `${REGISTRY}/tracebuild-test/cache:local-${currentDaemon().id}-${runId}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    work = mkdtempSync(path.join(tmpdir(), 'tb-cache-'));
    writeFiles(work, {
      // the run id makes the steps' cache keys this test's own
      'ctx/Dockerfile': dockerfile(base, runId),
      'local/Dockerfile': dockerfile(base, `local-${runId}`),
      'unreadable/Dockerfile': dockerfile(base, `unreadable-${runId}`),
    });
  });

  afterAll(async () => {
    await removeImage(image);
    await removeImage(localImage);
    await removeImage(base);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (args: string[], trace: string, context = 'ctx') =>
    tracebuild(['build', '--network', 'host', '--progress', 'plain', '--trace-out', trace, ...args, context], { cwd: work });
  const readTrace = (file: string) => JSON.parse(readFileSync(path.join(work, file), 'utf8')) as Trace;

  test('inline cache pushed with the image; after a prune the rebuild takes the RUN steps from the registry, cached and with no evidence', async () => {
    const first = await build(['-t', image, '--cache-to', 'type=inline', '--push'], 'first.json');
    expect(first.exitCode, `${first.command}\n${lastLines(first.stderr, 30)}`).toBe(0);
    const ran = JSON.parse(readFileSync(path.join(work, 'first.json'), 'utf8')) as Trace;
    expect(runSteps(ran).map((s) => s.cached)).toEqual([false, false]);

    await removeImage(image);
    await pruneBuildCache();
    const cached = await build(['--cache-from', image], 'cached.json');
    expect(cached.exitCode, `${cached.command}\n${lastLines(cached.stderr, 30)}`).toBe(0);
    expectCachedWithoutEvidence(runSteps(readTrace('cached.json')));
    // the progress says so too
    expect(cached.stderr).toContain('CACHED');

    // control: without --cache-from, after another prune, the steps run again
    await pruneBuildCache();
    const control = await build([], 'control.json');
    expect(control.exitCode, `${control.command}\n${lastLines(control.stderr, 30)}`).toBe(0);
    const again = JSON.parse(readFileSync(path.join(work, 'control.json'), 'utf8')) as Trace;
    expect(runSteps(again).map((s) => s.cached)).toEqual([false, false]);
    expect(runSteps(again)[0]!.processes.length).toBeGreaterThan(0);
  });

  test("a registry cache export is refused on dockerd's own worker, naming the daemon, before anything is built", async () => {
    const r = await build(['--cache-to', `type=registry,ref=${REGISTRY}/tracebuild-test/cache:never-${runId},mode=max`], 'refused.json');
    expect(r.exitCode, r.stderr).toBe(1);
    expect(r.stderr).toMatch(/--cache-to type=registry: dockerd \S+'s BuildKit .*has no registry cache exporter \(dockerd's own BuildKit worker exports cache only inline/);
    const head = await fetch(`http://${REGISTRY}/v2/tracebuild-test/cache/manifests/never-${runId}`, { method: 'HEAD' });
    expect(head.status).toBe(404);
  });

  test('a local cache (the pushed image copied into an OCI layout by oras): after a prune the rebuild takes the RUN steps from it, cached and with no evidence; buildx agrees', async () => {
    const first = await build(['-t', localImage, '--cache-to', 'type=inline', '--push'], 'local-first.json', 'local');
    expect(first.exitCode, `${first.command}\n${lastLines(first.stderr, 30)}`).toBe(0);
    expect(runSteps(readTrace('local-first.json')).map((s) => s.cached)).toEqual([false, false]);
    const copied = await run('oras', ['copy', '--from-plain-http', '--to-oci-layout', localImage, `${path.join(work, 'layout')}:latest`]);
    expect(copied.exitCode, copied.stderr).toBe(0);

    await removeImage(localImage);
    await pruneBuildCache();
    const cached = await build(['--cache-from', 'type=local,src=layout'], 'local-cached.json', 'local');
    expect(cached.exitCode, `${cached.command}\n${lastLines(cached.stderr, 30)}`).toBe(0);
    expectCachedWithoutEvidence(runSteps(readTrace('local-cached.json')));
    // the daemon read the layout through the session, and the progress says the steps were cached
    expect(cached.stderr).toMatch(/importing cache manifest from local:/);
    expect(cached.stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(2);

    // the oracle: buildx, on the same daemon after another prune, reads the same layout alike
    await pruneBuildCache();
    const oracle = await run(dockerCli, ['buildx', 'build', '--network', 'host', '--progress', 'plain', '--cache-from', `type=local,src=${path.join(work, 'layout')}`, 'local'], { cwd: work });
    expect(oracle.exitCode, oracle.stderr).toBe(0);
    expect(oracle.stderr.match(/^#\d+ CACHED$/gm)).toHaveLength(2);

    // control: without the layout, after another prune, the steps run again
    await pruneBuildCache();
    const control = await build([], 'local-control.json', 'local');
    expect(control.exitCode, `${control.command}\n${lastLines(control.stderr, 30)}`).toBe(0);
    expect(runSteps(readTrace('local-control.json')).map((s) => s.cached)).toEqual([false, false]);
  });

  test('a local cache that cannot be read: a wrong directory or index.json is a usage error before the build; a blob missing from the layout is the daemon\'s import error, and the steps run', async () => {
    mkdirSync(path.join(work, 'corrupt'));
    writeFileSync(path.join(work, 'corrupt', 'index.json'), '{"schemaVersion": 2, "manifests": [');
    const corrupt = await build(['--cache-from', 'type=local,src=corrupt'], 'x.json', 'unreadable');
    expect(corrupt.exitCode, corrupt.stderr).toBe(2);
    expect(corrupt.stderr).toMatch(/--cache-from type=local,src=corrupt: OCI layout \S*corrupt: index\.json is not JSON/);
    const nowhere = await build(['--cache-from', 'type=local,src=nowhere'], 'x.json', 'unreadable');
    expect(nowhere.exitCode, nowhere.stderr).toBe(2);
    expect(nowhere.stderr).toContain(`--cache-from type=local,src=nowhere: ${path.join(work, 'nowhere')} does not exist`);

    // a layout whose image manifest names a config blob (and a layer) that are not there
    const layout = path.join(work, 'missing-blob');
    mkdirSync(path.join(layout, 'blobs', 'sha256'), { recursive: true });
    const absent = (what: string) => `sha256:${createHash('sha256').update(`${what} not in the layout ${runId}`).digest('hex')}`;
    const missing = absent('config');
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: missing, size: 2 },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: absent('layer'), size: 2 }],
      }),
    );
    const manifestHex = createHash('sha256').update(manifest).digest('hex');
    writeFileSync(path.join(layout, 'blobs', 'sha256', manifestHex), manifest);
    writeFileSync(path.join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${manifestHex}`, size: manifest.length, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
    // BuildKit (and so buildx) reports a cache import it cannot read and builds without it
    const r = await build(['--cache-from', 'type=local,src=missing-blob'], 'missing.json', 'unreadable');
    expect(r.exitCode, `${r.command}\n${lastLines(r.stderr, 30)}`).toBe(0);
    expect(r.stderr).toContain(`content digest ${missing}: not found in the OCI layout`);
    const steps = runSteps(readTrace('missing.json'));
    expect(steps.map((s) => s.cached)).toEqual([false, false]);
    expect(steps[0]!.processes.length).toBeGreaterThan(0);
  });

  test('the flags buildx refuses, refused the same way; a local cache export is refused before the build, naming the daemon, and writes nothing', async () => {
    const noRef = await build(['--cache-to', 'type=registry'], 'x.json');
    expect(noRef.exitCode).toBe(2);
    expect(noRef.stderr).toContain('registry cache exporter requires ref');
    const noSrc = await build(['--cache-from', 'type=local'], 'x.json');
    expect(noSrc.exitCode).toBe(2);
    expect(noSrc.stderr).toContain('local cache importer requires src');
    const local = await build(['--cache-to', 'type=local,dest=cache-out'], 'x.json');
    expect(local.exitCode, local.stderr).toBe(1);
    expect(local.stderr).toMatch(/--cache-to type=local: dockerd \S+'s BuildKit .*has no local cache exporter/);
    expect(local.stderr).not.toMatch(/^#\d+ \[/m);
    expect(existsSync(path.join(work, 'cache-out'))).toBe(false);
  });
});
