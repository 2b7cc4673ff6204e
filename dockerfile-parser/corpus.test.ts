import { describe, it, expect } from 'vitest';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { parseDockerfile, DockerfileError } from './index.js';
import { parseNodes, dumpNode } from './lines.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const corpus = path.resolve(here, '../testdata/corpus');

/** Every `Dockerfile*` file inside each case folder of a corpus section. */
function corpusFiles(section: string): { name: string; file: string; dir: string }[] {
  const root = path.join(corpus, section);
  if (!existsSync(root)) return [];
  const out: { name: string; file: string; dir: string }[] = [];
  for (const dir of readdirSync(root).sort()) {
    const full = path.join(root, dir);
    for (const f of readdirSync(full).sort()) {
      if (f.startsWith('Dockerfile')) out.push({ name: `${dir}/${f}`, file: path.join(full, f), dir: full });
    }
  }
  return out;
}

/** BuildKit's expected AST dump, where the corpus has one (`result`). */
function expectedDump(dir: string): string[] | undefined {
  const f = path.join(dir, 'result');
  if (!existsSync(f)) return undefined;
  return readFileSync(f, 'utf8').split('\n').filter((l) => l !== '');
}

const positive = corpusFiles('dockerfiles');
const negative = corpusFiles('dockerfiles-negative');
const parseOnly = corpusFiles('dockerfiles-parse-only');

describe('corpus: dockerfiles/ (must parse)', () => {
  it('has the corpus', () => {
    expect(positive.length).toBeGreaterThanOrEqual(127);
  });

  it.each(positive.map((c) => [c.name, c]))('%s', (_name, c) => {
    const ast = parseDockerfile(readFileSync(c.file, 'utf8'), 'Dockerfile');
    expect(ast.stages.length).toBeGreaterThan(0);
  });

  it('summary', () => {
    let ok = 0;
    const failed: string[] = [];
    for (const c of positive) {
      try {
        parseDockerfile(readFileSync(c.file, 'utf8'), 'Dockerfile');
        ok++;
      } catch (e) {
        failed.push(`${c.name}: ${(e as Error).message}`);
      }
    }
    console.log(`corpus dockerfiles/: ${ok}/${positive.length} parsed`);
    expect(failed).toEqual([]);
  });
});

describe('corpus: parser AST equals BuildKit result dumps', () => {
  const withResult = [...positive, ...parseOnly].filter((c) => expectedDump(c.dir) !== undefined);

  it.each(withResult.map((c) => [c.name, c]))('%s', (_name, c) => {
    const raw = parseNodes(readFileSync(c.file, 'utf8'), 'Dockerfile');
    expect(raw.nodes.map(dumpNode)).toEqual(expectedDump(c.dir));
  });

  it('summary', () => {
    console.log(`BuildKit result dumps compared: ${withResult.length}`);
    expect(withResult.length).toBeGreaterThanOrEqual(30);
  });
});

// The expected first error of each negative case, `file:line: detail`.
const NEGATIVE_EXPECTED: Record<string, { code: string; message: string }> = {
  'docker__actions-toolkit____tests____.fixtures__hello-err.Dockerfile': {
    code: 'unknown-instruction',
    message: 'Dockerfile:18: unknown instruction: ARGGG',
  },
  'moby__buildkit__frontend__dockerfile__parser__testfiles-negative__empty_dockerfile__Dockerfile': {
    code: 'empty-dockerfile',
    message: 'Dockerfile:1: the Dockerfile cannot be empty',
  },
  'moby__buildkit__frontend__dockerfile__parser__testfiles-negative__env_no_value__Dockerfile': {
    code: 'missing-arguments',
    message: 'Dockerfile:3: ENV must have two arguments',
  },
  'moby__buildkit__frontend__dockerfile__parser__testfiles-negative__only_comments__Dockerfile': {
    code: 'empty-dockerfile',
    message: 'Dockerfile:3: file with no instructions',
  },
  'moby__buildkit__frontend__dockerfile__parser__testfiles-negative__shykes-nested-json__Dockerfile': {
    code: 'invalid-json',
    message: 'Dockerfile:1: when using JSON array syntax, arrays must be comprised of strings only',
  },
};

describe('corpus: dockerfiles-negative/ (must fail with a DockerfileError)', () => {
  it('has the corpus', () => {
    expect(negative.length).toBeGreaterThanOrEqual(5);
  });

  it.each(negative.map((c) => [c.name, c]))('%s', (name, c) => {
    let err: unknown;
    try {
      parseDockerfile(readFileSync(c.file, 'utf8'), 'Dockerfile');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DockerfileError);
    const expected = NEGATIVE_EXPECTED[name.split('/')[0] as string];
    expect(expected).toBeDefined();
    if (expected) {
      expect((err as DockerfileError).code).toBe(expected.code);
      expect((err as DockerfileError).message).toBe(expected.message);
    }
    console.log(`negative ${name}: ${(err as Error).message}`);
  });
});

// BuildKit's parser accepts these; its instruction parsing rejects most of them.
// parseDockerfile does both, so it rejects those (no FROM, unknown flag, bare HEALTHCHECK).
// continueIndent is accepted: it has a FROM and only RUNs, and neither Docker's parser nor
// its instruction parsing has anything to reject in it (the corpus README groups it with
// the others). The AST comparison above shows that the parser pass accepts all nine and
// agrees with BuildKit's dumps.
const PARSE_ONLY_ACCEPTED = new Set(['moby__buildkit__frontend__dockerfile__parser__testfiles__continueIndent__Dockerfile']);

describe('corpus: dockerfiles-parse-only/', () => {
  it.each(parseOnly.map((c) => [c.name, c]))('%s', (name, c) => {
    const text = readFileSync(c.file, 'utf8');
    expect(() => parseNodes(text, 'Dockerfile')).not.toThrow();
    let err: unknown;
    try {
      parseDockerfile(text, 'Dockerfile');
    } catch (e) {
      err = e;
    }
    if (PARSE_ONLY_ACCEPTED.has(name.split('/')[0] as string)) {
      expect(err).toBeUndefined();
      console.log(`parse-only ${name}: accepted`);
    } else {
      expect(err).toBeInstanceOf(DockerfileError);
      console.log(`parse-only ${name}: rejected: ${(err as Error).message}`);
    }
  });
});
