// `tracebuild build` traces by default, against the real daemon and the real probe: the
// table, cached steps, --no-trace, --trace-out of a failed build, the one-line error when the
// tracer cannot run, and secrets that never reach a trace.
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import {
  dockerCli,
  ensureCliBuilt,
  imageExists,
  integrationGate,
  lastLines,
  removeImage,
  repoRoot,
  run,
  testdataDir,
  tracebuildBuild,
  tracebuildCli,
  uniqueTag,
} from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();

describe.skipIf(gate.skip || noTracing !== undefined)('tracebuild build: the trace (real probe)', () => {
  let work: string;
  const tags: string[] = [];
  const tagFor = (what: string): string => {
    const t = uniqueTag(`trace-cli-${what}`, 'tracebuild');
    tags.push(t);
    return t;
  };
  const shown = (r: { command: string; stdout: string; stderr: string }): string => `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
  const readTrace = (file: string): Trace => JSON.parse(readFileSync(file, 'utf8')) as Trace;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-trace-cli-'));
  });

  afterAll(async () => {
    for (const t of tags) await removeImage(t);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a build is traced by default; built again, its cached steps are shown as cached', async () => {
    // testdata/hello on a base image of its own: BuildKit shares a vertex between
    // concurrent builds, and one --no-cache build of busybox:local elsewhere on the daemon
    // (a benchmark) would make every step of this one run again.
    const base = tagFor('base');
    const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
    expect(tagged.exitCode, shown(tagged)).toBe(0);
    const hello = path.join(work, 'hello');
    cpSync(path.join(testdataDir, 'hello'), hello, { recursive: true });
    const dockerfile = path.join(hello, 'Dockerfile');
    writeFileSync(dockerfile, readFileSync(dockerfile, 'utf8').replace(/^FROM busybox:local$/m, `FROM ${base}`));
    const out = path.join(work, 'hello.json');
    const first = await tracebuildBuild(hello, { tag: tagFor('hello'), noCache: true, extraArgs: ['--trace-out', out] });
    expect(first.exitCode, shown(first)).toBe(0);
    expect(first.stderr).toMatch(/STEP\s+PROCS\s+NEW\s+MOD\s+DEL\s+NET\s+CPU\s+MEM\s+WALL/);
    expect(first.stderr).toMatch(/Dockerfile:6 RUN cat greeting\.txt.*\s+3\s+1\s+0\s+0\s+0\s/);
    expect(first.stderr).toContain(`Trace written to ${out}`);
    const trace = readTrace(out);
    expect(trace.lostEvents).toBe(0);
    const runStep = trace.buildSteps.find((s) => s.keyword === 'RUN');
    expect(runStep).toMatchObject({ cached: false, status: 'done', files: { created: ['/app/out.txt'] } });
    expect(runStep?.processes.map((p) => p.argv[0])).toEqual(['/bin/sh', 'cat', '/bin/sh']);

    const again = await tracebuildBuild(hello, { tag: tagFor('hello'), extraArgs: ['--trace-out', out] });
    expect(again.exitCode, shown(again)).toBe(0);
    expect(again.stderr).toMatch(/Dockerfile:6 RUN cat greeting\.txt.*\s+cached\n/);
    const cached = readTrace(out).buildSteps.filter((s) => s.keyword !== 'FROM');
    expect(cached.map((s) => [s.keyword, s.status, s.cached, s.processes.length, s.resources])).toEqual([
      ['WORKDIR', 'cached', true, 0, null],
      ['COPY', 'cached', true, 0, null],
      ['RUN', 'cached', true, 0, null],
    ]);
  });

  test('--no-trace builds without the probe and prints no table', async () => {
    const r = await tracebuildBuild(path.join(testdataDir, 'hello'), { tag: tagFor('no-trace'), noCache: true, extraArgs: ['--no-trace'] });
    expect(r.exitCode, shown(r)).toBe(0);
    expect(r.stderr).not.toContain('STEP ');
    expect(r.stderr).not.toContain('lost events');
  });

  test('a failed build still writes its trace, and says so before the error', async () => {
    const dir = path.join(work, 'failing');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:local\nRUN echo before > /tmp/evidence && exit 7\n');
    const out = path.join(work, 'failed.json');
    const tag = tagFor('failing');
    const r = await tracebuildBuild(dir, { tag, noCache: true, extraArgs: ['--trace-out', out] });
    expect(r.exitCode, shown(r)).toBe(1);
    expect(r.stderr).toContain('Trace of the failed build:');
    expect(r.stderr).toContain(`Trace of the failed build written to ${out}`);
    expect(r.stderr.trimEnd().split('\n').pop()).toMatch(/^Dockerfile:2: .*exit code: 7/);
    const step = readTrace(out).buildSteps.find((s) => s.keyword === 'RUN');
    expect(step).toMatchObject({ status: 'failed', files: { created: ['/tmp/evidence'] } });
    expect(step?.processes[0]).toMatchObject({ argv: ['/bin/sh', '-c', 'echo before > /tmp/evidence && exit 7'], exitCode: 7 });
    expect(await imageExists(tag)).toBe(false);
  });

  test.each([
    ['the probe is not built', 'missing', /the eBPF probe is not built .*--no-trace$/],
    ['the loader is not permitted to load BPF (not root)', 'exit 3', /the eBPF tracer needs root.*--no-trace$/],
    ['BPF is unavailable', 'exit 4', /eBPF tracing is unavailable on this machine.*--no-trace$/],
  ])('says in one line when %s, and builds nothing (exit 1)', async (_what, kind, message) => {
    let loader = path.join(work, `no-such-loader-${randomBytes(3).toString('hex')}`);
    if (kind !== 'missing') {
      loader = path.join(work, `fake-loader-${kind.replace(' ', '-')}`);
      writeFileSync(loader, `#!/bin/sh\necho "fake loader: ${kind}" >&2\n${kind}\n`);
      chmodSync(loader, 0o755);
    }
    const tag = tagFor(`unavailable-${kind}`);
    const r = await run(
      process.execPath,
      [tracebuildCli, 'build', '-t', tag, '--no-cache', '--network', 'host', '--progress', 'plain', path.join(testdataDir, 'hello')],
      { cwd: repoRoot, env: { TRACEBUILD_PROBE: loader }, timeoutMs: 120_000 },
    );
    expect(r.exitCode, shown(r)).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines.pop()).toMatch(message);
    expect(r.stderr).not.toContain('#1 ');
    expect(await imageExists(tag)).toBe(false);
  });

  test('traced builds running at once keep every digest, ten times over: one probe stops an exec, the others take its hashes', async () => {
    // Every running probe traces every build's containers. A #! script is stopped at each
    // exec (its content has no identity the kernel could cache) and this one exits at once:
    // when two probes both stopped it, the first loader's SIGCONT let it exit before the
    // other loader had opened it, and that build's trace lost the digest. Three builds at
    // once, ten rounds: not one digest may be missing.
    const script = '#!/bin/sh\nexit 0\n';
    const scriptSha = createHash('sha256').update(script).digest('hex');
    const runs = 12;
    const rounds = 10;
    // --no-cache builds of a base of their own, so that builds elsewhere on busybox:local keep their cache
    const base = tagFor('concurrent-base');
    const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
    expect(tagged.exitCode, shown(tagged)).toBe(0);
    for (let round = 1; round <= rounds; round++) {
      const builds = [0, 1, 2].map((k) => {
        const dir = path.join(work, `concurrent-${round}-${k}`);
        mkdirSync(dir);
        const loop = Array.from({ length: runs }, (_, i) => i + 1).join(' ');
        writeFileSync(
          path.join(dir, 'Dockerfile'),
          `FROM ${base}\nRUN : ${round}; printf '${script.replace(/\n/g, '\\n')}' > /quick-${k} && chmod +x /quick-${k} && for i in ${loop}; do /quick-${k}; done\n`,
        );
        return { dir, out: path.join(work, `concurrent-${round}-${k}.json`), tag: tagFor(`concurrent-${round}-${k}`) };
      });
      const results = await Promise.all(builds.map((b) => tracebuildBuild(b.dir, { tag: b.tag, noCache: true, extraArgs: ['--trace-out', b.out] })));
      builds.forEach((b, k) => {
        const r = results[k] as (typeof results)[number];
        expect(r.exitCode, shown(r)).toBe(0);
        const trace = readTrace(b.out);
        expect({ round, build: k, lostEvents: trace.lostEvents, losses: trace.losses }).toMatchObject({ round, build: k, lostEvents: 0 });
        const step = trace.buildSteps.find((s) => s.keyword === 'RUN');
        const scripts = step?.processes.filter((p) => p.script !== undefined) ?? [];
        expect(scripts.map((p) => p.script?.path)).toEqual(Array.from({ length: runs }, () => `/quick-${k}`));
        for (const p of scripts) expect({ round, build: k, script: p.script?.sha256 }).toEqual({ round, build: k, script: scriptSha });
        for (const p of step?.processes.filter((x) => x.execed) ?? []) {
          expect({ round, build: k, argv: p.argv, exeSha256: p.exeSha256 }).toEqual({ round, build: k, argv: p.argv, exeSha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
        }
      });
      for (const b of builds) await removeImage(b.tag);
    }
  }, 1_200_000);

  test('a secret never appears in the trace, not even when a command line carried it', async () => {
    const secret = `tb-secret-${randomBytes(12).toString('hex')}`;
    const dir = path.join(work, 'secret');
    mkdirSync(dir);
    writeFileSync(path.join(work, 'secret.txt'), `${secret}\n`);
    writeFileSync(
      path.join(dir, 'Dockerfile'),
      [
        'FROM busybox:local',
        // reads the secret (the build log shows it masked, the trace never sees it) and copies it
        'RUN --mount=type=secret,id=tbsecret cat /run/secrets/tbsecret && cp /run/secrets/tbsecret /tmp/copy && rm /tmp/copy',
        // puts the secret on a command line at run time: the trace must redact it
        'RUN --mount=type=secret,id=tbsecret /bin/echo "$(cat /run/secrets/tbsecret)" > /tmp/echoed',
        '',
      ].join('\n'),
    );
    const out = path.join(work, 'secret.json');
    const r = await tracebuildBuild(dir, {
      tag: tagFor('secret'),
      noCache: true,
      extraArgs: ['--secret', `id=tbsecret,src=${path.join(work, 'secret.txt')}`, '--trace-out', out],
    });
    expect(r.exitCode, shown(r)).toBe(0);
    expect(existsSync(out)).toBe(true);
    const text = readFileSync(out, 'utf8');
    expect(text.includes(secret), 'the secret value is in the trace JSON').toBe(false);
    expect(text.includes(secret.slice(10)), 'part of the secret value is in the trace JSON').toBe(false);
    const table = r.stderr.slice(r.stderr.indexOf('STEP '));
    expect(table.includes(secret)).toBe(false);

    const trace = JSON.parse(text) as Trace;
    const [reads, echoes] = trace.buildSteps.filter((s) => s.keyword === 'RUN');
    // the steps were traced: the commands ran and are recorded
    expect(reads?.processes.map((p) => p.argv)).toContainEqual(['cat', '/run/secrets/tbsecret']);
    expect(reads?.files.created).toEqual(['/tmp/copy']);
    expect(reads?.files.deleted).toEqual(['/tmp/copy']);
    expect(echoes?.processes.map((p) => p.argv)).toContainEqual(['/bin/echo', '[secret tbsecret]']);
    expect(echoes?.warnings.join('\n')).toContain('values of secret(s) tbsecret appeared');
  });
});
