// prepare: flags -> tags, build args, labels; PATH, Dockerfile and .dockerignore read;
// --secret values loaded (never printed, never put in the LLB or a trace).
import { parseBuildArgs, parseLabels } from '../args.js';
import type { DockerfileAstView } from '../contracts.js';
import { UsageError } from '../errors.js';
import { InvalidReferenceError, formatImageReference, parseImageReferenceWithDefaultTag, type ImageReferenceParts } from '../../common/index.js';
import { loadSecrets, parseSecretFlag } from '../secrets.js';
import { SecretRedactor } from './redact.js';
import { readBuildInputs } from './inputs.js';
import type { BuildPhase } from './types.js';

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

export function preparePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'prepare',
    run(run) {
      run.tags = normalizeTags(run.request.tags);
      run.buildArgs = parseBuildArgs(run.request.buildArgs, run.io.env);
      run.labels = parseLabels(run.request.labels);
      run.inputs = readBuildInputs(run.request, run.io.cwd);
      const sources = run.request.secrets.map((value) => parseSecretFlag(value, run.io.cwd, run.io.env));
      run.secrets = loadSecrets(sources, run.io.env);
      warnOfSecretBuildArgs(run.buildArgs, run.secrets, run.io.stderr);
    },
  };
}

