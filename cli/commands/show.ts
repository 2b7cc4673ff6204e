// `tracebuild show IMAGE|FILE [--html OUT] [--key PUB]`: the per-instruction table and each
// step's process tree, files and network; with --html, also a self-contained HTML report.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';
import { addTrustOptions, trustOptions, type TrustFlags } from './trust-flags.js';
import type { TrustOptions } from '../../verify/index.js';
import { renderHtmlReport } from '../report/html.js';
import { formatShowText } from '../report/text.js';
import { TracebuildError, writeFileAtomic, type ExitKind } from '../../common/index.js';
import { loadTraceInput, type ImageTraceFetcher } from '../trace-input.js';

/** What the trace commands need from the app: the image hook, the version for the report. */
export interface TraceCommandDeps {
  /** Fetches and verifies an image's runtime-trace attestation; absent: images cannot be read yet. */
  fetchImageTrace?: ImageTraceFetcher;
  version?: string;
}

export interface ShowRequest {
  /** IMAGE or FILE as given. */
  input: string;
  /** --html OUT */
  html?: string;
  /** --key PUB (repeatable). */
  keys: string[];
  /** Every trust flag; `keys` alone when absent. */
  trust?: TrustOptions;
}

/** Thrown when the report cannot be written; names the file. Exit 1. */
export class ReportWriteError extends TracebuildError<'cannot-write'> {
  override readonly name = 'ReportWriteError';
  readonly exit: ExitKind = 'input';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('cannot-write', message, options);
  }
}

async function writeReport(out: string, io: CliIo, content: string): Promise<string> {
  const path = resolve(io.cwd, out);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new ReportWriteError(out, `${out}: is a directory; --html needs a file name`);
  try {
    await writeFileAtomic(path, content);
  } catch (cause) {
    throw new ReportWriteError(out, `${out}: cannot write the report: ${(cause as Error).message}`, { cause });
  }
  return path;
}

export async function runShow(request: ShowRequest, io: CliIo, deps: TraceCommandDeps = {}): Promise<void> {
  const input = await loadTraceInput(request.input, {
    cwd: io.cwd,
    env: io.env,
    keyPaths: request.keys,
    ...(request.trust === undefined ? {} : { trust: request.trust }),
    ...(deps.fetchImageTrace === undefined ? {} : { fetchImageTrace: deps.fetchImageTrace }),
    ...(io.signal === undefined ? {} : { signal: io.signal }),
  });
  io.stdout.write(formatShowText(input));
  if (request.html !== undefined) {
    const content = renderHtmlReport(input, {
      generatedAt: new Date(io.clock.now()).toISOString(),
      ...(deps.version === undefined ? {} : { version: deps.version }),
    });
    await writeReport(request.html, io, content);
    io.stderr.write(`report written to ${request.html}\n`);
  }
}

/** Registers `show` on the program. */
export const showCommand: CliCommand = {
  register(program: Command, { io, app }) {
    const deps: TraceCommandDeps = { version: app.version, ...(app.fetchImageTrace === undefined ? {} : { fetchImageTrace: app.fetchImageTrace }) };
    const command = program
      .command('show')
      .description("print a build's per-instruction trace: table, process trees, files, network")
      .argument('<IMAGE|FILE>', 'a trace file, an in-toto statement or Sigstore bundle holding one, or an image')
      .option('--html <OUT>', 'also write a self-contained HTML report to OUT');
    addTrustOptions(command, "public key that must have signed the attestation (repeatable); with it (or --certificate-identity) a FILE must be a signed bundle")
      .action(async (input: string, flags: TrustFlags & { html?: string }) => {
        await runShow({ input, ...(flags.html === undefined ? {} : { html: flags.html }), keys: flags.key ?? [], trust: trustOptions(flags) }, io, deps);
      });
  },
};
