// `tracebuild keygen [--out PREFIX]`: a new ECDSA P-256 signing key, PREFIX.key (mode 0600,
// PKCS#8 PEM) and PREFIX.pub (SPKI PEM). The password, as cosign gets it: from
// TRACEBUILD_KEY_PASSWORD, else COSIGN_PASSWORD, else typed twice on the terminal (when stdin
// is one); a non-empty password encrypts the key. Refuses to overwrite either file. Prints
// the key id: the hex sha256 of the public key's DER, which signed bundles carry as their
// key hint.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';
import { passwordFromEnv, processTerminal, promptPassword, type PasswordTerminal } from '../password.js';

export interface KeygenRequest {
  /** Default `tracebuild`. */
  out: string;
}

export interface KeygenResult {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
  encrypted: boolean;
}

export async function runKeygen(request: KeygenRequest, io: CliIo, terminal: PasswordTerminal | undefined = processTerminal(io.stderr)): Promise<KeygenResult> {
  const { writeKeyPair } = await import('../../attest/index.js');
  const fromEnv = passwordFromEnv(io.env);
  let password: string;
  let source: string;
  if (fromEnv !== undefined) {
    password = fromEnv.value;
    source = fromEnv.variable;
  } else if (terminal !== undefined) {
    password = await promptPassword(terminal, { confirm: true });
    source = 'the password typed';
  } else {
    password = '';
    source = '';
  }
  const encrypted = password !== '';
  const written = await writeKeyPair(resolve(io.cwd, request.out), encrypted ? { password } : {});
  io.stderr.write(
    `Private key written to ${written.privateKeyPath} (${encrypted ? `encrypted with ${source}` : 'NOT encrypted: set TRACEBUILD_KEY_PASSWORD (or COSIGN_PASSWORD), or run keygen on a terminal, to encrypt it'})\n` +
      `Public key written to ${written.publicKeyPath}\n`,
  );
  io.stdout.write(`${written.keyId}\n`);
  return { ...written, encrypted };
}

export const keygenCommand: CliCommand = {
  register(program: Command, { io }) {
    program
      .command('keygen')
      .description('create a signing key pair: PREFIX.key (0600, encrypted with $TRACEBUILD_KEY_PASSWORD or $COSIGN_PASSWORD, else a password asked on the terminal) and PREFIX.pub')
      .option('--out <PREFIX>', 'path prefix of the two files', 'tracebuild')
      .action(async (flags: { out: string }) => {
        await runKeygen({ out: flags.out }, io);
      });
  },
};
