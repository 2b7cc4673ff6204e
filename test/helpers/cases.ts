// The build cases under testdata/: one folder per case, holding its Dockerfile, its build
// context and a few optional files that tell the tests how to build it.
//
//   testdata/<case>/                 a case that must build, the same with docker and tracebuild
//     Dockerfile (or a lower-case `dockerfile`), context files
//     build-args        optional: KEY=VALUE lines passed as --build-arg (# comments allowed)
//     parity-skip       optional: the reason this case is left out of the parity test
//     docker-skip       optional: the reason BuildKit's own frontend (the oracle) cannot build
//                       it: tracebuild's image is checked against expect.json instead. A line
//                       `DAEMON: reason` (DAEMON a TRACEBUILD_TEST_DAEMON id) is about that
//                       daemon only; a line without one is about every daemon
//     daemon-skip       optional: `DAEMON: reason` lines: the case is not built on that daemon
//                       at all (neither builder can build it there; the reason says why)
//     expect-links      optional: `PATH -> TARGET` lines, symlinks both images must have
//     context-path      optional: the build context, relative to the case folder (default .)
//     cli-args          optional: more build arguments, one per line (e.g. `-f` and a path)
//     secrets           optional: `id=ID,src=FILE` lines (FILE relative to the case folder),
//                       passed to both builders as --secret
//     expect.json       required with docker-skip: the files the built image must hold,
//                       [{ path, type, mode: "0644", uid, gid, content? }]
//   testdata/errors/<case>/          a case that must fail
//     the same files, plus
//     expected-error.txt  substrings that must all appear in the output, one per line
//                         (compared case-insensitively)
//     expected-exit       the exit code (1 for build errors, 2 for usage errors)
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { currentDaemon } from './daemons.js';
import { testdataDir } from './environment.js';

export interface BuildCase {
  name: string;
  /** The case folder. */
  dir: string;
  /** The build context (absolute). */
  context: string;
  buildArgs: Array<[string, string]>;
  /** Arguments from cli-args, with paths as written (relative ones are relative to the case folder, resolved here). */
  extraArgs: string[];
  /** -f value when cli-args names one (absolute), for convert. */
  file?: string;
  paritySkip?: string;
  /** Why the oracle cannot build it on this run's daemon (docker-skip). */
  dockerSkip?: string;
  /** Why the case is not built on this run's daemon at all (daemon-skip). */
  daemonSkip?: string;
  expectLinks: Array<{ path: string; linkname: string }>;
  /** From expect.json: files the image built by tracebuild must hold. */
  expectFiles?: ExpectedFile[];
}

export interface ExpectedFile {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Octal permission bits as a string, e.g. "0644". */
  mode: string;
  uid: number;
  gid: number;
  content?: string;
  linkname?: string;
}

export interface ErrorCase extends BuildCase {
  /** Substrings that must all appear in the output (case-insensitive). */
  expectedError: string[];
  expectedExit: number;
}

export const errorsDir = path.join(testdataDir, 'errors');

function readOptional(dir: string, name: string): string | undefined {
  const p = path.join(dir, name);
  return existsSync(p) && statSync(p).isFile() ? readFileSync(p, 'utf8') : undefined;
}

function lines(text: string | undefined): string[] {
  return (text ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Parses KEY=VALUE lines (the value may contain '='; comments and blank lines ignored). */
export function parseBuildArgs(text: string | undefined): Array<[string, string]> {
  return lines(text).map((l) => {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new Error(`build-args: expected KEY=VALUE, got ${JSON.stringify(l)}`);
    return [l.slice(0, eq), l.slice(eq + 1)];
  });
}

function loadCase(dir: string): BuildCase {
  const name = path.basename(dir);
  const extraArgs: string[] = [];
  let file: string | undefined;
  const raw = lines(readOptional(dir, 'cli-args'));
  for (let i = 0; i < raw.length; i++) {
    const arg = raw[i] ?? '';
    if ((arg === '-f' || arg === '--file') && raw[i + 1] !== undefined) {
      file = path.resolve(dir, raw[i + 1] ?? '');
      extraArgs.push(arg, file);
      i++;
    } else {
      extraArgs.push(arg);
    }
  }
  for (const secret of lines(readOptional(dir, 'secrets'))) {
    const resolved = secret.replace(/(^|,)src=([^,]+)/, (_m, sep: string, src: string) => `${sep}src=${path.resolve(dir, src)}`);
    extraArgs.push('--secret', resolved);
  }
  const contextRel = lines(readOptional(dir, 'context-path'))[0] ?? '.';
  const reason = (n: string) => {
    const t = readOptional(dir, n);
    return t === undefined ? undefined : t.trim() || `(${n} gives no reason)`;
  };
  const c: BuildCase = {
    name,
    dir,
    context: path.resolve(dir, contextRel),
    buildArgs: parseBuildArgs(readOptional(dir, 'build-args')),
    extraArgs,
    expectLinks: lines(readOptional(dir, 'expect-links')).map((l) => {
      const [p, target] = l.split(/\s+->\s+/);
      if (!p || target === undefined) throw new Error(`${name}/expect-links: expected "PATH -> TARGET", got ${JSON.stringify(l)}`);
      return { path: p, linkname: target };
    }),
  };
  if (file !== undefined) c.file = file;
  const expectText = readOptional(dir, 'expect.json');
  if (expectText !== undefined) c.expectFiles = JSON.parse(expectText) as ExpectedFile[];
  const parity = reason('parity-skip');
  if (parity !== undefined) c.paritySkip = parity;
  const daemon = currentDaemon().id;
  const docker = daemonReason(readOptional(dir, 'docker-skip'), daemon, true, 'docker-skip');
  if (docker !== undefined) c.dockerSkip = docker;
  const skip = daemonReason(readOptional(dir, 'daemon-skip'), daemon, false, 'daemon-skip');
  if (skip !== undefined) c.daemonSkip = skip;
  return c;
}

const DAEMON_LINE = /^(docker\d+):\s*(.*)$/;

/**
 * The reason a per-daemon file gives for `daemon`: its `DAEMON: reason` lines for that
 * daemon, and (when `unprefixedForAll`) its lines without a daemon, which are about every
 * daemon. Undefined when no line is about it.
 */
export function daemonReason(text: string | undefined, daemon: string, unprefixedForAll: boolean, file: string): string | undefined {
  if (text === undefined) return undefined;
  const reasons: string[] = [];
  const all = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  for (const l of all) {
    const m = DAEMON_LINE.exec(l);
    if (m) {
      if (m[1] === daemon) reasons.push(m[2] || `(${file} gives no reason)`);
    } else if (unprefixedForAll) {
      reasons.push(l);
    } else {
      throw new Error(`${file}: expected "DAEMON: reason", got ${JSON.stringify(l)}`);
    }
  }
  if (all.length === 0 && unprefixedForAll) return `(${file} gives no reason)`;
  return reasons.length > 0 ? reasons.join(' ') : undefined;
}

/** The case's Dockerfile: `Dockerfile`, else a lower-case `dockerfile` (as buildx finds it). */
export function caseDockerfile(dir: string): string | undefined {
  for (const name of ['Dockerfile', 'dockerfile']) {
    const p = path.join(dir, name);
    if (existsSync(p) && statSync(p).isFile()) return p;
  }
  return undefined;
}

function subdirs(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => path.join(dir, d.name))
    .sort();
}

/** Every testdata/<case>/ that must build (all but testdata/errors), sorted by name. */
export function listCases(): BuildCase[] {
  return subdirs(testdataDir)
    .filter((d) => path.basename(d) !== 'errors' && caseDockerfile(d) !== undefined)
    .map(loadCase);
}

/** Every testdata/errors/<case>/ of this run's daemon, sorted by name: a case whose
 * daemon-skip names the daemon (the feature it fails for is there) is left out, saying so. */
export function listErrorCases(): ErrorCase[] {
  return allErrorCases().filter((c) => {
    if (c.daemonSkip !== undefined) console.log(`errors: ${c.name} not run on ${currentDaemon().name}: ${c.daemonSkip}`);
    return c.daemonSkip === undefined;
  });
}

function allErrorCases(): ErrorCase[] {
  return subdirs(errorsDir).map((dir) => {
    const c = loadCase(dir);
    const expectedError = lines(readOptional(dir, 'expected-error.txt'));
    const exitText = readOptional(dir, 'expected-exit');
    if (expectedError.length === 0) throw new Error(`${c.name}: expected-error.txt is missing or empty`);
    if (exitText === undefined || !/^\d+$/.test(exitText.trim())) {
      throw new Error(`${c.name}: expected-exit is missing or not a number`);
    }
    return { ...c, expectedError, expectedExit: Number(exitText.trim()) };
  });
}

/** Which expected substrings the output lacks (case-insensitive). */
export function missingSubstrings(output: string, expected: readonly string[]): string[] {
  const haystack = output.toLowerCase();
  return expected.filter((e) => !haystack.includes(e.toLowerCase()));
}
