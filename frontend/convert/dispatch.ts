// One function per Dockerfile instruction, in the manner of BuildKit's dockerfile2llb:
// each takes the stage being built (its LLB state, image config and LLB-side env/dir/user)
// and the instruction, and updates the stage. Semantics follow BuildKit v0.8, the
// frontend embedded in dockerd 20.10.
import { expandWord, expandWords, ExpansionError } from '../../dockerfile-parser/index.js';
import type {
  ArgInstruction,
  CmdInstruction,
  CommandForm,
  CopyInstruction,
  EntrypointInstruction,
  EnvInstruction,
  ExposeInstruction,
  HealthcheckInstruction,
  Instruction,
  LabelInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
  RunInstruction,
  ShellInstruction,
  StopsignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
  EscapeChar,
} from '../../dockerfile-parser/index.js';
import { FileAction, LlbState } from '../llb/index.js';
import type { CopyOptions, ProxyEnv, VertexMetadata } from '../llb/index.js';
import { ConvertError } from './errors.js';
import type { ConvertErrorCode } from './errors.js';
import type { ImageSpec } from './image.js';
import type { Platform } from './types.js';
import {
  EnvList,
  addEnv,
  goDuration,
  goList,
  goQuote,
  goQuoteList,
  goQuoteRune,
  isAbsPath,
  isValidSignal,
  joinPath,
  parseChown,
  parsePortSpecs,
} from './util.js';

export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';

/** A stage of the stage table (fixed once prepared). */
export interface StageInfo {
  /** Position in the table (Dockerfile stages first, then images named by COPY --from). */
  index: number;
  /** Name for progress prefixes: the AS name or `stage-N`; '' when there is only one. */
  displayName: string;
  /** ConvertedStep.stage: AS name or the index as a string. */
  stepStage: string;
  /** AS name, lower-cased. */
  name?: string;
  /** Base name after ARG expansion (and normalization for images). */
  baseName: string;
  base?: StageInfo;
  platform?: Platform;
  unregistered: boolean;
  deps: Set<StageInfo>;
  cmdTotal: number;
  /** Instructions (empty for images named by COPY --from). */
  instructions: Instruction[];
  fromLine: number;
  fromEndLine: number;
  fromText: string;
  /** Filled when the base is an image: its config, digest and whether it is empty. */
  resolved?: { image: ImageSpec; digest?: string; scratch: boolean };
  /** COPY --from sources per instruction index. */
  copySources: Map<number, StageInfo>;
}

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
  dispatched: boolean;
}

export interface PendingStep {
  state: LlbState;
  name: string;
  instruction: string;
  keyword: string;
  line: number;
  endLine: number;
  stage: string;
  stageIndex: number;
}

/** What every instruction function can see. */
export interface DispatchContext {
  file: string;
  escape: EscapeChar;
  /** Global ARGs (platform args first), build-arg overrides applied. */
  metaArgs: { key: string; value?: string }[];
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
  /** Parses an ONBUILD trigger of a base image into one instruction. */
  parseTrigger: (trigger: string, line: number) => Instruction;
}

// ---------------------------------------------------------------- helpers

export function fail(ctx: DispatchContext, line: number, code: ConvertErrorCode, what: string, cause?: unknown): never {
  throw new ConvertError(code, ctx.file, line, what, cause === undefined ? undefined : { cause });
}

function lookupIn(env: EnvList): (name: string) => string | undefined {
  return (name) => env.get(name);
}

/** ProcessWord against the stage's env. */
function expand(ctx: DispatchContext, d: DispatchState, inst: Instruction, word: string): string {
  try {
    return expandWord(word, lookupIn(d.env), ctx.escape);
  } catch (e) {
    if (e instanceof ExpansionError) fail(ctx, inst.range.startLine, 'expansion-failed', e.message, e);
    throw e;
  }
}

/** ProcessWords (splits at unquoted whitespace) against the stage's env. */
function expandSplit(ctx: DispatchContext, d: DispatchState, inst: Instruction, word: string): string[] {
  try {
    return expandWords(word, lookupIn(d.env), ctx.escape);
  } catch (e) {
    if (e instanceof ExpansionError) fail(ctx, inst.range.startLine, 'expansion-failed', e.message, e);
    throw e;
  }
}

/** The instruction text with variables expanded, for vertex names (falls back to the text). */
function displayText(ctx: DispatchContext, d: DispatchState, text: string): string {
  try {
    return expandWord(text, lookupIn(d.env), ctx.escape);
  } catch {
    return text;
  }
}

/** RUN names: `$VAR`/`${VAR}` of set variables replaced, quotes and everything else kept
 * (BuildKit expands with RawQuotes and SkipUnsetEnv for RUN). */
export function displayRunText(text: string, env: EnvList, escape: string): string {
  let out = '';
  let inSingle = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === escape && !inSingle && i + 1 < text.length) {
      out += ch + text[i + 1];
      i++;
      continue;
    }
    if (ch === "'") inSingle = !inSingle;
    if (ch === '$' && !inSingle) {
      const braced = /^\$\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(text.slice(i));
      const plain = /^\$([A-Za-z_][A-Za-z0-9_]*)/.exec(text.slice(i));
      const m = braced ?? plain;
      if (m) {
        const v = env.get(m[1] as string);
        if (v !== undefined) {
          out += v;
          i += m[0].length - 1;
          continue;
        }
      }
    }
    out += ch;
  }
  return out;
}

function uppercaseCmd(s: string): string {
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

function commitToHistory(d: DispatchState, msg: string, withLayer: boolean, withState: boolean): void {
  d.image.history.push({
    created_by: withState ? msg + ' # buildkit' : msg,
    comment: HISTORY_COMMENT,
    ...(withLayer ? {} : { empty_layer: true }),
  });
}

function recordStep(ctx: DispatchContext, d: DispatchState, inst: Instruction, state: LlbState, name: string, description: Record<string, string>): void {
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
  });
}

function withShell(img: ImageSpec, cmd: string): string[] {
  const shell = img.config.Shell && img.config.Shell.length > 0 ? [...img.config.Shell] : img.os === 'windows' ? ['cmd', '/S', '/C'] : ['/bin/sh', '-c'];
  return [...shell, cmd];
}

function commandArgs(img: ImageSpec, c: CommandForm): string[] {
  return c.form === 'exec' ? [...c.args] : withShell(img, c.command);
}

function flagValue(ctx: DispatchContext, inst: Instruction, name: string): string | undefined {
  const f = inst.flags.filter((x) => x.name === name);
  if (f.length === 0) return undefined;
  const last = f[f.length - 1];
  if (!last || last.value === true) fail(ctx, inst.range.startLine, 'invalid-flag', `missing a value on flag: --${name}`);
  return last.value;
}

function checkFlags(ctx: DispatchContext, inst: Instruction, allowed: string[]): void {
  for (const f of inst.flags) {
    if (!allowed.includes(f.name)) fail(ctx, f.range.startLine, 'invalid-flag', `unknown flag: ${f.name}`);
  }
}

// ---------------------------------------------------------------- instructions

export function dispatch(ctx: DispatchContext, d: DispatchState, inst: Instruction, index: number | undefined): void {
  switch (inst.keyword) {
    case 'MAINTAINER':
      return dispatchMaintainer(d, inst);
    case 'ENV':
      return dispatchEnv(ctx, d, inst);
    case 'RUN':
      return dispatchRun(ctx, d, inst);
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
      return dispatchCmd(ctx, d, inst);
    case 'ENTRYPOINT':
      return dispatchEntrypoint(ctx, d, inst);
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
      return dispatchShell(ctx, d, inst);
    case 'ARG':
      return dispatchArg(ctx, d, inst);
    case 'FROM':
      return fail(ctx, inst.range.startLine, 'invalid-instruction', 'FROM cannot be used here');
  }
}

export function dispatchMaintainer(d: DispatchState, c: MaintainerInstruction): void {
  d.image.author = c.maintainer;
  commitToHistory(d, `MAINTAINER ${c.maintainer}`, false, false);
}

export function dispatchEnv(ctx: DispatchContext, d: DispatchState, c: EnvInstruction): void {
  checkFlags(ctx, c, []);
  // All pairs are expanded against the env as it was before the instruction.
  const pairs = c.pairs.map((p) => ({ key: expand(ctx, d, c, p.key), value: expand(ctx, d, c, p.value) }));
  let msg = 'ENV';
  for (const p of pairs) {
    msg += ` ${p.key}=${p.value}`;
    d.env = d.env.addOrReplace(p.key, p.value);
    d.image.config.Env = addEnv(d.image.config.Env ?? [], p.key, p.value);
  }
  commitToHistory(d, msg, false, false);
}

/** `RUN` history text: `|N K=V ... ` (every ARG of the stage) before the command. */
function runCommandString(args: string[], buildArgs: { key: string; value?: string }[], env: EnvList): string {
  const tmp = buildArgs.map((a) => `${a.key}=${env.get(a.key) ?? a.value ?? ''}`);
  const parts = tmp.length > 0 ? [`|${tmp.length}`, ...tmp, ...args] : args;
  return parts.join(' ');
}

export function dispatchRun(ctx: DispatchContext, d: DispatchState, c: RunInstruction): void {
  if (c.flags.length > 0) {
    const f = c.flags[0];
    if (f && f.name === 'mount') fail(ctx, c.range.startLine, 'unsupported', 'RUN --mount is not supported by tracebuild yet');
    checkFlags(ctx, c, []);
  }
  if (c.heredocs.length > 0) fail(ctx, c.range.startLine, 'unsupported', 'heredocs are not supported by this Dockerfile frontend version');
  const args = commandArgs(d.image, c.command);
  if (args.length === 0) fail(ctx, c.range.startLine, 'invalid-instruction', 'RUN needs a command');
  const name = prefixCommand(d, uppercaseCmd(displayRunText(c.text, d.env, ctx.escape)));
  const exec = {
    args,
    env: d.env.toArray(),
    cwd: d.dir,
    ...(d.user ? { user: d.user } : {}),
    ...(ctx.proxyEnv ? { proxyEnv: ctx.proxyEnv } : {}),
    network: ctx.network,
    platform: d.platform,
  };
  d.llb = d.llb.run(exec);
  recordStep(ctx, d, c, d.llb, name, { 'com.docker.dockerfile.v1.command': c.text });
  commitToHistory(d, 'RUN ' + runCommandString(args, d.buildArgs, d.env), true, true);
}

/** Moves the LLB working directory like llb.Dir: relative paths join the previous one. */
function setDir(d: DispatchState, p: string): void {
  d.dir = isAbsPath(p) ? p : joinPath(d.dir || '/', p);
}

/** WORKDIR of the base image: directory only, no mkdir and no history. */
export function applyBaseWorkdir(d: DispatchState, path: string): void {
  setDir(d, path);
  d.image.config.WorkingDir = isAbsPath(path) ? path : joinPath('/', d.image.config.WorkingDir ?? '', path);
}

export function dispatchWorkdir(ctx: DispatchContext, d: DispatchState, c: WorkdirInstruction): void {
  checkFlags(ctx, c, []);
  const p = expand(ctx, d, c, c.path);
  setDir(d, p);
  const wd = isAbsPath(p) ? p : joinPath('/', d.image.config.WorkingDir ?? '', p);
  d.image.config.WorkingDir = wd;
  let withLayer = false;
  if (wd !== '/') {
    const user = d.image.config.User;
    const action = FileAction.mkdir(wd, 0o755, { makeParents: true, ...(user ? { owner: parseChown(user) } : {}) });
    const name = prefixCommand(d, uppercaseCmd(displayText(ctx, d, c.text)));
    d.llb = d.llb.file(action, { platform: d.platform });
    recordStep(ctx, d, c, d.llb, name, {});
    withLayer = true;
  }
  commitToHistory(d, `WORKDIR ${wd}`, withLayer, false);
}

export function dispatchCopy(ctx: DispatchContext, d: DispatchState, c: CopyInstruction, index: number | undefined): void {
  const isAdd = c.keyword === 'ADD';
  checkFlags(ctx, c, isAdd ? ['chown', 'chmod'] : ['chown', 'chmod', 'from']);
  if (c.heredocs.length > 0) fail(ctx, c.range.startLine, 'unsupported', 'heredocs are not supported by this Dockerfile frontend version');
  const chown = expand(ctx, d, c, flagValue(ctx, c, 'chown') ?? '');
  const chmod = flagValue(ctx, c, 'chmod') ?? '';
  const sources = c.sources.map((s) => expand(ctx, d, c, s));
  const rawDest = expand(ctx, d, c, c.destination);

  const fromStage = index === undefined ? undefined : d.info.copySources.get(index);
  let sourceState = ctx.buildContext;
  if (fromStage) {
    const src = ctx.states.get(fromStage);
    if (!src) fail(ctx, c.range.startLine, 'invalid-instruction', `stage ${fromStage.stepStage} was not built`);
    sourceState = src.llb;
  }

  const pp = isAbsPath(rawDest) ? rawDest : joinPath(d.dir, rawDest);
  let dest = joinPath('/', pp);
  if (rawDest === '.' || rawDest === '' || rawDest.endsWith('/')) dest += '/';

  let mode: number | undefined;
  if (chmod !== '' && /^[0-7]+$/.test(chmod)) {
    const m = parseInt(chmod, 8);
    if (m <= 0xffffffff) mode = m;
  }
  const owner = chown !== '' ? parseChown(chown) : undefined;

  let action: FileAction | undefined;
  let msg = isAdd ? 'ADD' : 'COPY';
  for (const src of sources) {
    msg += ' ' + src;
    if (src.startsWith('http://') || src.startsWith('https://')) {
      if (!isAdd) fail(ctx, c.range.startLine, 'invalid-instruction', "source can't be a URL for COPY");
      let f = '__unnamed__';
      try {
        const base = new URL(src).pathname.split('/').filter((x) => x !== '').pop();
        if (base && base !== '.') f = base;
      } catch {
        // keep __unnamed__
      }
      const http = LlbState.source(src, { 'http.filename': f });
      const opts: CopyOptions = { createDestPath: true, ...(owner ? { owner } : {}) };
      action = action ? action.copy(http, f, dest, opts) : FileAction.copy(http, f, dest, opts);
    } else {
      const opts: CopyOptions = {
        ...(mode !== undefined ? { mode } : {}),
        followSymlink: true,
        dirCopyContents: true,
        attemptUnpackDockerCompatibility: isAdd,
        createDestPath: true,
        allowWildcard: true,
        allowEmptyWildcard: true,
        ...(owner ? { owner } : {}),
      };
      const from = joinPath('/', src);
      action = action ? action.copy(sourceState, from, dest, opts) : FileAction.copy(sourceState, from, dest, opts);
      if (!fromStage) ctx.ctxPaths.add(from);
    }
  }
  msg += ' ' + rawDest;
  if (!action) fail(ctx, c.range.startLine, 'invalid-instruction', `${c.keyword} needs a source and a destination`);
  const name = prefixCommand(d, uppercaseCmd(displayText(ctx, d, c.text)));
  d.llb = d.llb.file(action, { platform: d.platform });
  recordStep(ctx, d, c, d.llb, name, {});
  commitToHistory(d, msg, true, true);
}

export function dispatchLabel(ctx: DispatchContext, d: DispatchState, c: LabelInstruction): void {
  checkFlags(ctx, c, []);
  const pairs = c.pairs.map((p) => ({ key: expand(ctx, d, c, p.key), value: expand(ctx, d, c, p.value) }));
  let msg = 'LABEL';
  const labels = { ...(d.image.config.Labels ?? {}) };
  for (const p of pairs) {
    labels[p.key] = p.value;
    msg += ` ${p.key}=${p.value}`;
  }
  d.image.config.Labels = labels;
  commitToHistory(d, msg, false, false);
}

export function dispatchOnbuild(d: DispatchState, c: OnbuildInstruction): void {
  // BuildKit records the trigger and writes no history entry for it.
  d.image.config.OnBuild = [...(d.image.config.OnBuild ?? []), c.trigger];
}

export function dispatchCmd(ctx: DispatchContext, d: DispatchState, c: CmdInstruction): void {
  checkFlags(ctx, c, []);
  const args = commandArgs(d.image, c.command);
  d.image.config.Cmd = args;
  d.image.config.ArgsEscaped = true;
  d.cmdSet = true;
  commitToHistory(d, `CMD ${goQuoteList(args)}`, false, false);
}

export function dispatchEntrypoint(ctx: DispatchContext, d: DispatchState, c: EntrypointInstruction): void {
  checkFlags(ctx, c, []);
  const args = commandArgs(d.image, c.command);
  d.image.config.Entrypoint = args;
  if (!d.cmdSet) delete d.image.config.Cmd;
  commitToHistory(d, `ENTRYPOINT ${goQuoteList(args)}`, false, false);
}

export function dispatchHealthcheck(ctx: DispatchContext, d: DispatchState, c: HealthcheckInstruction): void {
  const check = c.check;
  let hc: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; Retries?: number };
  if (check.kind === 'none') {
    hc = { Test: ['NONE'] };
  } else {
    if (check.startIntervalNs !== undefined) fail(ctx, c.range.startLine, 'invalid-flag', 'unknown flag: start-interval');
    const test = check.command.form === 'exec' ? ['CMD', ...check.command.args] : ['CMD-SHELL', check.command.command];
    hc = { Test: test };
    if (check.intervalNs) hc.Interval = check.intervalNs;
    if (check.timeoutNs) hc.Timeout = check.timeoutNs;
    if (check.startPeriodNs) hc.StartPeriod = check.startPeriodNs;
    if (check.retries) hc.Retries = check.retries;
  }
  d.image.config.Healthcheck = hc;
  const text =
    `&{${goQuoteList(hc.Test)} ${goQuote(goDuration(hc.Interval ?? 0))} ${goQuote(goDuration(hc.Timeout ?? 0))} ` +
    `${goQuote(goDuration(hc.StartPeriod ?? 0))} ${goQuoteRune(hc.Retries ?? 0)}}`;
  commitToHistory(d, `HEALTHCHECK ${text}`, false, false);
}

export function dispatchExpose(ctx: DispatchContext, d: DispatchState, c: ExposeInstruction): void {
  checkFlags(ctx, c, []);
  const raw = [...c.ports].sort();
  const ports: string[] = [];
  for (const p of raw) ports.push(...expandSplit(ctx, d, c, p));
  let specs: string[];
  try {
    specs = parsePortSpecs(ports);
  } catch (e) {
    fail(ctx, c.range.startLine, 'invalid-instruction', (e as Error).message, e);
  }
  const exposed = { ...(d.image.config.ExposedPorts ?? {}) };
  for (const s of specs) exposed[s] = {};
  d.image.config.ExposedPorts = exposed;
  const sorted = [...specs].sort();
  commitToHistory(d, `EXPOSE map[${sorted.map((s) => `${s}:{}`).join(' ')}]`, false, false);
}

export function dispatchUser(ctx: DispatchContext, d: DispatchState, c: UserInstruction): void {
  checkFlags(ctx, c, []);
  const user = expand(ctx, d, c, c.user);
  d.user = user;
  d.image.config.User = user;
  commitToHistory(d, `USER ${user}`, false, false);
}

export function dispatchVolume(ctx: DispatchContext, d: DispatchState, c: VolumeInstruction): void {
  checkFlags(ctx, c, []);
  const vols = c.paths.map((p) => expand(ctx, d, c, p));
  const volumes = { ...(d.image.config.Volumes ?? {}) };
  for (const v of vols) {
    if (v === '') fail(ctx, c.range.startLine, 'invalid-instruction', 'VOLUME specified can not be an empty string');
    volumes[v] = {};
  }
  d.image.config.Volumes = volumes;
  commitToHistory(d, `VOLUME ${goList(vols)}`, false, false);
}

export function dispatchStopSignal(ctx: DispatchContext, d: DispatchState, c: StopsignalInstruction): void {
  checkFlags(ctx, c, []);
  const sig = expand(ctx, d, c, c.signal);
  if (!isValidSignal(sig)) fail(ctx, c.range.startLine, 'invalid-instruction', `Invalid signal: ${sig}`);
  d.image.config.StopSignal = sig;
  commitToHistory(d, `STOPSIGNAL ${sig}`, false, false);
}

export function dispatchShell(ctx: DispatchContext, d: DispatchState, c: ShellInstruction): void {
  checkFlags(ctx, c, []);
  d.image.config.Shell = [...c.args];
  commitToHistory(d, `SHELL ${goList(c.args)}`, false, false);
}

export function dispatchArg(ctx: DispatchContext, d: DispatchState, c: ArgInstruction): void {
  checkFlags(ctx, c, []);
  const commit: string[] = [];
  for (const a of c.args) {
    const key = expand(ctx, d, c, a.name);
    const def = a.defaultValue === undefined ? undefined : expand(ctx, d, c, a.defaultValue);
    commit.push(def === undefined ? key : `${key}=${def}`);
    let value: string | undefined = Object.prototype.hasOwnProperty.call(ctx.buildArgs, key) ? ctx.buildArgs[key] : def;
    if (value === undefined) {
      for (const m of ctx.metaArgs) if (m.key === key) value = m.value;
    }
    if (value !== undefined) d.env = d.env.addOrReplace(key, value);
    d.buildArgs.push(value === undefined ? { key } : { key, value });
  }
  commitToHistory(d, 'ARG ' + commit.join(' '), false, false);
}

/** Metadata for a vertex that is not an instruction (build context, COPY --from images). */
export function internalMetadata(ctx: DispatchContext, name: string): VertexMetadata {
  const md: VertexMetadata = { description: { 'llb.customname': name } };
  if (ctx.noCache) md.ignore_cache = true;
  return md;
}
