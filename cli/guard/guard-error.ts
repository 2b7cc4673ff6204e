/** The guard cannot start serving: a socket in use, a port taken, a certificate unreadable. */
export class GuardError extends Error {
  override readonly name = 'GuardError';
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
