// For the CLI's unit tests: fakes of the sibling modules' located errors (errors of the
// common model, as the real ones are), running one command line with a string sink for its
// output, and the recorded BuildKit status streams of cli/progress.
import { readFileSync } from 'node:fs';
import { TracebuildError, type ExitKind } from '../../common/index.js';
import { runCli, type CliApp } from '../../cli/app.js';
import type { StatusBatch } from '../../cli/contracts.js';
import type { CliIo } from '../../cli/io.js';
import { repoRoot } from './environment.js';

export class FakeDockerfileError extends TracebuildError<'fake'> {
  override readonly name = 'DockerfileError';
  readonly exit: ExitKind = 'input';
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super('fake', `${file}:${line}: ${what}`, { location: { file, line } });
  }
}

export class FakeConvertError extends TracebuildError<'fake'> {
  override readonly name = 'ConvertError';
  readonly exit: ExitKind = 'input';
  constructor(
    readonly file: string,
    readonly line: number,
    what: string,
  ) {
    super('fake', line > 0 ? `${file}:${line}: ${what}` : `${file}: ${what}`, line > 0 ? { location: { file, line } } : {});
  }
}

export interface CommandResult {
  code: number;
  out: string;
  err: string;
}

/** Runs `tracebuild ARGS` in-process with no build toolchain (loading it fails the test). */
export async function runCommand(args: readonly string[], options: { cwd: string; app?: Partial<CliApp> }): Promise<CommandResult> {
  let out = '';
  let err = '';
  const io: CliIo = {
    stdout: { write: (s: string) => void (out += s) },
    stderr: { write: (s: string) => void (err += s) },
    env: {},
    cwd: options.cwd,
    clock: { now: () => 0 },
    ticker: () => () => undefined,
  };
  const code = await runCli(args, io, {
    version: 'test',
    loadToolchain: () => Promise.reject(new Error(`${args[0] ?? 'the command'} must not load the build toolchain`)),
    ...options.app,
  });
  return { code, out, err };
}

/** A recorded status stream of cli/progress/testdata: times are ms after `t0`, log data is text. */
export function recordedBatches(name: string, t0: number): StatusBatch[] {
  const raw = JSON.parse(readFileSync(`${repoRoot}/cli/progress/testdata/${name}.json`, 'utf8')) as {
    batches: Record<string, Record<string, unknown>[] | undefined>[];
  };
  const date = (v: unknown) => (typeof v === 'number' ? new Date(t0 + v) : undefined);
  const times = (o: Record<string, unknown>) => {
    const out: Record<string, unknown> = { ...o };
    for (const k of ['started', 'completed', 'timestamp']) if (k in o) out[k] = date(o[k]);
    if (typeof o.data === 'string') out.data = new TextEncoder().encode(o.data);
    return out;
  };
  return raw.batches.map((b) => ({
    vertexes: (b.vertexes ?? []).map(times),
    statuses: (b.statuses ?? []).map(times),
    logs: (b.logs ?? []).map(times),
  })) as unknown as StatusBatch[];
}
