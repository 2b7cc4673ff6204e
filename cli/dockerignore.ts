// Which .dockerignore applies, and its patterns, by docker's rules:
// - `<Dockerfile>.dockerignore` next to the Dockerfile in use (e.g. `build/app.Dockerfile`
//   -> `build/app.Dockerfile.dockerignore`) wins when it exists;
// - else `<PATH>/.dockerignore` at the root of the context;
// - else nothing is excluded.
// The file's lines are read by common/patterns.ts (the same rules the context sender
// applies): `#` comments, blank lines skipped, spaces trimmed, `!` re-includes, each
// pattern cleaned like a path (`./a/` -> `a`, `/a` -> `a`).

import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { USER_FILE_LIMITS, parseDockerignore, readUserFile } from '../common/index.js';
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
  // A .dockerignore is read like a file of the context: regular, bounded, and its links
  // kept inside its own directory (common/user-file.ts).
  readText(path) {
    return readUserFile(path, { what: 'the file', maxBytes: USER_FILE_LIMITS.dockerignore, within: dirname(path) }).toString('utf8');
  },
};

export function dockerignoreCandidates(contextDir: string, dockerfilePath: string): string[] {
  return [`${dockerfilePath}.dockerignore`, join(contextDir, '.dockerignore')];
}

export function chooseDockerignore(contextDir: string, dockerfilePath: string, fs: DockerignoreFs): string | undefined {
  return dockerignoreCandidates(contextDir, dockerfilePath).find((p) => fs.isFile(p));
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
