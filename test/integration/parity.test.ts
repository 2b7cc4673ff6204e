// Parity with docker build: every testdata/<case>/ built with docker (BuildKit's own
// Dockerfile frontend, the oracle) and with tracebuild must give the same image config and
// the same file tree. And tracebuild's `convert` must give the same bytes twice.
//
// TRACEBUILD_PARITY_SELF_CHECK=1 compares docker with docker (the second build with
// --no-cache) instead: it checks the harness and the cases without tracebuild.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
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
  type BuildCase,
  type BuildOptions,
  type ImageInfo,
} from '../helpers/index.js';

const gate = await integrationGate();
const selfCheck = process.env.TRACEBUILD_PARITY_SELF_CHECK === '1';
const otherName = selfCheck ? 'docker-again' : 'tracebuild';
const cases = listCases();

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
    expect(cases.length).toBeGreaterThan(10);
  });

  for (const c of cases) {
    test(c.name, async (ctx) => {
      if (c.dockerSkip !== undefined) ctx.skip(`docker 20.10 cannot build it: ${c.dockerSkip}`);
      if (c.paritySkip !== undefined) ctx.skip(`parity-skip: ${c.paritySkip}`);
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
    for (const c of cases) {
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
