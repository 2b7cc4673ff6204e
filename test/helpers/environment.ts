// The environment integration tests run in: dockerd with its BuildKit, the offline base
// image busybox:local and the registry, all brought up by the project's own scripts/env.sh;
// and the built CLI (dist/cli/main.js).
//
// Outside CI an integration test may skip, with a printed reason, when dockerd cannot be
// had (not root, no Docker); in CI (CI=true) it never skips: it fails with that reason.
import { existsSync, readdirSync, statSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { currentDaemon, dockerCli } from './daemons.js';
import { run } from './process.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const testdataDir = path.join(repoRoot, 'testdata');
/**
 * The CLI under test: dist/cli/main.js, or the file TRACEBUILD_CLI names (an installed
 * build, or a stand-in when checking the harness itself; then nothing is built).
 */
export const tracebuildCli = process.env.TRACEBUILD_CLI
  ? path.resolve(process.env.TRACEBUILD_CLI)
  : path.join(repoRoot, 'dist', 'cli', 'main.js');
export const baseImage = 'busybox:local';

export interface EnvironmentStatus {
  /** dockerd answers on its socket and the base image is there. */
  ok: boolean;
  dockerUp: boolean;
  baseImagePresent: boolean;
  /** Why not ok (empty when ok). */
  reason: string;
  /** What scripts/env.sh printed (its stderr), for diagnosis. */
  envLog: string;
}

/** True when running under CI (the CI runner sets CI=true). */
export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** GET /_ping on the Docker socket: true when dockerd answers OK. */
export function dockerAnswers(timeoutMs = 2000): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.request({ socketPath: currentDaemon().socket, path: '/_ping', method: 'GET', timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
    req.end();
  });
}

let environment: Promise<EnvironmentStatus> | undefined;

/**
 * Runs `bash scripts/env.sh` once per test process (memoized) and reports whether dockerd
 * is up and the base image present. Never throws: a failure is reported in the status.
 */
export function ensureEnvironment(): Promise<EnvironmentStatus> {
  environment ??= (async (): Promise<EnvironmentStatus> => {
    const script = await run('bash', [path.join(repoRoot, 'scripts', 'env.sh')], { cwd: repoRoot, timeoutMs: 600_000 });
    const envLog = (script.stdout + script.stderr).trim();
    const dockerUp = await dockerAnswers();
    const baseImagePresent = dockerUp
      ? (await run(dockerCli, ['image', 'inspect', '--format', '{{.Id}}', baseImage], { env: { DOCKER_HOST: currentDaemon().dockerHost } })).exitCode === 0
      : false;
    const problems: string[] = [];
    if (script.exitCode !== 0) {
      problems.push(`scripts/env.sh exited ${script.exitCode}: ${lastLines(envLog, 5)}`);
    }
    if (!dockerUp) problems.push(`${currentDaemon().name} does not answer on ${currentDaemon().socket}`);
    else if (!baseImagePresent) problems.push(`the base image ${baseImage} is missing`);
    const ok = dockerUp && baseImagePresent;
    return { ok, dockerUp, baseImagePresent, reason: ok ? '' : problems.join('; '), envLog };
  })();
  return environment;
}

/** What integrationGate() decided for a test file. */
export interface IntegrationGate {
  /** True when the tests must be skipped (never true in CI). */
  skip: boolean;
  reason: string;
}

/**
 * For the top level of a test file (`const gate = await integrationGate();` then
 * `describe.skipIf(gate.skip)(...)`): ensures the environment, prints why it skips, and
 * throws in CI when the environment is not usable, so that the file fails.
 */
export async function integrationGate(): Promise<IntegrationGate> {
  const env = await ensureEnvironment();
  if (env.ok) return { skip: false, reason: '' };
  if (inCI()) {
    throw new Error(`integration environment unavailable in CI (CI=${process.env.CI}): ${env.reason}\n${env.envLog}`);
  }
  const reason = `skipping integration tests: ${env.reason} (set CI=true to make this a failure)`;
  console.warn(reason);
  return { skip: true, reason };
}

/** The part of vitest's TestContext that requireIntegration needs. */
export interface SkippableContext {
  skip: (note?: string) => never;
}

/**
 * For a test or beforeAll body: `await requireIntegration(ctx)`. Skips the test with a
 * printed reason when dockerd is unreachable outside CI; in CI throws instead.
 */
export async function requireIntegration(ctx: SkippableContext): Promise<EnvironmentStatus> {
  const env = await ensureEnvironment();
  if (env.ok) return env;
  if (inCI()) {
    throw new Error(`integration environment unavailable in CI: ${env.reason}\n${env.envLog}`);
  }
  const reason = `skipping: ${env.reason} (set CI=true to make this a failure)`;
  console.warn(reason);
  return ctx.skip(reason);
}

let cliBuilt: Promise<string> | undefined;

/** The folders `npm run build` compiles (tsconfig.json's include). */
const productDirs = ['common', 'model', 'engine', 'dockerfile-parser', 'frontend', 'tracer', 'attest', 'oci', 'verify', 'agent', 'cli'];

/** The newest modification time of a product TypeScript source (not tests), in ms. */
function newestSourceMtime(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, d.name);
      if (d.isDirectory()) {
        if (d.name !== 'node_modules' && !d.name.startsWith('.')) walk(p);
      } else if (d.isFile() && d.name.endsWith('.ts') && !d.name.endsWith('.test.ts')) {
        newest = Math.max(newest, statSync(p).mtimeMs);
      }
    }
  };
  for (const dir of productDirs) {
    const p = path.join(repoRoot, dir);
    if (existsSync(p)) walk(p);
  }
  return newest;
}

/** True when dist/cli/main.js is missing or older than a source it is built from. */
export function cliIsStale(): boolean {
  return !existsSync(tracebuildCli) || statSync(tracebuildCli).mtimeMs < newestSourceMtime();
}

/**
 * Makes sure dist/cli/main.js exists and is not older than the sources: runs
 * `npm run build` once per test process (memoized) when it is missing or stale. Resolves to
 * the CLI path; rejects with the end of the build output when the build fails.
 */
export function ensureCliBuilt(): Promise<string> {
  cliBuilt ??= (async () => {
    if (process.env.TRACEBUILD_CLI) {
      if (!existsSync(tracebuildCli)) throw new Error(`TRACEBUILD_CLI=${process.env.TRACEBUILD_CLI} does not exist`);
      return tracebuildCli;
    }
    if (!cliIsStale()) return tracebuildCli;
    const build = await run('npm', ['run', 'build'], { cwd: repoRoot, timeoutMs: 600_000 });
    if (build.exitCode !== 0 || !existsSync(tracebuildCli)) {
      throw new Error(
        `\`npm run build\` did not produce ${path.relative(repoRoot, tracebuildCli)} (exit ${build.exitCode}):\n` +
          lastLines(build.stdout + build.stderr, 40),
      );
    }
    return tracebuildCli;
  })();
  return cliBuilt;
}

/** The last n lines of a text, for error messages. */
export function lastLines(text: string, n: number): string {
  const lines = text.trimEnd().split('\n');
  return lines.slice(Math.max(0, lines.length - n)).join('\n');
}
