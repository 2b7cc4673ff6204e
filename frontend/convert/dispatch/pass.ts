// One dispatch pass over the stages the target needs, as BuildKit's converter dispatches
// its states: every stage gets its initial state (its base image, scratch, or the state
// of the stage it is based on), then its base image's ONBUILD triggers and its own
// instructions are dispatched in order, each by its instruction's function.
import { ExpansionBudget, parseDockerfile } from '../../../dockerfile-parser/index.js';
import type { DockerfileAst, Instruction } from '../../../dockerfile-parser/index.js';
import { LlbState } from '../../llb/index.js';
import type { VertexMetadata } from '../../llb/index.js';
import { ConvertError } from '../errors.js';
import { cloneImage, defaultPathEnv, emptyImage, parseImage } from '../image.js';
import type { MetaArgs } from '../meta-args.js';
import { proxyEnvFrom } from '../meta-args.js';
import type { Capabilities } from '../capabilities.js';
import type { ParentsGlobs } from '../parents.js';
import { SCRATCH } from '../stages.js';
import type { StageInfo } from '../stages.js';
import type { ConvertOptions, Platform } from '../types.js';
import { EnvList, parseKeyValue } from '../util.js';
import {
  applyBaseWorkdir,
  dispatchArg,
  dispatchCmd,
  dispatchEntrypoint,
  dispatchEnv,
  dispatchExpose,
  dispatchHealthcheck,
  dispatchLabel,
  dispatchMaintainer,
  dispatchOnbuild,
  dispatchShell,
  dispatchStopSignal,
  dispatchUser,
  dispatchVolume,
  dispatchWorkdir,
} from './config.js';
import { dispatchCopy } from './copy.js';
import { dispatchRun } from './run.js';
import { fail, prefixCommand } from './state.js';
import type { DispatchContext, DispatchState, FrontendArgs } from './state.js';

/** What every pass dispatches from, fixed once the conversion is prepared. */
export interface Plan {
  /** The stage table (stages, then images named by COPY --from and RUN --mount from=). */
  infos: StageInfo[];
  target: StageInfo;
  /** The target and what it needs: the only stages dispatched. */
  reachable: Set<StageInfo>;
  metaArgs: MetaArgs;
  targetPlatform: Platform;
  frontendArgs: FrontendArgs;
}

export interface PassResult {
  ctx: DispatchContext;
  target: DispatchState;
}

/** Dispatches every reachable stage with the given build-context source. */
export function dispatchPass(opts: ConvertOptions, plan: Plan, buildContext: LlbState, parentsGlobs: ParentsGlobs, caps: Capabilities): PassResult {
  const ast = opts.dockerfile;
  const file = ast.fileName;
  const ctx: DispatchContext = {
    file,
    escape: ast.directives.escape,
    expansionBudget: new ExpansionBudget(),
    metaArgs: plan.metaArgs,
    buildArgs: opts.buildArgs,
    network: opts.network === 'default' ? 'sandbox' : opts.network,
    noCache: opts.noCache,
    targetPlatform: plan.targetPlatform,
    buildContext,
    states: new Map(),
    metadata: new Map(),
    steps: [],
    ctxPaths: new Set(),
    execs: [],
    parentsGlobs,
    caps,
    frontendArgs: plan.frontendArgs,
  };
  const pe = proxyEnvFrom(opts.buildArgs);
  if (pe) ctx.proxyEnv = pe;

  // Initial states (base images and scratch) for every stage, as BuildKit sets them up
  // before dispatching: a COPY --from names the source stage's state at that point.
  for (const info of plan.infos) {
    if (!plan.reachable.has(info) || info.base) continue;
    ctx.states.set(info, initialState(ctx, info, plan.targetPlatform));
  }

  for (const info of plan.infos) {
    if (!plan.reachable.has(info)) continue;
    let d = ctx.states.get(info);
    if (info.base) {
      const base = ctx.states.get(info.base);
      if (!base) throw new ConvertError('invalid-instruction', file, info.fromLine, `base stage ${info.base.stepStage} was not built`);
      d = {
        info,
        llb: base.llb,
        image: cloneImage(base.image),
        env: base.env,
        dir: base.dir,
        user: base.user,
        platform: base.platform,
        buildArgs: [],
        cmdSet: false,
        cmdIndex: 0,
      };
      ctx.states.set(info, d);
    }
    if (!d) continue;
    try {
      dispatchStage(ctx, d);
    } catch (e) {
      if (e instanceof ConvertError) throw e;
      throw new ConvertError('invalid-instruction', file, info.fromLine, (e as Error).message, { cause: e });
    }
  }
  const target = ctx.states.get(plan.target) as DispatchState;
  return { ctx, target };
}

/** A stage that is not based on another stage: its base image (a FROM step), or scratch. */
function initialState(ctx: DispatchContext, info: StageInfo, targetPlatform: Platform): DispatchState {
  const platform = info.platform ?? targetPlatform;
  const d: DispatchState = {
    info,
    llb: LlbState.scratch(),
    image: emptyImage(targetPlatform),
    env: EnvList.empty(),
    dir: '/',
    user: '',
    platform,
    buildArgs: [],
    cmdSet: false,
    cmdIndex: 0,
  };
  if (info.baseName === SCRATCH) return d;
  if (info.resolved) d.image = cloneImage(info.resolved.image);
  else d.image = parseImage({});
  if (info.resolved?.scratch) return d;
  d.llb = LlbState.image(info.baseName, { platform });
  const name = prefixCommand(d, `FROM ${info.baseName}`);
  const md: VertexMetadata = { description: { 'com.docker.dockerfile.v1.command': info.fromText, 'llb.customname': name } };
  if (ctx.noCache) md.ignore_cache = true;
  ctx.metadata.set(d.llb, md);
  if (!info.unregistered) {
    ctx.steps.push({
      state: d.llb,
      name,
      instruction: info.fromText,
      keyword: 'FROM',
      line: info.fromLine,
      endLine: info.fromEndLine,
      stage: info.stepStage,
      stageIndex: info.index,
    });
  }
  return d;
}

function dispatchStage(ctx: DispatchContext, d: DispatchState): void {
  const img = d.image;
  // PATH is always set.
  const env = img.config.Env ?? [];
  if (!env.some((e) => parseKeyValue(e)[0] === 'PATH')) img.config.Env = [...env, 'PATH=' + defaultPathEnv(d.platform.os)];
  for (const e of img.config.Env ?? []) {
    const [k, v] = parseKeyValue(e);
    d.env = d.env.addOrReplace(k, v);
  }
  if (img.config.WorkingDir) applyBaseWorkdir(d, img.config.WorkingDir);
  if (img.config.User) d.user = img.config.User;

  const triggers = img.config.OnBuild ?? [];
  for (const t of triggers) dispatch(ctx, d, parseTrigger(ctx.file, t, d.info.fromLine), undefined);
  delete img.config.OnBuild;

  d.info.instructions.forEach((inst, i) => dispatch(ctx, d, inst, i));
}

/** An ONBUILD trigger of a base image, parsed as one instruction reported at the FROM line. */
function parseTrigger(file: string, trigger: string, line: number): Instruction {
  let parsed: DockerfileAst;
  try {
    parsed = parseDockerfile(`FROM scratch\n${trigger}\n`, file);
  } catch (e) {
    throw new ConvertError('invalid-instruction', file, line, `invalid ONBUILD trigger ${JSON.stringify(trigger)}: ${(e as Error).message}`, { cause: e });
  }
  const insts = parsed.stages[0]?.instructions ?? [];
  if (parsed.stages.length !== 1 || insts.length !== 1) throw new ConvertError('invalid-instruction', file, line, 'onbuild trigger should be a single expression');
  const inst = insts[0] as Instruction;
  // Report the trigger at the FROM line that brought it in.
  return { ...inst, range: { startLine: line, endLine: line } } as Instruction;
}

/** One instruction, by its keyword's function. `index` is its position in the stage (the
 * stage table's COPY --from and RUN --mount sources); undefined for ONBUILD triggers. */
function dispatch(ctx: DispatchContext, d: DispatchState, inst: Instruction, index: number | undefined): void {
  switch (inst.keyword) {
    case 'MAINTAINER':
      return dispatchMaintainer(d, inst);
    case 'ENV':
      return dispatchEnv(ctx, d, inst);
    case 'RUN':
      return dispatchRun(ctx, d, inst, index);
    case 'WORKDIR':
      return dispatchWorkdir(ctx, d, inst);
    case 'ADD':
    case 'COPY':
      return dispatchCopy(ctx, d, inst, index);
    case 'LABEL':
      return dispatchLabel(ctx, d, inst);
    case 'ONBUILD':
      return dispatchOnbuild(d, inst);
    case 'CMD':
      return dispatchCmd(d, inst);
    case 'ENTRYPOINT':
      return dispatchEntrypoint(d, inst);
    case 'HEALTHCHECK':
      return dispatchHealthcheck(ctx, d, inst);
    case 'EXPOSE':
      return dispatchExpose(ctx, d, inst);
    case 'USER':
      return dispatchUser(ctx, d, inst);
    case 'VOLUME':
      return dispatchVolume(ctx, d, inst);
    case 'STOPSIGNAL':
      return dispatchStopSignal(ctx, d, inst);
    case 'SHELL':
      return dispatchShell(d, inst);
    case 'ARG':
      return dispatchArg(ctx, d, inst);
    case 'FROM':
      return fail(ctx, inst.range.startLine, 'invalid-instruction', 'FROM cannot be used here');
  }
}
