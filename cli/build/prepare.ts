// prepare: flags -> tags, build args, labels; PATH, Dockerfile and .dockerignore read;
// --secret values loaded (never printed, never put in the LLB or a trace).
import { parseBuildArgs, parseLabels } from '../args.js';
import type { DockerfileAstView } from '../contracts.js';
import { UsageError } from '../errors.js';
import { InvalidReferenceError, formatImageReference, parseImageReferenceWithDefaultTag, type ImageReferenceParts } from '../../common/index.js';
import { loadSecrets, parseSecretFlag } from '../secrets.js';
import { SecretRedactor } from './redact.js';
import { parseBuildContexts } from './build-contexts.js';
import { resolveCacheImports } from './cache.js';
import { readBuildInputs } from './inputs.js';
import { parseSshFlags } from './ssh.js';
import { startKeyAgent } from './ssh-key-agent.js';
import { DEFAULT_PLATFORM, parsePlatformFlags } from './platforms.js';
import type { BuildPhase, BuildRun } from './types.js';

/** A `-t` name, as `docker build -t` reads it: `latest` by default, never a digest. */
export function parseTag(tag: string): ImageReferenceParts {
  let ref: ImageReferenceParts;
  try {
    ref = parseImageReferenceWithDefaultTag(tag);
  } catch (err) {
    if (err instanceof InvalidReferenceError) {
      throw new UsageError('invalid-tag', `invalid argument "${tag}" for "-t, --tag" flag: ${err.reason}`);
    }
    throw err;
  }
  if (ref.digest !== undefined) {
    throw new UsageError('invalid-tag', `invalid argument "${tag}" for "-t, --tag" flag: invalid reference format: a tag cannot contain a digest`);
  }
  return ref;
}

/** Tags validated and normalized like `docker build -t` (duplicates dropped). */
export function normalizeTags(tags: readonly string[]): ImageReferenceParts[] {
  const out: ImageReferenceParts[] = [];
  for (const tag of tags) {
    const ref = parseTag(tag);
    if (!out.some((r) => formatImageReference(r) === formatImageReference(ref))) out.push(ref);
  }
  return out;
}

/** A build arg that carries a secret is redacted in the trace and the provenance, but the
 * image's history records build args as given (as with docker build): say so. */
function warnOfSecretBuildArgs(
  buildArgs: Readonly<Record<string, string>>,
  secrets: Readonly<Record<string, Uint8Array>>,
  stderr: { write(text: string): void },
): void {
  const redactor = new SecretRedactor(secrets);
  for (const name of Object.keys(buildArgs).sort()) {
    if (!redactor.carries(buildArgs[name]!)) continue;
    stderr.write(`warning: build arg ${name} carries a --secret value: it is redacted from the trace and the provenance, but a RUN step that sees it records it in the image's history; pass it with --secret only\n`);
  }
}

/** The agent socket of each --ssh id; key files get a private agent, gone when the build ends. */
async function sshAgents<Ast extends DockerfileAstView, Def, E>(values: readonly string[], run: BuildRun<Ast, Def, E>): Promise<Record<string, string>> {
  const sources = parseSshFlags(values, run.io.cwd, run.io.env);
  const sockets: Record<string, string> = {};
  for (const [id, source] of Object.entries(sources)) {
    if (source.kind === 'socket') {
      sockets[id] = source.path;
      continue;
    }
    const flag = values.find((v) => v === id || v.startsWith(`${id}=`)) ?? id;
    const agent = await startKeyAgent(flag, source.paths);
    run.defer(() => agent.close());
    sockets[id] = agent.socket;
  }
  return sockets;
}

export function preparePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'prepare',
    async run(run) {
      run.tags = normalizeTags(run.request.tags);
      run.buildArgs = parseBuildArgs(run.request.buildArgs, run.io.env);
      run.labels = parseLabels(run.request.labels);
      run.inputs = readBuildInputs(run.request, run.io.cwd);
      if (run.request.platforms !== undefined) {
        const platform = parsePlatformFlags(run.request.platforms);
        if (platform !== undefined) run.platform = platform;
      }
      if (run.request.cache !== undefined) run.cache = resolveCacheImports(run.request.cache, run.io.cwd);
      if (run.request.buildContexts !== undefined) run.buildContexts = parseBuildContexts(run.request.buildContexts, run.io.cwd, run.platform ?? DEFAULT_PLATFORM);
      const sources = run.request.secrets.map((value) => parseSecretFlag(value, run.io.cwd, run.io.env));
      run.secrets = loadSecrets(sources, run.io.env);
      warnOfSecretBuildArgs(run.buildArgs, run.secrets, run.io.stderr);
      if (run.request.ssh !== undefined) run.sshAgents = await sshAgents(run.request.ssh, run);
    },
  };
}

