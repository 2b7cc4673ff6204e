// Commander definitions of the signing side: the keygen, referrers and verify commands, and
// the BuildRequest fields of the build flags --push, --key and --attest-out (declared in
// app.ts with the other build flags). Kept out of app.ts so that app.ts only wires them in. None of these commands needs the BuildKit toolchain.

import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import { runKeygen } from './keygen.js';
import { runReferrers } from './referrers.js';
import { runVerify } from './verify.js';
import { runTracePolicy } from './verify-policy.js';
import { UsageError } from '../errors.js';

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
    .description("verify an image's signed attestations offline with the given public key(s) and show its runtime trace; with --policy, also check the trace against a policy")
    .argument('[IMAGE]', 'image reference, e.g. 127.0.0.1:5000/app:v1 or name@sha256:...')
    .option('--key <PUB>', 'trusted public key file (repeatable; required for an IMAGE)', collect)
    .option('--policy <FILE>', 'trace policy (YAML, see attest/POLICY.md): any violation exits 1')
    .option('--trace <FILE>', 'with --policy: check a trace file (trace, statement or bundle) instead of an image')
    .option('--json', 'print the result as JSON')
    .option('--allow-incomplete-trace', "accept a runtime trace whose probe stopped watching part of the build (by default it fails)")
    .action(async (image: string | undefined, flags: { key?: string[]; json?: boolean; policy?: string; trace?: string; allowIncompleteTrace?: boolean }) => {
      const keys = flags.key ?? [];
      const json = flags.json === true;
      if (flags.trace !== undefined) {
        if (image !== undefined) throw new UsageError('bad-flag', 'give either IMAGE or --trace FILE, not both');
        if (flags.policy === undefined) throw new UsageError('bad-flag', '--trace FILE needs --policy FILE');
        await runTracePolicy({ trace: flags.trace, policy: flags.policy, keys, json }, io);
        return;
      }
      if (image === undefined) throw new UsageError('bad-flag', 'verify needs an IMAGE (or --trace FILE --policy FILE)');
      if (keys.length === 0) throw new UsageError('bad-flag', "required option '--key <PUB>' not specified");
      await runVerify(
        {
          image,
          keys,
          json,
          ...(flags.policy === undefined ? {} : { policy: flags.policy }),
          ...(flags.allowIncompleteTrace === true ? { allowIncompleteTrace: true } : {}),
        },
        io,
      );
    });
}
