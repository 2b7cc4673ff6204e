// --cache-from / --cache-to against the real daemon and the registry at 127.0.0.1:5000:
// a build exports its cache (inline: the only cache export dockerd's own worker has) and is
// pushed; the daemon's build cache is pruned and the local image removed; the rebuild with
// --cache-from takes its RUN steps from the registry: they come out cached, the trace says
// so and records nothing for them (they did not run). A control build without --cache-from
// after another prune runs them again, so the cache came from the registry. What the
// daemon cannot do (a registry cache export on dockerd) is refused, naming the daemon.
//
// The build is FROM a base image tag of its own (busybox:local re-tagged): BuildKit's solver
// merges a vertex into the same vertex of a concurrent build, and when that build runs with
// --no-cache (BuildKit v0.13 solver/jobs.go: "if same vertex is already loaded without cache
// just use that") the steps that build on it find no cache at all, neither the daemon's nor
// an imported one. Observed on Docker 26 with buildx's own frontend as well; with FROM
// busybox:local this test failed whenever a --no-cache build of busybox:local ran alongside.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

describe.skipIf(gate.skip || noTracing !== undefined)('remote cache (--cache-from, --cache-to)', () => {
  let work = '';
  const image = `${REGISTRY}/tracebuild-test/cache:${currentDaemon().id}-${runId}`;
  // a base of this test's own, so no concurrent --no-cache build shares its FROM (above)
  const base = uniqueTag('cache-base', currentDaemon().id);

  beforeAll(async () => {
    await ensureCliBuilt();
    const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
    expect(tagged.exitCode, tagged.stderr).toBe(0);
    work = mkdtempSync(path.join(tmpdir(), 'tb-cache-'));
    writeFiles(work, {
      // the run id makes the steps' cache keys this test's own
      'ctx/Dockerfile': [
        `FROM ${base}`,
        `RUN echo ${runId} > /first && sleep 1`,
        'RUN cat /first > /second && ls / > /dev/null',
        '',
      ].join('\n'),
    });
  });

  afterAll(async () => {
    await removeImage(image);
    await removeImage(base);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  const build = (args: string[], trace: string) =>
    tracebuild(['build', '--network', 'host', '--progress', 'plain', '--trace-out', trace, ...args, 'ctx'], { cwd: work });

  test('inline cache pushed with the image; after a prune the rebuild takes the RUN steps from the registry, cached and with no evidence', async () => {
    const first = await build(['-t', image, '--cache-to', 'type=inline', '--push'], 'first.json');
    expect(first.exitCode, `${first.command}\n${lastLines(first.stderr, 30)}`).toBe(0);
    const ran = JSON.parse(readFileSync(path.join(work, 'first.json'), 'utf8')) as Trace;
    expect(runSteps(ran).map((s) => s.cached)).toEqual([false, false]);

    await removeImage(image);
    await pruneBuildCache();
    const cached = await build(['--cache-from', image], 'cached.json');
    expect(cached.exitCode, `${cached.command}\n${lastLines(cached.stderr, 30)}`).toBe(0);
    const trace = JSON.parse(readFileSync(path.join(work, 'cached.json'), 'utf8')) as Trace;
    const steps = runSteps(trace);
    expect(steps).toHaveLength(2);
    for (const s of steps) {
      expect(s.cached, s.instruction).toBe(true);
      expect(s.status).toBe('cached');
      // it did not run: nothing is recorded as if it had
      expect(s.processes).toEqual([]);
      expect(s.files.created).toEqual([]);
      expect(s.files.modified).toEqual([]);
      expect(s.files.deleted).toEqual([]);
      expect(s.network).toEqual([]);
      expect(s.resources).toBeNull();
      expect(s.cgroup).toBeNull();
    }
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

  test('the flags buildx refuses, refused the same way; a local cache is not served yet, and says so', async () => {
    const noRef = await build(['--cache-to', 'type=registry'], 'x.json');
    expect(noRef.exitCode).toBe(2);
    expect(noRef.stderr).toContain('registry cache exporter requires ref');
    const local = await build(['--cache-from', 'type=local,src=cache-dir'], 'x.json');
    expect(local.exitCode).toBe(1);
    expect(local.stderr).toContain('--cache-from type=local: not supported by tracebuild yet');
  });
});
