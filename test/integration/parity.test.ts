// Parity with docker build: every testdata/<case>/ built with docker (BuildKit's own
// Dockerfile frontend, the oracle) and with tracebuild must give the same image config and
// the same file tree. And tracebuild's `convert` must give the same bytes twice.
//
// TRACEBUILD_PARITY_SELF_CHECK=1 compares docker with docker (the second build with
// --no-cache) instead: it checks the harness and the cases without tracebuild.
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  diffImages,
  dockerBuild,
  ensureCliBuilt,
  findFile,
  formatDiff,
  inspectImage,
  integrationGate,
  lastLines,
  listCases,
  removeImage,
  tracebuildBuild,
  tracebuildConvert,
  uniqueTag,
  currentDaemon,
  type BuildCase,
  type ExpectedFile,
  type BuildOptions,
  type ImageInfo,
} from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';
import type { Trace } from '../../model/index.js';

const gate = await integrationGate();
const selfCheck = process.env.TRACEBUILD_PARITY_SELF_CHECK === '1';
const otherName = selfCheck ? 'docker-again' : 'tracebuild';
const daemon = currentDaemon();
const allCases = listCases();
for (const c of allCases.filter((k) => k.daemonSkip !== undefined)) console.log(`parity: ${c.name} not built on ${daemon.name}: ${c.daemonSkip}`);
/** The cases of this run's daemon (daemon-skip leaves some out on one daemon). */
const cases = allCases.filter((k) => k.daemonSkip === undefined);

/** Digests of host files that must never appear in an image (symlinks pointing at them). */
const hostSecrets = new Map(
  ['/etc/passwd', '/etc/shadow']
    .filter((p) => existsSync(p) && readFileSync(p).length > 0)
    .map((p) => [createHash('sha256').update(readFileSync(p)).digest('hex'), p] as const),
);

function buildOptions(c: BuildCase, tag: string): BuildOptions {
  return { tag, buildArgs: c.buildArgs, extraArgs: c.extraArgs };
}

function hostFilesIn(image: ImageInfo, base: ImageInfo): string[] {
  const inBase = new Set(base.files.map((f) => f.sha256).filter((s) => s !== undefined));
  return image.files
    .filter((f) => f.sha256 !== undefined && hostSecrets.has(f.sha256) && !inBase.has(f.sha256))
    .map((f) => `${f.path} has the content of the host's ${hostSecrets.get(f.sha256 ?? '')}`);
}

/** What the image lacks or holds differently from the case's expect.json. */
function unmetExpectations(image: ImageInfo, expected: readonly ExpectedFile[]): string[] {
  const problems: string[] = [];
  for (const want of expected) {
    const got = findFile(image, want.path);
    if (got === undefined) {
      problems.push(`${want.path}: missing`);
      continue;
    }
    const wantMode = Number.parseInt(want.mode, 8);
    if (got.type !== want.type) problems.push(`${want.path}: type ${got.type}, expected ${want.type}`);
    if (got.mode !== wantMode) problems.push(`${want.path}: mode ${got.mode.toString(8)}, expected ${want.mode}`);
    if (got.uid !== want.uid || got.gid !== want.gid) {
      problems.push(`${want.path}: owner ${got.uid}:${got.gid}, expected ${want.uid}:${want.gid}`);
    }
    if (want.content !== undefined) {
      const wantSha = createHash('sha256').update(want.content).digest('hex');
      if (got.sha256 !== wantSha) problems.push(`${want.path}: content differs from ${JSON.stringify(want.content)}`);
    }
    if (want.linkname !== undefined && got.linkname !== want.linkname) {
      problems.push(`${want.path}: link to ${got.linkname ?? '(none)'}, expected ${want.linkname}`);
    }
  }
  return problems;
}

describe.skipIf(gate.skip || selfCheck)(`cases BuildKit's own frontend on ${daemon.name} cannot build: tracebuild against expect.json`, () => {
  for (const c of cases.filter((k) => k.dockerSkip !== undefined)) {
    test(c.name, async () => {
      expect(c.expectFiles, `${c.name} has docker-skip, so it needs an expect.json`).toBeDefined();
      await ensureCliBuilt();
      const tag = uniqueTag(c.name, 'tracebuild');
      try {
        const built = await tracebuildBuild(c.context, { ...buildOptions(c, tag), noCache: true });
        expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 40)}`).toBe(0);
        const image = await inspectImage(tag);
        expect(unmetExpectations(image, c.expectFiles ?? []), c.name).toEqual([]);
      } finally {
        await removeImage(tag);
      }
    });
  }
});

describe.skipIf(gate.skip)(`parity: docker build vs ${otherName}`, () => {
  const tags = new Set<string>();
  let base: ImageInfo;

  beforeAll(async () => {
    if (!selfCheck) await ensureCliBuilt();
    base = await inspectImage('busybox:local');
  });

  afterAll(async () => {
    for (const t of tags) await removeImage(t);
  });

  test('there are cases', () => {
    expect(cases.length).toBeGreaterThan(80);
  });

  // Cases docker cannot build are checked against their expect.json above.
  // Cases with a parity-skip file are checked by their own test (the file says which).
  for (const c of cases.filter((k) => k.paritySkip !== undefined)) console.log(`parity: ${c.name} left out: ${c.paritySkip}`);
  for (const c of cases.filter((k) => k.dockerSkip === undefined && k.paritySkip === undefined)) {
    test(c.name, async () => {
      const dockerTag = uniqueTag(c.name, 'docker');
      const otherTag = uniqueTag(c.name, otherName);
      tags.add(dockerTag).add(otherTag);
      try {
        const ref = await dockerBuild(c.context, buildOptions(c, dockerTag));
        expect(ref.exitCode, `${ref.command}\n${lastLines(ref.stderr, 40)}`).toBe(0);
        // --no-cache: the other build must run every step itself, not reuse docker's results.
        const other = selfCheck
          ? await dockerBuild(c.context, { ...buildOptions(c, otherTag), noCache: true })
          : await tracebuildBuild(c.context, { ...buildOptions(c, otherTag), noCache: true });
        expect(other.exitCode, `${other.command}\n${lastLines(other.stdout + other.stderr, 40)}`).toBe(0);

        const [a, b] = await Promise.all([inspectImage(dockerTag), inspectImage(otherTag)]);
        const diffs = diffImages(a, b, { names: ['docker', otherName] });
        expect(diffs, `${c.name}: ${formatDiff(diffs)}`).toEqual([]);

        for (const image of [a, b]) {
          for (const link of c.expectLinks) {
            const f = findFile(image, link.path);
            expect(f ? `${f.type} -> ${f.linkname ?? ''}` : 'absent', `${image.ref}: ${link.path}`).toBe(
              `symlink -> ${link.linkname}`,
            );
          }
          expect(hostFilesIn(image, base), image.ref).toEqual([]);
        }
      } finally {
        await removeImage(dockerTag);
        await removeImage(otherTag);
      }
    });
  }

  describe.skipIf(selfCheck)('convert is deterministic', () => {
    // Every case: convert needs no daemon.
    for (const c of allCases) {
      test(c.name, async () => {
        const options = { buildArgs: c.buildArgs, ...(c.file !== undefined ? { file: c.file } : {}) };
        const first = await tracebuildConvert(c.context, options);
        expect(first.exitCode, `${first.command}\n${lastLines(first.stderr, 20)}`).toBe(0);
        expect(first.stdout.length, `${first.command} printed nothing`).toBeGreaterThan(0);
        const second = await tracebuildConvert(c.context, options);
        expect(second.exitCode, `${second.command}\n${lastLines(second.stderr, 20)}`).toBe(0);
        expect(second.stdout === first.stdout, `${c.name}: two runs of convert differ`).toBe(true);
      });
    }
  });
});

// The trace of a build names the daemon it ran on, as the client learned it when it
// connected (dockerd's GET /version; BuildKit's Control.Info, which v0.8 does not have).
describe.skipIf(gate.skip || selfCheck)(`the trace records the daemon: ${daemon.name}`, () => {
  test('monitor.daemon and monitor.buildkit', async (ctx) => {
    const why = tracingUnavailable();
    if (why !== undefined) ctx.skip(why);
    await ensureCliBuilt();
    const hello = allCases.find((c) => c.name === 'hello');
    expect(hello).toBeDefined();
    const work = mkdtempSync(path.join(tmpdir(), 'tb-parity-trace-'));
    const tag = uniqueTag('hello', 'trace-daemon');
    try {
      const out = path.join(work, 'trace.json');
      const built = await tracebuildBuild(hello?.context ?? '', { tag, extraArgs: ['--trace-out', out] });
      expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 30)}`).toBe(0);
      const monitor = (JSON.parse(readFileSync(out, 'utf8')) as Trace).monitor;
      expect(monitor.daemon).toMatchObject({ engine: 'dockerd', version: expect.stringMatching(daemon.id === 'docker26' ? /^26\./ : /^20\.10\./) });
      expect(monitor.daemon?.apiVersion).toBe(daemon.id === 'docker26' ? '1.45' : '1.41');
      // BuildKit v0.8 has no Control.Info; Docker 26's answers (its Debian build says v0.0.0+unknown).
      if (daemon.id === 'docker20') expect(monitor.buildkit).toEqual({});
      else expect(monitor.buildkit?.version).toMatch(/^v\d+\.\d+\.\d+/);
    } finally {
      await removeImage(tag);
      rmSync(work, { recursive: true, force: true });
    }
  });
});
