// Golden tests: every testdata/<case>/Dockerfile (and testdata/errors/<case>/Dockerfile) is
// converted (no daemon: base configs empty, as `tracebuild convert` does; the case folder
// is the context listed for COPY --parents wildcards) for two daemons' capabilities, and
// describeConversion's JSON is compared with a golden file:
//   convert.golden.json        dockerd 20.10's BuildKit v0.8 (its LLB caps, Engine API 1.41)
//   convert.v0.13.golden.json  dockerd 26's BuildKit v0.13 (its LLB caps, Engine API 1.45)
// A case that fails to parse or convert records {"error": message} instead. Regenerate
// with UPDATE_GOLDEN=1.
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseDockerfile } from '../../dockerfile-parser/index.js';
import { cleanPath } from '../../common/index.js';
import { convertDockerfile, describeConversion } from './index.js';
import type { ContextDirReader, DaemonCapabilities } from './index.js';
import { V0_13_FRONTEND_CAPS, V0_13_LLB_CAPS, V0_8_LLB_CAPS } from './index.js';

const testdata = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'testdata');
const update = process.env['UPDATE_GOLDEN'] === '1';

/** The case's Dockerfile: `Dockerfile`, else a lower-case `dockerfile` (as buildx finds it). */
function caseDockerfile(dir: string): string | undefined {
  for (const name of ['Dockerfile', 'dockerfile']) {
    const p = join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

/** Case folders (relative to testdata) holding a regular-file Dockerfile: testdata/<case>
 * and the failing cases under testdata/errors/<case>. */
function findCases(): string[] {
  const out: string[] = [];
  const scan = (rel: string): void => {
    const abs = join(testdata, rel);
    if (!existsSync(abs)) return;
    for (const name of readdirSync(abs).sort()) {
      const caseRel = rel ? `${rel}/${name}` : name;
      const dir = join(testdata, caseRel);
      if (!statSync(dir).isDirectory()) continue;
      if (caseDockerfile(dir) !== undefined) out.push(caseRel);
    }
  };
  scan('');
  scan('errors');
  return out;
}

const cases = findCases();

/** .dockerignore lines as Docker reads them: comments and blanks dropped, paths cleaned,
 * a leading `/` removed, `!` kept. */
function readDockerignore(dir: string): string[] {
  const file = join(dir, '.dockerignore');
  if (!existsSync(file)) return [];
  const out: string[] = [];
  for (const raw of readFileSync(file, 'utf8').split('\n')) {
    let line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    let neg = false;
    if (line.startsWith('!')) {
      neg = true;
      line = line.slice(1).trim();
    }
    if (line.length > 0) {
      line = cleanPath(line);
      if (line.length > 1 && line.startsWith('/')) line = line.slice(1);
    }
    out.push((neg ? '!' : '') + line);
  }
  return out;
}

/** The case folder as the build context, for COPY --parents wildcards (as the CLI lists it). */
function contextReader(dir: string): ContextDirReader {
  return async (rel) => {
    try {
      const entries = await readdir(rel === '' ? dir : join(dir, rel), { withFileTypes: true });
      return entries.map((e) => ({ name: e.name, type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other' }));
    } catch {
      return undefined;
    }
  };
}

/** `--target NAME` / `--target=NAME` from the case's cli-args, if any. */
function targetOf(dir: string): string | undefined {
  const file = join(dir, 'cli-args');
  if (!existsSync(file)) return undefined;
  const args = readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--target' && args[i + 1] !== undefined) return args[i + 1];
    if (a.startsWith('--target=')) return a.slice('--target='.length);
  }
  return undefined;
}

/** The daemons the golden files are for: file name, capabilities. */
const DAEMONS: ReadonlyArray<[string, DaemonCapabilities]> = [
  ['convert.golden.json', { llb: V0_8_LLB_CAPS, engineApiVersion: '1.41', name: "dockerd 20.10.24's BuildKit (v0.8.x)" }],
  ['convert.v0.13.golden.json', { llb: V0_13_LLB_CAPS, frontend: V0_13_FRONTEND_CAPS, engineApiVersion: '1.45', name: "dockerd 26.1.5's BuildKit (v0.13.x)" }],
];

async function describeCase(name: string, capabilities: DaemonCapabilities): Promise<unknown> {
  const dir = join(testdata, name);
  const target = targetOf(dir);
  try {
    const ast = parseDockerfile(readFileSync(caseDockerfile(dir) ?? join(dir, 'Dockerfile'), 'utf8'), 'Dockerfile');
    const conv = await convertDockerfile({
      dockerfile: ast,
      buildArgs: {},
      labels: {},
      network: 'default',
      noCache: false,
      excludePatterns: readDockerignore(dir),
      readContextDir: contextReader(dir),
      capabilities,
      ...(target !== undefined ? { target } : {}),
    });
    return describeConversion(conv);
  } catch (e) {
    return { error: (e as Error).message };
  }
}

describe('convert golden files', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  for (const name of cases) {
    for (const [file, capabilities] of DAEMONS) {
    it(`${name} (${file})`, async () => {
      const got = JSON.stringify(await describeCase(name, capabilities), null, 2) + '\n';
      const golden = join(testdata, name, file);
      if (update || !existsSync(golden)) {
        writeFileSync(golden, got);
        if (!update) console.warn(`created ${golden}`);
      }
      expect(got).toBe(readFileSync(golden, 'utf8'));
    });
    }
  }
});
