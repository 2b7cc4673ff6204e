import { TracebuildError, type ExitKind } from '../../common/index.js';

/** The guard cannot start serving: a socket in use, a port taken, a certificate unreadable. */
export class GuardError extends TracebuildError<'cannot-serve'> {
  override readonly name = 'GuardError';
  readonly exit: ExitKind = 'input';
  constructor(message: string, options?: { cause?: unknown }) {
    super('cannot-serve', message, options);
  }
}

/** Runs `listen`, turning its failure into a GuardError that says what could not be served. */
export async function listening<T>(what: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    if (err instanceof GuardError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new GuardError(`cannot serve ${what}: ${e.code ?? ''}${e.code ? ' ' : ''}${e.message}`, { cause: err });
  }
}
