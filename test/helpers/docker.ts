// Building with the reference (BuildKit's own Dockerfile frontend on the daemon of this run)
// and with tracebuild, the same way, and looking after the images both make.
import { currentDaemon, dockerCli } from './daemons.js';
import { repoRoot, tracebuildCli } from './environment.js';
import { run, type RunResult } from './process.js';

export interface BuildOptions {
  /** Name(s) to tag the result with (-t). */
  tag?: string | readonly string[];
  /** The Dockerfile (-f); a relative path is taken from the repository root. */
  file?: string;
  /** --build-arg KEY=VALUE, in order. */
  buildArgs?: Readonly<Record<string, string>> | ReadonlyArray<readonly [string, string]>;
  noCache?: boolean;
  /** More arguments, placed before the context path. */
  extraArgs?: readonly string[];
  timeoutMs?: number;
}

export type BuildResult = RunResult;

const defaultBuildTimeoutMs = 300_000;

function commonArgs(options: BuildOptions): string[] {
  const args: string[] = [];
  const tags = options.tag === undefined ? [] : typeof options.tag === 'string' ? [options.tag] : options.tag;
  for (const t of tags) args.push('-t', t);
  if (options.file !== undefined) args.push('-f', options.file);
  const buildArgs = Array.isArray(options.buildArgs)
    ? (options.buildArgs as ReadonlyArray<readonly [string, string]>)
    : Object.entries(options.buildArgs ?? {});
  for (const [k, v] of buildArgs) args.push('--build-arg', `${k}=${v}`);
  if (options.noCache) args.push('--no-cache');
  args.push('--network', 'host', '--progress', 'plain');
  args.push(...(options.extraArgs ?? []));
  return args;
}

/** The oracle's build: `docker buildx build` (Docker 26) or `DOCKER_BUILDKIT=1 docker build` (20.10), `--network host --progress plain ... DIR`. */
export function dockerBuild(dir: string, options: BuildOptions = {}): Promise<BuildResult> {
  const { oracle, dockerHost } = currentDaemon();
  return run(oracle.command, [...oracle.args, ...commonArgs(options), dir], {
    cwd: repoRoot,
    env: { ...oracle.env, DOCKER_HOST: dockerHost },
    timeoutMs: options.timeoutMs ?? defaultBuildTimeoutMs,
  });
}

/** `node dist/cli/main.js build ... --network host --progress plain DIR` */
export function tracebuildBuild(dir: string, options: BuildOptions = {}): Promise<BuildResult> {
  return run(process.execPath, [tracebuildCli, 'build', ...commonArgs(options), dir], {
    cwd: repoRoot,
    timeoutMs: options.timeoutMs ?? defaultBuildTimeoutMs,
  });
}

/** `node dist/cli/main.js convert DIR [-f FILE] [--build-arg K=V]...`: the LLB and config, no build. */
export function tracebuildConvert(
  dir: string,
  options: Pick<BuildOptions, 'file' | 'buildArgs' | 'timeoutMs'> = {},
): Promise<RunResult> {
  const args: string[] = [];
  if (options.file !== undefined) args.push('-f', options.file);
  const buildArgs = Array.isArray(options.buildArgs)
    ? (options.buildArgs as ReadonlyArray<readonly [string, string]>)
    : Object.entries(options.buildArgs ?? {});
  for (const [k, v] of buildArgs) args.push('--build-arg', `${k}=${v}`);
  return run(process.execPath, [tracebuildCli, 'convert', ...args, dir], {
    cwd: repoRoot,
    timeoutMs: options.timeoutMs ?? 60_000,
  });
}

/** True when the daemon has an image by that name or id. */
export async function imageExists(tag: string): Promise<boolean> {
  const r = await run(dockerCli, ['image', 'inspect', '--format', '{{.Id}}', tag]);
  return r.exitCode === 0;
}

/** The image id (sha256:...) of a name, or undefined when there is none. */
export async function imageId(tag: string): Promise<string | undefined> {
  const r = await run(dockerCli, ['image', 'inspect', '--format', '{{.Id}}', tag]);
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** Removes the name (and the image when nothing else names it); no error when absent. */
export async function removeImage(tag: string): Promise<void> {
  if (!(await imageExists(tag))) return;
  const r = await run(dockerCli, ['rmi', '--force', tag]);
  if (r.exitCode !== 0 && (await imageExists(tag))) {
    throw new Error(`${r.command} failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  }
}

/**
 * A tag that no other run uses: `tracebuild-test/<what>:<builder>-<run id>`. Docker names
 * allow lowercase letters, digits and separators only, so `what` is folded to that.
 */
export function uniqueTag(what: string, builder: string): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '') || 'x';
  return `tracebuild-test/${clean(what)}:${clean(builder)}-${runId}`.slice(0, 255);
}

/** One id per test process, so that parallel or repeated runs never share a tag. */
export const runId = `${Date.now().toString(36)}-${process.pid.toString(36)}`;
