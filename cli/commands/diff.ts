// `tracebuild diff A B [--json] [--key PUB]`: what changed between two builds' traces, per
// Dockerfile instruction (attest's diffTraces/formatDiff). Exit status like diff(1): 0 the
// traces are the same, 1 they differ, 2 trouble (bad usage, an input that cannot be read).
// The diff goes to stdout; notes about unverified inputs go to stderr.

import type { Command } from 'commander';
import { describeError, ExitStatus } from '../errors.js';
import type { CliIo } from '../io.js';
import type { CliCommand } from './command.js';
import { addTrustOptions, trustOptions, type TrustFlags } from './trust-flags.js';
import type { TrustOptions } from '../../verify/index.js';
import { visible } from '../../common/index.js';
import { loadTraceInput, type TraceInput, type TraceSource } from '../trace-input.js';
import type { TraceCommandDeps } from './show.js';

export interface DiffRequest {
  a: string;
  b: string;
  json: boolean;
  keys: string[];
  /** Every trust flag; `keys` alone when absent. */
  trust?: TrustOptions;
}

/** Exit statuses of `diff`, as diff(1) has them. */
export const DIFF_EXIT = { same: 0, different: 1, trouble: 2 } as const;

function label(source: TraceSource): string {
  return visible(source.kind === 'image' ? source.image : source.path);
}

/** A copy of plain JSON data with every string made visible (for the terminal; the JSON keeps them as they are). */
function visibleStrings<T>(value: T): T {
  if (typeof value === 'string') return visible(value) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => visibleStrings(v)) as T;
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, visibleStrings(v)])) as T;
  }
  return value;
}

function unverifiedNote(source: TraceSource): string | undefined {
  if (source.kind === 'file' && !source.verified && source.format !== 'trace') {
    return `note: ${visible(source.path)}: not verified: use \`tracebuild verify\``;
  }
  return undefined;
}

/** Awaits both; rejects with the first rejection in the pair's order. */
async function inOrder<T>(promises: [Promise<T>, Promise<T>]): Promise<[T, T]> {
  const [first, second] = await Promise.allSettled(promises);
  if (first.status === 'rejected') throw first.reason;
  if (second.status === 'rejected') throw second.reason;
  return [first.value, second.value];
}

/** Returns the exit status (0 same, 1 different); throws on trouble. */
export async function runDiff(request: DiffRequest, io: CliIo, deps: TraceCommandDeps = {}): Promise<number> {
  const load = (arg: string): Promise<TraceInput> =>
    loadTraceInput(arg, {
      cwd: io.cwd,
      env: io.env,
      keyPaths: request.keys,
      ...(request.trust === undefined ? {} : { trust: request.trust }),
      ...(deps.fetchImageTrace === undefined ? {} : { fetchImageTrace: deps.fetchImageTrace }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
    });
  // Both load at once, but a failure is reported in argument order: with two bad inputs the
  // error names the first, whichever failed first (Promise.all would name the quicker one).
  const [a, b] = await inOrder([load(request.a), load(request.b)]);
  for (const s of [a.source, b.source]) {
    const note = unverifiedNote(s);
    if (note !== undefined) io.stderr.write(`${note}\n`);
  }
  // loaded here, not with the module: attest's index loads sigstore, ~0.3 s that every
  // command (`tracebuild build` too) would otherwise pay at startup
  const { diffTraces, formatDiff } = await import('../../attest/index.js');
  const diff = diffTraces(a.trace, b.trace);
  if (request.json) io.stdout.write(`${JSON.stringify(diff, null, 2)}\n`);
  else io.stdout.write(formatDiff(visibleStrings(diff), { labelA: label(a.source), labelB: label(b.source) }));
  return diff.identical ? DIFF_EXIT.same : DIFF_EXIT.different;
}

/** Registers `diff` on the program. Any failure exits 2, never 1 (which means "differ"). */
export const diffCommand: CliCommand = {
  register(program: Command, { io, app }) {
    const deps: TraceCommandDeps = { version: app.version, ...(app.fetchImageTrace === undefined ? {} : { fetchImageTrace: app.fetchImageTrace }) };
    const command = program
      .command('diff')
      .description('compare what two builds did, per instruction; exit 0 same, 1 different, 2 trouble (like diff(1))')
      .argument('<A>', 'trace file, statement or bundle file, or image')
      .argument('<B>', 'trace file, statement or bundle file, or image')
      .option('--json', 'print the differences as JSON');
    addTrustOptions(command, 'public key that must have signed the attestations (repeatable); with it (or --certificate-identity) both inputs must be signed')
      .action(async (a: string, b: string, flags: TrustFlags & { json?: boolean }) => {
        let status: number;
        try {
          status = await runDiff({ a, b, json: flags.json === true, keys: flags.key ?? [], trust: trustOptions(flags) }, io, deps);
        } catch (err) {
          const report = describeError(err);
          if (report.kind === 'canceled') throw err;
          throw new ExitStatus(DIFF_EXIT.trouble, report.message, { cause: err });
        }
        if (status !== DIFF_EXIT.same) throw new ExitStatus(status);
      });
  },
};
