// The real-world corpus (testdata/corpus, see its README) through the whole frontend:
// every Dockerfile of dockerfiles/ must convert to LLB for dockerd 26's BuildKit (v0.13)
// capabilities (no resolver: base image configs unknown, as `tracebuild convert` runs),
// with its `build-args` file when it has one;
// every file of dockerfiles-negative/ and dockerfiles-parse-only/ must fail with an error
// located as `Dockerfile:LINE:`. Exceptions are listed below with the reason.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../dockerfile-parser/index.js';
import { convertDockerfile } from './index.js';
import { ON_V0_13, ON_V0_8 } from '../../test/helpers/convert.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../../testdata/corpus');

/**
 * Positive corpus files that must fail, each with the reason and the text the error must
 * contain: only the parser fixtures BuildKit's own frontend refuses too.
 */
const EXPECTED_FAILURES: Record<string, { reason: string; error: string }> = {
  // BuildKit's parser test inputs: its parser accepts them, but its converter expands ENV
  // and ADD words and fails exactly like this (docker build rejects these files too).
  'moby__buildkit__frontend__dockerfile__parser__testfiles__env__Dockerfile/Dockerfile': {
    reason: "ENV name='a\\'b' has an unterminated single quote once expanded; docker build fails the same way",
    error: 'Dockerfile:12: unexpected end of statement while looking for matching single-quote',
  },
  'moby__buildkit__frontend__dockerfile__parser__testfiles__escapes__Dockerfile/Dockerfile': {
    reason: 'ADD \\conf\\\\" has an unterminated double quote once expanded; docker build fails the same way',
    error: 'Dockerfile:6: unexpected end of statement while looking for matching double-quote',
  },
};

/**
 * Negative/parse-only files that convert. continueIndent: SOURCES.md says BuildKit rejects
 * its last line as an unknown instruction THIS, but that line continues the RUN before it
 * (comment and blank lines inside a continuation are skipped): BuildKit's own AST dump in
 * its `result` file ends with (run "echo hello this is some more useful stuff"), and the
 * file has a FROM and only RUNs, so there is nothing to reject.
 */
const NEGATIVE_ACCEPTED = new Set(['moby__buildkit__frontend__dockerfile__parser__testfiles__continueIndent__Dockerfile/Dockerfile']);

interface CorpusFile {
  name: string;
  file: string;
  dir: string;
}

function corpusFiles(section: string): CorpusFile[] {
  const root = path.join(corpus, section);
  if (!existsSync(root)) return [];
  const out: CorpusFile[] = [];
  for (const dir of readdirSync(root).sort()) {
    const full = path.join(root, dir);
    for (const f of readdirSync(full).sort()) {
      if (f.startsWith('Dockerfile')) out.push({ name: `${dir}/${f}`, file: path.join(full, f), dir: full });
    }
  }
  return out;
}

function buildArgs(dir: string): Record<string, string> {
  const f = path.join(dir, 'build-args');
  const out: Record<string, string> = {};
  if (!existsSync(f)) return out;
  for (const raw of readFileSync(f, 'utf8').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) out[line] = '';
    else out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

async function convertFile(c: CorpusFile, on = ON_V0_13): Promise<void> {
  const ast = parseDockerfile(readFileSync(c.file, 'utf8'), 'Dockerfile');
  const conv = await convertDockerfile({
    dockerfile: ast,
    buildArgs: buildArgs(c.dir),
    labels: {},
    network: 'default',
    noCache: false,
    excludePatterns: [],
    ...on,
  });
  if (conv.definition.def.length === 0 && ast.stages.every((s) => s.from.image !== 'scratch')) {
    throw new Error('empty definition');
  }
}

async function errorOf(c: CorpusFile): Promise<string | undefined> {
  try {
    await convertFile(c);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

const positive = corpusFiles('dockerfiles');
const negative = [...corpusFiles('dockerfiles-negative'), ...corpusFiles('dockerfiles-parse-only')];
const located = /^Dockerfile:\d+: \S/;

describe('corpus through the converter', () => {
  it('has the corpus', () => {
    if (!existsSync(corpus)) {
      console.log(`corpus not found at ${corpus}: skipped`);
      return;
    }
    expect(positive.length).toBeGreaterThanOrEqual(127);
    expect(negative.length).toBeGreaterThanOrEqual(14);
  });

  it('every positive file converts, every negative one fails at a line', async () => {
    let passed = 0;
    const failed: string[] = [];
    for (const c of positive) {
      const err = await errorOf(c);
      const expected = EXPECTED_FAILURES[c.name];
      if (expected) {
        if (err !== undefined && located.test(err) && err.includes(expected.error)) passed++;
        else failed.push(`${c.name}: expected failure (${expected.reason}) containing ${JSON.stringify(expected.error)}, got ${err ?? 'success'}`);
      } else if (err === undefined) {
        passed++;
      } else {
        failed.push(`${c.name}: ${err}`);
      }
    }
    for (const c of negative) {
      const err = await errorOf(c);
      if (NEGATIVE_ACCEPTED.has(c.name)) {
        if (err === undefined) passed++;
        else failed.push(`${c.name}: expected to convert, got ${err}`);
      } else if (err !== undefined && located.test(err)) passed++;
      else failed.push(`${c.name}: expected a Dockerfile:LINE: error, got ${err ?? 'success'}`);
    }
    console.log(`corpus convert: ${passed} passed, ${failed.length} failed (${Object.keys(EXPECTED_FAILURES).length} expected failures)`);
    for (const f of failed) console.log('  ' + f);
    expect(failed).toEqual([]);
    // 141 files through the whole converter: ~4 s on an idle 2-CPU machine, more under load.
  }, 30_000);

  it('the files with secrets as environment variables convert to secretenv, and fail at the line on BuildKit v0.8', async () => {
    const withEnv: Array<[string, string]> = [
      ['containerd__nerdctl__Dockerfile/Dockerfile', 'Dockerfile:174: invalid --mount=type=secret,id=github_token,env=GITHUB_TOKEN: a secret as an environment variable'],
      ['docker__actions-toolkit__dev.Dockerfile/Dockerfile', 'Dockerfile:88: invalid --mount=type=secret,id=GITHUB_TOKEN,env=GITHUB_TOKEN: a secret as an environment variable'],
    ];
    for (const [name, error] of withEnv) {
      const c = positive.find((p) => p.name === name);
      expect(c, name).toBeDefined();
      if (c === undefined) continue;
      await convertFile(c);
      const onV08 = await convertFile(c, ON_V0_8).then(
        () => 'success',
        (e: unknown) => (e as Error).message,
      );
      expect(onV08).toContain(error);
      expect(onV08).toContain("dockerd 20.10.24's BuildKit (v0.8.x) cannot run it");
    }
  });

  it('lists only exceptions that exist', () => {
    const names = new Set(positive.map((c) => c.name));
    for (const k of Object.keys(EXPECTED_FAILURES)) expect(names.has(k), k).toBe(true);
  });
});
