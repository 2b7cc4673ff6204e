// Failing builds: every testdata/errors/<case>/ run through tracebuild must exit with the
// expected code, say what is expected, and leave no image under the tag it was given.
//
// TRACEBUILD_ERRORS_WITH_DOCKER=1 runs docker build on the cases instead and checks only
// that it fails and tags nothing: it confirms the cases fail for the oracle too.
import { beforeAll, describe, expect, test } from 'vitest';
import {
  dockerBuild,
  ensureCliBuilt,
  imageExists,
  integrationGate,
  lastLines,
  listErrorCases,
  missingSubstrings,
  removeImage,
  tracebuildBuild,
  uniqueTag,
} from '../helpers/index.js';

const gate = await integrationGate();
const withDocker = process.env.TRACEBUILD_ERRORS_WITH_DOCKER === '1';
const cases = listErrorCases();

describe.skipIf(gate.skip)(`failing builds (${withDocker ? 'docker build' : 'tracebuild'})`, () => {
  beforeAll(async () => {
    if (!withDocker) await ensureCliBuilt();
  });

  test('there are cases', () => {
    expect(cases.length).toBeGreaterThan(5);
  });

  for (const c of cases) {
    test(c.name, async () => {
      const tag = uniqueTag(c.name, withDocker ? 'docker-error' : 'error');
      await removeImage(tag);
      try {
        const options = { tag, buildArgs: c.buildArgs, extraArgs: c.extraArgs, timeoutMs: 120_000 };
        const r = withDocker ? await dockerBuild(c.context, options) : await tracebuildBuild(c.context, options);
        const output = `${r.stdout}\n${r.stderr}`;
        const shown = `${r.command}\n--- output (last lines) ---\n${lastLines(output, 30)}`;
        if (withDocker) {
          expect(r.exitCode, shown).not.toBe(0);
        } else {
          expect(r.exitCode, shown).toBe(c.expectedExit);
          expect(missingSubstrings(output, c.expectedError), `expected in the output:\n${shown}`).toEqual([]);
        }
        expect(await imageExists(tag), `a failed build tagged ${tag}`).toBe(false);
      } finally {
        await removeImage(tag);
      }
    });
  }
});
