// Reading a file on the user's behalf (a Dockerfile, a .dockerignore, a --secret, a key, a
// policy) without letting the file read something else: it must be a regular file (not a
// FIFO, which would block for ever, nor a device such as /dev/zero, which never ends), no
// larger than a limit, and, where it comes from the build context, inside the context once
// its symbolic links are followed (a repository's `Dockerfile -> /etc/shadow` must not read
// the host's file, nor show a line of it in an error). The checks hold on the open file
// itself (fstat of the descriptor), so a swap between the check and the read changes nothing.

import { closeSync, fstatSync, lstatSync, openSync, readSync, realpathSync, constants as fs } from 'node:fs';
import { relative, isAbsolute } from 'node:path';
import { TracebuildError, type ExitKind } from './errors.js';

export type UserFileErrorCode = 'not-found' | 'not-regular' | 'outside-context' | 'too-large' | 'unreadable';

/** A file the user named (or the context holds) cannot be read as one; the message names it. */
export class UserFileError extends TracebuildError<UserFileErrorCode> {
  override readonly name = 'UserFileError';
  readonly exit: ExitKind = 'input';
  constructor(
    code: UserFileErrorCode,
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

export interface ReadUserFileOptions {
  /** How to name the file in messages, e.g. "Dockerfile Dockerfile.dev" or "secret npmrc". */
  what: string;
  /** The largest file accepted, in bytes. */
  maxBytes: number;
  /** When set: the file, its symbolic links followed, must lie inside this directory. */
  within?: string;
}

/** Byte limits for the files tracebuild reads on the user's behalf. */
export const USER_FILE_LIMITS = {
  /** A Dockerfile: far above any real one (the largest of the corpus is ~40 KiB). */
  dockerfile: 4 << 20,
  dockerignore: 1 << 20,
  /** BuildKit's own limit for a secret. */
  secret: 500 << 10,
  key: 1 << 20,
  policy: 1 << 20,
  /** A trace, statement or bundle file: a build of 100,000 processes makes tens of MiB. */
  trace: 512 << 20,
} as const;

function kindOf(mode: number): string {
  switch (mode & fs.S_IFMT) {
    case fs.S_IFDIR:
      return 'a directory';
    case fs.S_IFIFO:
      return 'a FIFO';
    case fs.S_IFCHR:
      return 'a character device';
    case fs.S_IFBLK:
      return 'a block device';
    case fs.S_IFSOCK:
      return 'a socket';
    default:
      return 'not a regular file';
  }
}

function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function errnoOf(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/** The file's bytes, or a UserFileError saying why not (see the top of this file). */
export function readUserFile(path: string, options: ReadUserFileOptions): Buffer {
  const { what } = options;
  let target = path;
  try {
    if (lstatSync(path).isSymbolicLink()) target = realpathSync(path);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserFileError('not-found', path, `${what}: no such file`, { cause: err });
    throw new UserFileError('unreadable', path, `${what}: cannot be read: ${code}`, { cause: err });
  }
  if (options.within !== undefined) {
    let root = options.within;
    try {
      root = realpathSync(options.within);
    } catch {
      // the context itself is checked elsewhere; compare with it as given
    }
    if (!isInside(root, target)) {
      throw new UserFileError('outside-context', path, `${what} is a symbolic link to a file outside the build context: refused`);
    }
  }
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO swapped in after the check above does not block the open.
    fd = openSync(target, fs.O_RDONLY | fs.O_NONBLOCK | fs.O_NOCTTY);
  } catch (err) {
    const code = errnoOf(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new UserFileError('not-found', path, `${what}: no such file`, { cause: err });
    throw new UserFileError('unreadable', path, `${what}: cannot be read: ${code}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new UserFileError('not-regular', path, `${what} is ${kindOf(st.mode)}, not a regular file: refused`);
    if (st.size > options.maxBytes) {
      throw new UserFileError('too-large', path, `${what} is ${st.size} bytes; the limit is ${options.maxBytes}`);
    }
    // Read one byte past the limit: a file that grows while it is read is caught too.
    const buf = Buffer.alloc(Math.min(st.size, options.maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) break;
    }
    if (n > options.maxBytes) throw new UserFileError('too-large', path, `${what} is more than ${options.maxBytes} bytes; the limit is ${options.maxBytes}`);
    if (n > st.size) throw new UserFileError('unreadable', path, `${what} changed while it was read`);
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof UserFileError) throw err;
    throw new UserFileError('unreadable', path, `${what}: cannot be read: ${errnoOf(err)}`, { cause: err });
  } finally {
    closeSync(fd);
  }
}
