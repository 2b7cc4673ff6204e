// Resolving and reading what a build starts from, with docker's rules: PATH is the
// context directory (default `.`); `-f FILE` is relative to the current directory and
// defaults to `PATH/Dockerfile`; `-` (stdin) and remote contexts are not supported.

import { existsSync, lstatSync, statSync, type Stats } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path, { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { USER_FILE_LIMITS, UserFileError, readUserFile } from '../../common/index.js';
import type { ContextDirEntry } from '../contracts.js';
import { readDockerignore, type DockerignoreChoice } from '../dockerignore.js';
import { BuildInputError, UsageError } from '../errors.js';

export interface InputRequest {
  /** PATH as given. */
  context: string;
  /** `-f` as given. */
  file?: string;
}

export interface BuildInputs {
  contextDir: string;
  dockerfilePath: string;
  /** Base name, used in `Dockerfile:LINE` messages as docker does. */
  dockerfileName: string;
  dockerfileText: string;
  dockerignore: DockerignoreChoice;
}

/** A path as the user will recognize it: relative to the cwd when inside it. */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

const REMOTE = /^(?:[a-z][a-z0-9+.-]*:\/\/|git@|github\.com\/)/i;

export function resolveContextDir(context: string, cwd: string): string {
  if (context === '-') {
    throw new UsageError('stdin-not-supported', 'reading the build context from stdin ("-") is not supported: pass a directory as PATH');
  }
  if (REMOTE.test(context)) {
    throw new UsageError('remote-context-not-supported', `remote build contexts are not supported: ${context}: pass a local directory as PATH`);
  }
  const dir = resolve(cwd, context);
  let st: Stats | undefined;
  try {
    st = statOrUndefined(dir);
  } catch (err) {
    throw new BuildInputError('context-unreadable', `unable to prepare context: ${(err as Error).message}`, { cause: err });
  }
  if (st === undefined) throw new BuildInputError('context-not-found', `unable to prepare context: path "${context}" not found`);
  if (!st.isDirectory()) throw new BuildInputError('context-not-directory', `unable to prepare context: context must be a directory: ${context}`);
  return dir;
}

export function resolveDockerfilePath(file: string | undefined, contextDir: string, cwd: string): string {
  if (file === '-') {
    throw new UsageError('stdin-not-supported', 'reading the Dockerfile from stdin ("-f -") is not supported: pass a file');
  }
  if (file !== undefined && file !== '') return resolve(cwd, file);
  // As buildx: `Dockerfile`, else a lower-case `dockerfile`.
  const upper = join(contextDir, 'Dockerfile');
  const lower = join(contextDir, 'dockerfile');
  try {
    if (!existsSync(upper) && statSync(lower).isFile()) return lower;
  } catch {
    // neither: report the usual name
  }
  return upper;
}

/** Whether `path` lies in `dir` (lexically). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * The Dockerfile, read like a file of the context (common/user-file.ts): a regular file, at
 * most USER_FILE_LIMITS.dockerfile bytes, whose symbolic links stay inside the context (or,
 * for a Dockerfile outside it given with -f, inside its own directory), as buildx sends it.
 */
function readDockerfile(dockerfilePath: string, contextDir: string, shown: string): string {
  let st: Stats | undefined;
  try {
    st = statOrUndefined(dockerfilePath);
  } catch (err) {
    throw new BuildInputError('dockerfile-unreadable', `failed to read Dockerfile ${shown}: ${(err as Error).message}`, { cause: err });
  }
  if (st === undefined && !isLink(dockerfilePath)) throw new BuildInputError('dockerfile-not-found', `failed to read Dockerfile: ${shown}: no such file`);
  if (st?.isDirectory() === true) throw new BuildInputError('dockerfile-is-directory', `failed to read Dockerfile ${shown}: is a directory`);
  try {
    const within = isInside(contextDir, dockerfilePath) ? contextDir : dirname(dockerfilePath);
    return readUserFile(dockerfilePath, { what: `Dockerfile ${shown}`, maxBytes: USER_FILE_LIMITS.dockerfile, within }).toString('utf8');
  } catch (err) {
    if (err instanceof UserFileError) {
      throw new BuildInputError(err.code === 'not-found' ? 'dockerfile-not-found' : 'dockerfile-unreadable', `failed to read ${err.message}`, { cause: err });
    }
    throw err;
  }
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

export function readBuildInputs(request: InputRequest, cwd: string): BuildInputs {
  const contextDir = resolveContextDir(request.context, cwd);
  const dockerfilePath = resolveDockerfilePath(request.file, contextDir, cwd);
  const dockerfileText = readDockerfile(dockerfilePath, contextDir, displayPath(dockerfilePath, cwd));
  return {
    contextDir,
    dockerfilePath,
    dockerfileName: basename(dockerfilePath),
    dockerfileText,
    dockerignore: readDockerignore(contextDir, dockerfilePath),
  };
}

/**
 * Lists directories of the context dir with lstat semantics (a symlink is reported, never
 * followed). The converter only asks for clean relative paths of directories it saw as
 * directories; anything else is refused, so nothing outside the context is read.
 */
export function contextDirReader(contextDir: string): (dir: string) => Promise<readonly ContextDirEntry[] | undefined> {
  return async (dir) => {
    if (dir.startsWith('/') || dir.split('/').some((s) => s === '..' || s === '.' || (s === '' && dir !== ''))) {
      throw new Error(`not a clean context path: ${JSON.stringify(dir)}`);
    }
    let entries;
    try {
      entries = await readdir(path.join(contextDir, ...(dir === '' ? [] : dir.split('/'))), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    return entries.map((e) => ({
      name: e.name,
      type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other',
    }));
  };
}
