// Commander definitions of the signing side: the keygen, referrers and verify commands, and
// the BuildRequest fields of the build flags --push, --key and --attest-out (declared in
// app.ts with the other build flags). Kept out of app.ts so that app.ts only wires them in. None of these commands needs the BuildKit toolchain.

import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { runKeygen } from './keygen.js';
import { runReferrers } from './referrers.js';
import { runVerify } from './verify.js';

/** The build flags of the signing side, as commander gives them. */
export interface SigningFlags {
  push?: boolean;
  key?: string;
  attestOut?: string;
}

/** BuildRequest fields from the flags (only those given). */
export function signingRequest(flags: SigningFlags): { push?: boolean; key?: string; attestOut?: string } {
  return {
    ...(flags.push === true ? { push: true } : {}),
    ...(flags.key === undefined ? {} : { key: flags.key }),
    ...(flags.attestOut === undefined ? {} : { attestOut: flags.attestOut }),
  };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function registerSigningCommands(program: Command, io: CliIo): void {
  program
    .command('keygen')
    .description('create a signing key pair: PREFIX.key (0600, encrypted with $TRACEBUILD_KEY_PASSWORD when set) and PREFIX.pub')
    .option('--out <PREFIX>', 'path prefix of the two files', 'tracebuild')
    .action(async (flags: { out: string }) => {
      await runKeygen({ out: flags.out }, io);
    });

  program
    .command('referrers')
    .description("list what is attached to an image in its registry (signed attestations and other tools' artifacts), as a tree")
    .argument('<IMAGE>', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...')
    .option('--json', 'print the tree as JSON')
    .action(async (image: string, flags: { json?: boolean }) => {
      await runReferrers({ image, json: flags.json === true }, io);
    });

  program
    .command('verify')
    .description("verify an image's signed attestations offline with the given public key(s) and show its runtime trace")
    .argument('<IMAGE>', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...')
    .requiredOption('--key <PUB>', 'trusted public key file (repeatable)', collect)
    .option('--json', 'print the result as JSON')
    .action(async (image: string, flags: { key: string[]; json?: boolean }) => {
      await runVerify({ image, keys: flags.key, json: flags.json === true }, io);
    });
}
