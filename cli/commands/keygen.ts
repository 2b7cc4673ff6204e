// `tracebuild keygen [--out PREFIX]`: a new ECDSA P-256 signing key, PREFIX.key (mode 0600,
// PKCS#8 PEM, encrypted with TRACEBUILD_KEY_PASSWORD when that is set and not empty) and
// PREFIX.pub (SPKI PEM). Refuses to overwrite either file. Prints the key id: the hex sha256
// of the public key's DER, which signed bundles carry as their key hint.

import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';

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

export async function runKeygen(request: KeygenRequest, io: CliIo): Promise<KeygenResult> {
  const { writeKeyPair } = await import('../../attest/index.js');
  const password = io.env.TRACEBUILD_KEY_PASSWORD;
  const encrypted = password !== undefined && password !== '';
  const written = await writeKeyPair(resolve(io.cwd, request.out), encrypted ? { password } : {});
  io.stderr.write(
    `Private key written to ${written.privateKeyPath} (${encrypted ? 'encrypted with TRACEBUILD_KEY_PASSWORD' : 'NOT encrypted: set TRACEBUILD_KEY_PASSWORD to encrypt it'})\n` +
      `Public key written to ${written.publicKeyPath}\n`,
  );
  io.stdout.write(`${written.keyId}\n`);
  return { ...written, encrypted };
}

export const keygenCommand: CliCommand = {
  register(program: Command, { io }) {
    program
      .command('keygen')
      .description('create a signing key pair: PREFIX.key (0600, encrypted with $TRACEBUILD_KEY_PASSWORD when set) and PREFIX.pub')
      .option('--out <PREFIX>', 'path prefix of the two files', 'tracebuild')
      .action(async (flags: { out: string }) => {
        await runKeygen({ out: flags.out }, io);
      });
  },
};
