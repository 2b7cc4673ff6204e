// Which .dockerignore applies, and its patterns, by docker's rules:
// - `<Dockerfile>.dockerignore` next to the Dockerfile in use (e.g. `build/app.Dockerfile`
//   -> `build/app.Dockerfile.dockerignore`) wins when it exists;
// - else `<PATH>/.dockerignore` at the root of the context;
// - else nothing is excluded.
// Lines starting with `#` are comments, blank lines are skipped, surrounding spaces are
// trimmed, `!` re-includes, and each pattern is cleaned like a path (`./a/` -> `a`,
// `/a` -> `a`).

import { readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { BuildInputError } from './errors.js';

export interface DockerignoreChoice {
  /** The file used, absent when none exists. */
  file?: string;
  patterns: string[];
}

export interface DockerignoreFs {
  isFile(path: string): boolean;
  readText(path: string): string;
}

export const nodeDockerignoreFs: DockerignoreFs = {
  isFile(path) {
    try {
      return statSync(path).isFile();
    } catch {
      return false;
    }
  },
  readText(path) {
    return readFileSync(path, 'utf8');
  },
};

export function dockerignoreCandidates(contextDir: string, dockerfilePath: string): string[] {
  return [`${dockerfilePath}.dockerignore`, join(contextDir, '.dockerignore')];
}

export function chooseDockerignore(contextDir: string, dockerfilePath: string, fs: DockerignoreFs): string | undefined {
  return dockerignoreCandidates(contextDir, dockerfilePath).find((p) => fs.isFile(p));
}

function cleanPattern(pattern: string): string {
  let p = posix.normalize(pattern.replace(/\\/g, '/'));
  if (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  if (p.length > 1 && p.startsWith('/')) p = p.slice(1);
  return p;
}

/** Throws a plain Error for an invalid file; the caller names the file. */
export function parseDockerignore(text: string): string[] {
  const patterns: string[] = [];
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/);
  for (const raw of lines) {
    if (raw.startsWith('#')) continue;
    let line = raw.trim();
    if (line === '') continue;
    let invert = false;
    if (line.startsWith('!')) {
      if (line.length === 1) throw new Error('illegal exclusion pattern: "!"');
      invert = true;
      line = line.slice(1).trim();
    }
    patterns.push(`${invert ? '!' : ''}${cleanPattern(line)}`);
  }
  return patterns;
}

export function readDockerignore(
  contextDir: string,
  dockerfilePath: string,
  fs: DockerignoreFs = nodeDockerignoreFs,
): DockerignoreChoice {
  const file = chooseDockerignore(contextDir, dockerfilePath, fs);
  if (file === undefined) return { patterns: [] };
  try {
    return { file, patterns: parseDockerignore(fs.readText(file)) };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new BuildInputError('context-unreadable', `failed to read ${file}: ${why}`, { cause: err });
  }
}
