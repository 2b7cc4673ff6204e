// What every command module exports: one `register` that adds the command, its flags and
// its action to the program, given what the app provides. app.ts registers them from one
// list, in the order `--help` shows them.
import type { Command } from 'commander';
import type { AnyToolchain } from '../contracts.js';
import type { CliIo } from '../io.js';
import type { ImageTraceFetcher } from '../trace-input.js';

export interface CliApp {
  version: string;
  /** Loaded on first use, so `--help` and usage errors never load the gRPC stack. */
  loadToolchain(): Promise<AnyToolchain>;
  /** Reads an image's verified runtime-trace attestation for `show`/`diff` (see cli/trace-input.ts); absent: images are refused. */
  fetchImageTrace?: ImageTraceFetcher;
}

export interface CommandContext {
  io: CliIo;
  app: CliApp;
  /** The app's toolchain, loaded once, on first use. */
  toolchain(): Promise<AnyToolchain>;
}

export interface CliCommand {
  register(program: Command, ctx: CommandContext): void;
}

/** For repeatable flags; no default given to commander, so that help shows none. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
