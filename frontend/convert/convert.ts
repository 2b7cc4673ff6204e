// Dockerfile -> LLB + image config + source map. Pure apart from the optional image
// config resolver and context listing. The flow mirrors BuildKit's Dockerfile2LLB:
//  1. prepare: the global scope (meta-args.ts), the stage table with its bases, the
//     target, what each stage reads from others (stages.ts), the stages the target
//     reaches, and their base image configs, resolved once (base-images.ts);
//  2. dispatch every reachable stage, instruction by instruction (dispatch/);
//  3. the target's LLB, image config, steps, and what the solve needs from the CLI.
//
// The build-context source must know every context path COPY/ADD use (local.followpaths),
// which is only known after dispatch; the builder is immutable, so stages are dispatched
// twice: a first pass to learn the paths, the second with the final context source.
// Wildcards of COPY --parents need a listing of the context, which is asynchronous while
// dispatch is not: a first pass that meets one is dispatched again once it is listed.
import type { DockerfileAst } from '../../dockerfile-parser/index.js';
import { LlbState, marshal, vertexDigests, decodeDefinition } from '../llb/index.js';
import type { LlbDefinition, MarshalOptions } from '../llb/index.js';
import { resolveBaseImages } from './base-images.js';
import { dispatchPass } from './dispatch/pass.js';
import type { Plan } from './dispatch/pass.js';
import { internalMetadata } from './dispatch/state.js';
import type { DispatchContext, DispatchState } from './dispatch/state.js';
import { ConvertError } from './errors.js';
import { imageToJSON } from './image.js';
import { frontendArgsFrom, globalScope } from './meta-args.js';
import { Capabilities } from './capabilities.js';
import { ParentsGlobs } from './parents.js';
import { DEFAULT_PLATFORM } from './platform.js';
import { addDependencies, findTarget, reachableFrom, SCRATCH, stageTable } from './stages.js';
import type { Conversion, ConvertOptions, BuildStep } from './types.js';

/** The stage table, the target and what it reaches, the global scope, the base images. */
async function prepare(opts: ConvertOptions): Promise<Plan> {
  const ast: DockerfileAst = opts.dockerfile;
  if (ast.stages.length === 0) throw new ConvertError('empty-dockerfile', ast.fileName, 0, 'the Dockerfile has no build stage');
  // `# syntax=` names a frontend image; tracebuild is the frontend, so the CLI notes it
  // and nothing else happens here.
  const targetPlatform = opts.platform ?? DEFAULT_PLATFORM;
  const buildPlatform = opts.platform ?? DEFAULT_PLATFORM;
  const scope = globalScope(ast, opts.buildArgs, buildPlatform, targetPlatform);
  const table = stageTable(ast, scope);
  const target = findTarget(table, opts.target);
  addDependencies(table);
  const reachable = reachableFrom(target);
  await resolveBaseImages(table, reachable, targetPlatform, opts.resolveImageConfig);
  return { infos: table.infos, target, reachable, metaArgs: scope.metaArgs, targetPlatform, frontendArgs: frontendArgsFrom(opts.buildArgs) };
}

/** Converts a parsed Dockerfile into an LLB definition, the image config and the source map. */
export async function convertDockerfile(opts: ConvertOptions): Promise<Conversion> {
  const plan = await prepare(opts);
  const caps = new Capabilities(opts.capabilities);
  const contextName = opts.contextName || 'context';
  const localOpts = { sessionId: opts.sessionId, sharedKeyHint: contextName, excludePatterns: opts.excludePatterns };

  const globs = new ParentsGlobs(opts.readContextDir, opts.excludePatterns, opts.dockerfile.fileName);
  const firstLocal = LlbState.local(contextName, localOpts);
  let first = dispatchPass(opts, plan, firstLocal, globs, caps);
  // resolve() answers every source the pass asked for, and the next pass asks for the same
  // ones, so this runs at most once.
  while (globs.hasPending) {
    await globs.resolve();
    first = dispatchPass(opts, plan, firstLocal, globs, caps);
  }
  let followPaths: string[] = [];
  if (!first.ctx.ctxPaths.has('/')) {
    followPaths = [...first.ctx.ctxPaths].map((p) => p.replace(/^\/+/, '')).sort();
  }
  const local = LlbState.local(contextName, { ...localOpts, followPaths });
  const { ctx, target } = dispatchPass(opts, plan, local, globs, caps);
  ctx.metadata.set(local, internalMetadata(ctx, '[internal] load build context'));

  const mopts: MarshalOptions = { defaultPlatform: plan.targetPlatform };
  const definition: LlbDefinition = marshal(target.llb, ctx.metadata, mopts);
  const inGraph = new Set(decodeDefinition(definition).map((o) => o.digest));
  const digestOf = vertexDigests(mopts);
  const vertexIn = (state: LlbState): string | undefined => {
    const vertex = digestOf(state);
    return vertex && inGraph.has(vertex) ? vertex : undefined;
  };

  return {
    definition,
    imageConfig: imageToJSON(targetImage(opts, plan, target)),
    steps: stepsInGraph(ctx, vertexIn),
    baseImages: baseImages(plan),
    localSources: vertexIn(local) ? [{ name: contextName, excludePatterns: [...opts.excludePatterns] }] : [],
    ...execRequirements(ctx, vertexIn),
  };
}

/** The target stage's image config, with --label and the platform of the build. */
function targetImage(opts: ConvertOptions, plan: Plan, target: DispatchState): DispatchState['image'] {
  const image = target.image;
  const labelKeys = Object.keys(opts.labels);
  if (labelKeys.length > 0) image.config.Labels = { ...(image.config.Labels ?? {}), ...opts.labels };
  if (opts.platform !== undefined) {
    image.os = plan.targetPlatform.os;
    image.architecture = plan.targetPlatform.architecture;
    if (plan.targetPlatform.variant) image.variant = plan.targetPlatform.variant;
    else delete image.variant;
  } else {
    if (!image.os) image.os = target.platform.os;
    if (!image.architecture) image.architecture = target.platform.architecture;
  }
  if (!image.rootfs.type) image.rootfs.type = 'layers';
  return image;
}

/** The steps whose vertex is in the graph (stages the target does not need have none). */
function stepsInGraph(ctx: DispatchContext, vertexIn: (s: LlbState) => string | undefined): BuildStep[] {
  const steps: BuildStep[] = [];
  for (const s of ctx.steps) {
    const vertex = vertexIn(s.state);
    if (!vertex) continue;
    steps.push({
      vertex,
      name: s.name,
      instruction: s.instruction,
      keyword: s.keyword,
      line: s.line,
      endLine: s.endLine,
      stage: s.stage,
      stageIndex: s.stageIndex,
      ...s.trace,
    });
  }
  return steps;
}

/** The base images the target needs, once each, as references and digests. */
function baseImages(plan: Plan): Conversion['baseImages'] {
  const out: Conversion['baseImages'] = [];
  const seenRefs = new Set<string>();
  for (const info of plan.infos) {
    if (!plan.reachable.has(info) || info.base || info.baseName === SCRATCH || info.resolved?.scratch) continue;
    if (seenRefs.has(info.baseName)) continue;
    seenRefs.add(info.baseName);
    const ref = info.resolved?.digest ? info.baseName.slice(0, info.baseName.lastIndexOf('@')) : info.baseName;
    out.push(info.resolved?.digest ? { ref, digest: info.resolved.digest } : { ref });
  }
  return out;
}

/** What the LLB needs from the CLI: entitlements, secrets and SSH agents of the execs
 * that are in the graph (stages the target does not need contribute nothing). */
function execRequirements(
  ctx: DispatchContext,
  vertexIn: (s: LlbState) => string | undefined,
): Pick<Conversion, 'entitlements' | 'secrets' | 'sshIds'> {
  let hostNet = false;
  let insecure = false;
  const secrets: Conversion['secrets'] = [];
  const sshIds: string[] = [];
  const seenSecret = new Set<string>();
  for (const e of ctx.execs) {
    if (!vertexIn(e.state)) continue;
    if (e.network === 'host') hostNet = true;
    if (e.security === 'insecure') insecure = true;
    for (const sec of e.secrets) {
      const key = `${sec.id}\0${sec.line}`;
      if (seenSecret.has(key)) continue;
      seenSecret.add(key);
      secrets.push({ id: sec.id, required: sec.required, line: sec.line });
    }
    for (const ssh of e.ssh) if (!sshIds.includes(ssh.id)) sshIds.push(ssh.id);
  }
  const entitlements: Conversion['entitlements'] = [];
  if (hostNet) entitlements.push('network.host');
  if (insecure) entitlements.push('security.insecure');
  return { entitlements, secrets, sshIds };
}

/** JSON for `tracebuild convert`: each op decoded with its digest and metadata, and the
 * instructions it came from. */
export function describeConversion(c: Conversion): unknown {
  const byVertex = new Map<string, BuildStep[]>();
  for (const s of c.steps) byVertex.set(s.vertex, [...(byVertex.get(s.vertex) ?? []), s]);
  const ops = decodeDefinition(c.definition).map((o) => {
    const entry: Record<string, unknown> = { digest: o.digest };
    if (o.terminal) entry['terminal'] = true;
    entry['op'] = o.op;
    if (o.metadata) entry['metadata'] = o.metadata;
    const from = byVertex.get(o.digest);
    if (from) {
      entry['instructions'] = from.map((s) => ({
        line: s.line,
        endLine: s.endLine,
        instruction: s.instruction,
        keyword: s.keyword,
        stage: s.stage,
        name: s.name,
      }));
    }
    return entry;
  });
  const out: Record<string, unknown> = {
    ops,
    imageConfig: c.imageConfig,
    baseImages: c.baseImages,
    localSources: c.localSources,
  };
  // Only when present, so conversions without them keep their golden files.
  if (c.entitlements.length > 0) out['entitlements'] = c.entitlements;
  if (c.secrets.length > 0) out['secrets'] = c.secrets;
  if (c.sshIds.length > 0) out['sshIds'] = c.sshIds;
  return out;
}
