// prepare: flags -> tags, build args, labels; PATH, Dockerfile and .dockerignore read;
// --secret values loaded (never printed, never put in the LLB or a trace).
import { parseBuildArgs, parseLabels } from '../args.js';
import type { DockerfileAstView } from '../contracts.js';
import { UsageError } from '../errors.js';
import { InvalidReferenceError, normalizeTag, type NormalizedReference } from '../reference.js';
import { loadSecrets, parseSecretFlag } from '../secrets.js';
import { readBuildInputs } from './inputs.js';
import type { BuildPhase } from './types.js';

/** Tags validated and normalized like `docker build -t` (duplicates dropped). */
export function normalizeTags(tags: readonly string[]): NormalizedReference[] {
  const out: NormalizedReference[] = [];
  for (const tag of tags) {
    let ref: NormalizedReference;
    try {
      ref = normalizeTag(tag);
    } catch (err) {
      if (err instanceof InvalidReferenceError) {
        throw new UsageError('invalid-tag', `invalid argument "${tag}" for "-t, --tag" flag: ${err.message}`);
      }
      throw err;
    }
    if (!out.some((r) => r.normalized === ref.normalized)) out.push(ref);
  }
  return out;
}

export function preparePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'prepare',
    run(run) {
      run.tags = normalizeTags(run.request.tags);
      run.buildArgs = parseBuildArgs(run.request.buildArgs, run.io.env);
      run.labels = parseLabels(run.request.labels);
      run.inputs = readBuildInputs(run.request, run.io.cwd);
      const sources = run.request.secrets.map((value) => parseSecretFlag(value, run.io.cwd));
      run.secrets = loadSecrets(sources, run.io.env);
    },
  };
}

