// What every instruction's dispatch function works on: the stage being built (its LLB
// state, image config and LLB-side env/dir/user), the pass's context, and the helpers
// they share (expansion in the stage's scope, progress names, history, step records).
import { expandWord, expandWords, ExpansionError, type ExpansionBudget } from '../../../dockerfile-parser/index.js';
import type { CommandForm, EscapeChar, Instruction } from '../../../dockerfile-parser/index.js';
import type { LlbState, ProxyEnv, VertexMetadata } from '../../llb/index.js';
import type { Capabilities } from '../capabilities.js';
import { ConvertError } from '../errors.js';
import type { ConvertErrorCode } from '../errors.js';
import type { ImageSpec } from '../image.js';
import type { MetaArgs } from '../meta-args.js';
import type { ParentsGlobs } from '../parents.js';
import type { StageInfo } from '../stages.js';
import type { BuildStep, Platform } from '../types.js';
import type { EnvList } from '../util.js';

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** One stage while a pass dispatches it. */
export interface DispatchState {
  info: StageInfo;
  llb: LlbState;
  image: ImageSpec;
  /** The LLB-side environment (config Env + ARG values), as RUN sees it. */
  env: EnvList;
  dir: string;
  user: string;
  platform: Platform;
  buildArgs: { key: string; value?: string }[];
  cmdSet: boolean;
  cmdIndex: number;
}

/** A secret or SSH agent an exec uses (ids as the session serves them). */
export interface SecretUse {
  id: string;
  required: boolean;
  line: number;
}

export interface ExecRecord {
  state: LlbState;
  network: 'sandbox' | 'host' | 'none';
  security: 'sandbox' | 'insecure';
  secrets: SecretUse[];
  ssh: SecretUse[];
}

/** BuildStep's fields for the tracer: RUN's exec args, COPY/ADD's sources. */
export type StepTraceInfo = Pick<BuildStep, 'execArgs' | 'copySources' | 'copyDestination' | 'copyFrom'>;

/** A BuildStep as dispatch records it: its LLB state stands for the vertex, which is
 * known once the graph is marshalled. */
export interface PendingStep extends Omit<BuildStep, 'vertex' | keyof StepTraceInfo> {
  state: LlbState;
  /** What the tracer needs to match the step. */
  trace?: StepTraceInfo;
}

/** What every instruction function can see. */
export interface DispatchContext {
  file: string;
  escape: EscapeChar;
  /** What every expansion of this pass may make together (a hostile Dockerfile's
   * variables cannot fill the heap). */
  expansionBudget: ExpansionBudget;
  /** Global ARGs (platform args first), build-arg overrides applied. */
  metaArgs: MetaArgs;
  buildArgs: Record<string, string>;
  proxyEnv?: ProxyEnv;
  network: 'sandbox' | 'host' | 'none';
  noCache: boolean;
  targetPlatform: Platform;
  buildContext: LlbState;
  states: Map<StageInfo, DispatchState>;
  metadata: Map<LlbState, VertexMetadata>;
  steps: PendingStep[];
  /** Context paths used by COPY/ADD (for local.followpaths). */
  ctxPaths: Set<string>;
  /** Every exec made (RUN), with what the CLI must provide or allow for it. */
  execs: ExecRecord[];
  /** Wildcard matches of COPY --parents in the build context (shared by the passes). */
  parentsGlobs: ParentsGlobs;
  /** What the daemon can run (capabilities.ts). */
  caps: Capabilities;
  /** Build arguments BuildKit's frontend reads itself (meta-args.ts). */
  frontendArgs: FrontendArgs;
}

/** The build arguments BuildKit's own Dockerfile frontend reads as options. */
export interface FrontendArgs {
  /** BUILDKIT_SANDBOX_HOSTNAME: the hostname of every RUN. */
  hostname?: string;
  /** BUILDKIT_CACHE_MOUNT_NS: prefixed to every cache mount id. */
  cacheMountNs: string;
}

export function fail(ctx: DispatchContext, line: number, code: ConvertErrorCode, what: string, cause?: unknown): never {
  throw new ConvertError(code, ctx.file, line, what, cause === undefined ? undefined : { cause });
}

export function lookupIn(env: EnvList): (name: string) => string | undefined {
  return (name) => env.get(name);
}

/** ProcessWord against the stage's env. */
export function expand(ctx: DispatchContext, d: DispatchState, inst: Instruction, word: string): string {
  try {
    return expandWord(word, lookupIn(d.env), ctx.escape, ctx.expansionBudget);
  } catch (e) {
    if (e instanceof ExpansionError) fail(ctx, inst.range.startLine, 'expansion-failed', e.message, e);
    throw e;
  }
}

/** ProcessWords (splits at unquoted whitespace) against the stage's env. */
export function expandSplit(ctx: DispatchContext, d: DispatchState, inst: Instruction, word: string): string[] {
  try {
    return expandWords(word, lookupIn(d.env), ctx.escape, ctx.expansionBudget);
  } catch (e) {
    if (e instanceof ExpansionError) fail(ctx, inst.range.startLine, 'expansion-failed', e.message, e);
    throw e;
  }
}

/** The instruction text with variables expanded, for vertex names (falls back to the text). */
export function displayText(ctx: DispatchContext, d: DispatchState, text: string): string {
  try {
    return expandWord(text, lookupIn(d.env), ctx.escape, ctx.expansionBudget);
  } catch {
    return text;
  }
}

export function uppercaseCmd(s: string): string {
  const i = s.indexOf(' ');
  return i < 0 ? s.toUpperCase() : s.slice(0, i).toUpperCase() + s.slice(i);
}

/** `[stage 2/5] ` prefixes, counted per stage like BuildKit's prefixCommand. */
export function prefixCommand(d: DispatchState, str: string): string {
  const total = d.info.cmdTotal;
  if (total === 0) return str;
  d.cmdIndex++;
  const width = Math.floor(1 + Math.log10(total));
  let out = '[';
  if (d.info.displayName) out += d.info.displayName + ' ';
  out += `${String(d.cmdIndex).padStart(width, ' ')}/${total}] `;
  return out + str;
}

export function commitToHistory(d: DispatchState, msg: string, withLayer: boolean, withState: boolean): void {
  d.image.history.push({
    created_by: withState ? msg + ' # buildkit' : msg,
    comment: HISTORY_COMMENT,
    ...(withLayer ? {} : { empty_layer: true }),
  });
}

export function recordStep(
  ctx: DispatchContext,
  d: DispatchState,
  inst: Instruction,
  state: LlbState,
  name: string,
  description: Record<string, string>,
  trace?: StepTraceInfo,
): void {
  const md: VertexMetadata = { description: { ...description, 'llb.customname': name } };
  if (ctx.noCache) md.ignore_cache = true;
  ctx.metadata.set(state, md);
  ctx.steps.push({
    state,
    name,
    instruction: inst.text,
    keyword: inst.keyword,
    line: inst.range.startLine,
    endLine: inst.range.endLine,
    stage: d.info.stepStage,
    stageIndex: d.info.index,
    ...(trace ? { trace } : {}),
  });
}

function withShell(img: ImageSpec, cmd: string): string[] {
  const shell = img.config.Shell && img.config.Shell.length > 0 ? [...img.config.Shell] : img.os === 'windows' ? ['cmd', '/S', '/C'] : ['/bin/sh', '-c'];
  return [...shell, cmd];
}

export function commandArgs(img: ImageSpec, c: CommandForm): string[] {
  return c.form === 'exec' ? [...c.args] : withShell(img, c.command);
}

/** Metadata for a vertex that is not an instruction (build context, COPY --from images). */
export function internalMetadata(ctx: DispatchContext, name: string): VertexMetadata {
  const md: VertexMetadata = { description: { 'llb.customname': name } };
  if (ctx.noCache) md.ignore_cache = true;
  return md;
}
