// Private key passwords, as cosign gets them: from the environment (TRACEBUILD_KEY_PASSWORD,
// else COSIGN_PASSWORD; an empty value is a value), else typed on the terminal without echo
// when stdin is one. Never printed, never logged.

import { TracebuildError, type ExitKind } from '../common/index.js';
import { CanceledError } from './errors.js';
import type { TextSink } from './io.js';

/** A terminal to prompt on: raw input without echo, and where the prompt goes. */
export interface PasswordTerminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown; resume(): unknown; pause(): unknown };
  output: TextSink;
}

export const PASSWORD_VARIABLES = ['TRACEBUILD_KEY_PASSWORD', 'COSIGN_PASSWORD'] as const;

/** The password from the environment: the first of PASSWORD_VARIABLES that is set (even empty). */
export function passwordFromEnv(env: NodeJS.ProcessEnv): { value: string; variable: string } | undefined {
  for (const variable of PASSWORD_VARIABLES) {
    const value = env[variable];
    if (value !== undefined) return { value, variable };
  }
  return undefined;
}

/** The process's terminal, when stdin is one (and stderr, where the prompt goes, is one too). */
export function processTerminal(stderr: TextSink & { isTTY?: boolean }): PasswordTerminal | undefined {
  if (process.stdin.isTTY !== true || stderr.isTTY !== true) return undefined;
  return { input: process.stdin, output: stderr };
}

/** Reads one line from a terminal without echoing it. Ctrl-C cancels, Ctrl-D ends the input. */
export function readHidden(terminal: PasswordTerminal, prompt: string): Promise<string> {
  const { input, output } = terminal;
  output.write(prompt);
  return new Promise<string>((resolve, reject) => {
    let typed = '';
    const raw = typeof input.setRawMode === 'function';
    const finish = (err?: Error): void => {
      input.removeListener('data', onData);
      if (raw) input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (err === undefined) resolve(typed);
      else reject(err);
    };
    const onData = (chunk: Buffer | string): void => {
      for (const ch of typeof chunk === 'string' ? chunk : chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new CanceledError('canceled at the password prompt'));
        if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
        else typed += ch;
      }
    };
    if (raw) input.setRawMode?.(true);
    input.on('data', onData);
    input.resume();
  });
}

/** cosign's prompts: the password, and for a new key the password again; they must match. */
export async function promptPassword(terminal: PasswordTerminal, options: { confirm: boolean }): Promise<string> {
  const first = await readHidden(terminal, 'Enter password for private key: ');
  if (!options.confirm) return first;
  const again = await readHidden(terminal, 'Enter password for private key again: ');
  if (again !== first) throw new PasswordMismatchError();
  return first;
}

export class PasswordMismatchError extends TracebuildError<'password-mismatch'> {
  override readonly name = 'PasswordMismatchError';
  readonly exit: ExitKind = 'input';
  constructor() {
    super('password-mismatch', 'the passwords do not match');
  }
}
