// Two builds of the same Dockerfile at the same time, on two different contexts, must each
// get their own context: in the image, and in the trace's record of what was served.
//
// Before the context source named its session, both builds emitted a byte-identical
// `local://context` op; BuildKit merged the two builds' vertices into one job and took the
// files from whichever session answered, so both images got the same /tag.txt.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import { currentDaemon, dockerCli, ensureCliBuilt, integrationGate, lastLines, run, tracebuildCli, uniqueTag } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const ROUNDS = 5;

const DOCKERFILE = `FROM busybox:local
COPY tag.txt /tag.txt
RUN cat /tag.txt > /copy.txt
`;

const daemon = currentDaemon();

describe.skipIf(gate.skip || noTracing !== undefined)(`concurrent builds on ${daemon.name}`, () => {
  let work: string;
  const tags: string[] = [];
  const docker = (...args: string[]) => run(dockerCli, ['-H', daemon.dockerHost, ...args], { timeoutMs: 60_000 });

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-concurrent-'));
  });

  afterAll(async () => {
    for (const t of tags) await docker('rmi', '--force', t);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  /** A context with a tag.txt of its own; returns its dir and the tag's content. */
  const makeContext = (name: string): { dir: string; tag: string } => {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    const tag = `${name} ${randomBytes(8).toString('hex')}\n`;
    writeFileSync(path.join(dir, 'Dockerfile'), DOCKERFILE);
    writeFileSync(path.join(dir, 'tag.txt'), tag);
    return { dir, tag };
  };

  const build = (dir: string, tag: string, traceOut: string) =>
    run(
      process.execPath,
      [tracebuildCli, 'build', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', tag, '--trace-out', traceOut, dir],
      { env: { DOCKER_HOST: daemon.dockerHost }, timeoutMs: 240_000 },
    );

  test(`${ROUNDS} rounds of two --no-cache builds at once: each image and each trace has its own context`, async () => {
    for (let round = 1; round <= ROUNDS; round++) {
      const a = makeContext(`r${round}-a`);
      const b = makeContext(`r${round}-b`);
      const tagA = uniqueTag(`concurrent-${round}-a`, daemon.name);
      const tagB = uniqueTag(`concurrent-${round}-b`, daemon.name);
      tags.push(tagA, tagB);
      const outA = path.join(work, `r${round}-a.json`);
      const outB = path.join(work, `r${round}-b.json`);
      const [ra, rb] = await Promise.all([build(a.dir, tagA, outA), build(b.dir, tagB, outB)]);
      expect(ra.exitCode, `${ra.command}\n${lastLines(ra.stderr, 30)}`).toBe(0);
      expect(rb.exitCode, `${rb.command}\n${lastLines(rb.stderr, 30)}`).toBe(0);

      for (const [ctx, tag, out] of [
        [a, tagA, outA],
        [b, tagB, outB],
      ] as const) {
        const shown = await docker('run', '--rm', '--network', 'none', tag, 'cat', '/tag.txt', '/copy.txt');
        expect(shown.exitCode, shown.stderr).toBe(0);
        expect(shown.stdout, `round ${round}: ${tag} has another build's context`).toBe(ctx.tag + ctx.tag);

        // The trace's COPY record is what this build's own session served.
        const trace = JSON.parse(readFileSync(out, 'utf8')) as Trace;
        const copy = trace.buildSteps.find((s) => s.keyword === 'COPY');
        expect(copy?.cached).toBe(false);
        expect(copy?.copy?.sources).toEqual([
          { path: 'tag.txt', size: Buffer.byteLength(ctx.tag), sha256: createHash('sha256').update(ctx.tag).digest('hex') },
        ]);
      }
    }
  });
});
