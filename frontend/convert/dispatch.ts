// One function per Dockerfile instruction, in the manner of BuildKit's dockerfile2llb:
// each takes the stage being built (its LLB state, image config and LLB-side env/dir/user)
// and the instruction, and updates the stage. Semantics follow BuildKit v0.8, the
// frontend embedded in dockerd 20.10.
import {
  expandHeredoc,
  expandWord,
  expandWords,
  ExpansionError,
  networkMode,
  OptionError,
  parseHeredocMarker,
  parseMount,
  securityMode,
} from '../../dockerfile-parser/index.js';
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
  RunMount,
} from '../../dockerfile-parser/index.js';
import { FileAction, LlbState, cleanPath } from '../llb/index.js';
import type { CopyOptions, ExecOptions, MountSpec, ProxyEnv, VertexMetadata } from '../llb/index.js';
import { belowPivot, checkPattern, hasWildcards, splitParentsSource } from './parents.js';
import type { ParentsGlobs } from './parents.js';
import { ConvertError } from './errors.js';
import type { ConvertErrorCode } from './errors.js';
import type { ImageSpec } from './image.js';
import type { StageInfo } from './stages.js';
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

export interface PendingStep {
  state: LlbState;
  name: string;
  instruction: string;
  keyword: string;
  line: number;
  endLine: number;
  stage: string;
  stageIndex: number;
  /** What the tracer needs to match the step (see ConvertedStep). */
  trace?: StepTraceInfo;
}

/** ConvertedStep's fields for the tracer: RUN's exec args, COPY/ADD's sources. */
export interface StepTraceInfo {
  execArgs?: string[];
  copySources?: string[];
  copyDestination?: string;
  copyFrom?: string;
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
  /** Every exec made (RUN), with what the CLI must provide or allow for it. */
  execs: ExecRecord[];
  /** Parses an ONBUILD trigger of a base image into one instruction. */
  parseTrigger: (trigger: string, line: number) => Instruction;
  /** Wildcard matches of COPY --parents in the build context (shared by the passes). */
  parentsGlobs: ParentsGlobs;
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

function recordStep(
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

function commandArgs(img: ImageSpec, c: CommandForm): string[] {
  return c.form === 'exec' ? [...c.args] : withShell(img, c.command);
}

// ---------------------------------------------------------------- instructions

export function dispatch(ctx: DispatchContext, d: DispatchState, inst: Instruction, index: number | undefined): void {
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

/** BuildKit's summarizeHeredoc: the first line, `...` when there are more. */
export function summarizeHeredoc(doc: string): string {
  const lines = doc.trim().replace(/\r\n/g, '\n').split('\n');
  return (lines[0] ?? '') + (lines.length > 1 ? '...' : '');
}

/** The RUN command after heredocs (Dockerfile 1.4 semantics, as dockerfile2llb does it):
 * a lone `<<EOF` runs its body with the shell (or, with a `#!` line, as a script file
 * mounted read-only at /dev/pipes/); anything else gives the shell the command line with
 * the heredoc bodies appended, so the shell's own heredocs (quoting, `<<-`) apply. */
function runHeredocCommand(
  ctx: DispatchContext,
  d: DispatchState,
  c: RunInstruction,
): { command: string; mounts: MountSpec[]; summary?: string } {
  if (c.command.form !== 'shell') fail(ctx, c.range.startLine, 'invalid-instruction', 'heredocs cannot be used with the exec (JSON) form of RUN');
  const line = c.command.command;
  const marker = parseHeredocMarker(line.trim());
  const first = c.heredocs[0] as RunInstruction['heredocs'][number];
  if (marker && c.heredocs.length === 1 && marker.name === first.name) {
    const data = first.content;
    const summary = summarizeHeredoc(data);
    if (d.image.os !== 'windows' && data.startsWith('#!')) {
      const script = LlbState.scratch().file(FileAction.mkfile('/' + first.name, 0o755, data), { platform: d.platform });
      ctx.metadata.set(script, internalMetadata(ctx, '[internal] preparing inline document'));
      return { command: joinPath('/dev/pipes/', first.name), mounts: [{ dest: '/dev/pipes/', source: script, selector: '/', readonly: true }], summary };
    }
    return { command: data, mounts: [], summary };
  }
  let script = line;
  for (const h of c.heredocs) script += '\n' + h.content + h.name;
  return { command: script, mounts: [] };
}

function basename(p: string): string {
  const parts = p.split('/').filter((x) => x !== '');
  return parts.length === 0 ? '/' : (parts[parts.length - 1] as string);
}

/** The LLB mounts of RUN --mount flags (BuildKit's dispatchRunMounts, v0.8 LLB). */
function runMounts(
  ctx: DispatchContext,
  d: DispatchState,
  c: RunInstruction,
  index: number | undefined,
): { mounts: MountSpec[]; secrets: SecretUse[]; ssh: SecretUse[] } {
  const line = c.range.startLine;
  const mounts: MountSpec[] = [];
  const secrets: SecretUse[] = [];
  const ssh: SecretUse[] = [];
  const sources = index === undefined ? undefined : d.info.mountSources.get(index);
  for (const [i, value] of c.mounts.entries()) {
    let m: RunMount;
    try {
      m = parseMount(value, (w) => expand(ctx, d, c, w));
    } catch (e) {
      if (e instanceof OptionError) fail(ctx, line, 'invalid-mount', `invalid --mount=${value}: ${e.message}`, e);
      throw e;
    }
    const bad: (what: string) => never = (what) => fail(ctx, line, 'invalid-mount', `invalid --mount=${value}: ${what}`);
    if (m.type === 'secret') {
      const id = m.source || m.id || (m.target ? basename(m.target) : '');
      if (!id) bad('one of source, target required');
      const dest = m.target || '/run/secrets/' + basename(id);
      mounts.push({
        dest,
        type: 'secret',
        id,
        uid: m.uid ?? 0,
        gid: m.gid ?? 0,
        mode: m.mode ?? 0o400,
        optional: !m.required,
      });
      secrets.push({ id, required: m.required, line });
      continue;
    }
    if (m.type === 'ssh') {
      const n = ssh.length;
      const dest = m.target || `/run/buildkit/ssh_agent.${n}`;
      mounts.push({
        dest,
        type: 'ssh',
        ...(m.id ? { id: m.id } : {}),
        uid: m.uid ?? 0,
        gid: m.gid ?? 0,
        mode: m.mode ?? 0o600,
        optional: !m.required,
      });
      ssh.push({ id: m.id || 'default', required: m.required, line });
      continue;
    }
    // bind, cache, tmpfs
    let st: LlbState;
    if (m.type === 'tmpfs') {
      st = LlbState.scratch();
    } else if (m.from) {
      let srcInfo = sources?.[i];
      if (!srcInfo) {
        // ONBUILD triggers are dispatched without the stage table: stage names only.
        for (const info of ctx.states.keys()) if (info.name === m.from.toLowerCase() && !info.unregistered) srcInfo = info;
      }
      const src = srcInfo ? ctx.states.get(srcInfo) : undefined;
      if (!src) bad(`stage or image ${m.from} is not available here`);
      st = src.llb;
    } else if (m.type === 'cache') {
      st = LlbState.scratch();
    } else {
      st = ctx.buildContext;
    }
    const rawTarget = m.target ?? '';
    let target = rawTarget;
    if (!isAbsPath(joinPath(rawTarget) || '.')) target = joinPath('/', d.dir, rawTarget);
    if (target === '/' || target === '') bad(`invalid mount target "${target || '/'}"`);
    const spec: MountSpec = { dest: target, type: m.type };
    const src = joinPath('/', m.source ?? '');
    if (src !== '/') {
      spec.selector = src;
    } else if (m.uid !== undefined || m.gid !== undefined || m.mode !== undefined) {
      st = st.file(FileAction.mkdir('/cache', m.mode ?? 0o755, { owner: { user: m.uid ?? 0, group: m.gid ?? 0 } }), { platform: d.platform });
      ctx.metadata.set(st, internalMetadata(ctx, '[internal] settings cache mount permissions'));
      spec.selector = '/cache';
    }
    if (!st.isScratch) spec.source = st;
    if (m.readonly) spec.readonly = true;
    else if (m.type === 'bind') spec.noOutput = true;
    if (m.type === 'cache') {
      spec.cacheId = '/' + (m.id || cleanPath(rawTarget));
      spec.cacheSharing = m.sharing ?? 'shared';
    }
    mounts.push(spec);
    if (m.type === 'bind' && !m.from) ctx.ctxPaths.add(src);
  }
  return { mounts, secrets, ssh };
}

export function dispatchRun(ctx: DispatchContext, d: DispatchState, c: RunInstruction, index: number | undefined): void {
  const line = c.range.startLine;
  const decode = <T>(value: string | undefined, decoder: (v: string) => T): T | undefined => {
    if (value === undefined) return undefined;
    try {
      return decoder(value);
    } catch (e) {
      if (e instanceof OptionError) fail(ctx, line, 'invalid-flag', e.message);
      throw e;
    }
  };
  const netMode = decode(c.network, networkMode);
  const network = netMode === undefined || netMode === 'default' ? ctx.network : netMode;
  const security = decode(c.security, securityMode) ?? 'sandbox';

  let command: CommandForm = c.command;
  let customName = c.text;
  const mounts: MountSpec[] = [];
  if (c.heredocs.length > 0) {
    const h = runHeredocCommand(ctx, d, c);
    command = { form: 'shell', command: h.command };
    mounts.push(...h.mounts);
    if (h.summary !== undefined) customName += ` (${h.summary})`;
  }
  const args = commandArgs(d.image, command);
  if (args.length === 0) fail(ctx, line, 'invalid-instruction', 'RUN needs a command');

  const rm = runMounts(ctx, d, c, index);
  mounts.push(...rm.mounts);
  let env = d.env;
  const firstSsh = rm.mounts.find((m) => m.type === 'ssh');
  if (firstSsh && !env.has('SSH_AUTH_SOCK')) env = env.addOrReplace('SSH_AUTH_SOCK', firstSsh.dest);

  const name = prefixCommand(d, uppercaseCmd(displayRunText(customName, d.env, ctx.escape)));
  const exec: ExecOptions = {
    args,
    env: env.toArray(),
    cwd: d.dir,
    ...(d.user ? { user: d.user } : {}),
    ...(ctx.proxyEnv ? { proxyEnv: ctx.proxyEnv } : {}),
    network,
    security,
    platform: d.platform,
    mounts,
  };
  try {
    d.llb = d.llb.run(exec);
  } catch (e) {
    fail(ctx, line, 'invalid-mount', (e as Error).message.replace(/^llb: /, ''), e);
  }
  ctx.execs.push({ state: d.llb, network, security, secrets: rm.secrets, ssh: rm.ssh });
  // The args exactly as the exec op carries them (meta.args): the tracer matches them
  // against the argv of the first exec in a container.
  recordStep(ctx, d, c, d.llb, name, { 'com.docker.dockerfile.v1.command': c.text }, { execArgs: [...args] });
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

/** Go's digest.Parse, for ADD --checksum. */
function checkDigest(v: string): string | undefined {
  const i = v.indexOf(':');
  if (i <= 0 || i === v.length - 1) return 'invalid checksum digest format';
  const alg = v.slice(0, i);
  const hex = v.slice(i + 1);
  const sizes: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };
  const size = sizes[alg];
  if (size === undefined) return `unsupported digest algorithm ${alg}`;
  if (hex.length !== size || !/^[a-f0-9]+$/.test(hex)) return `invalid checksum digest length or characters for ${alg}`;
  return undefined;
}

/** A git source as BuildKit's newer frontends recognise one in ADD. */
export function isGitSource(src: string): boolean {
  if (/^git@[^:/]+:/.test(src)) return true;
  if (/^(git|ssh):\/\//i.test(src)) return true;
  if (/^https?:\/\//i.test(src)) {
    try {
      return new URL(src).pathname.endsWith('.git');
    } catch {
      return false;
    }
  }
  return false;
}

interface GitSource {
  /** The repository URL with its scheme, without fragment or query. */
  remote: string;
  ref?: string;
  subdir?: string;
  keepGitDir?: boolean;
}

/** A git URL of ADD (`https://host/repo.git#ref:subdir`, `git://...`, the newer
 * `?ref=&tag=&branch=&subdir=&keep-git-dir=` query form), or why it cannot be built. */
export function parseGitSource(src: string): GitSource | string {
  if (/^git@/.test(src) || /^ssh:\/\//i.test(src)) {
    return 'ADD from a git repository over SSH is not supported by tracebuild (it needs an SSH agent and known hosts); use an https:// URL';
  }
  let u: URL;
  try {
    u = new URL(src);
  } catch {
    return 'invalid git URL';
  }
  const out: GitSource = { remote: '' };
  const frag = decodeURIComponent(u.hash.replace(/^#/, ''));
  if (frag) {
    const i = frag.indexOf(':');
    const ref = i < 0 ? frag : frag.slice(0, i);
    const sub = i < 0 ? '' : frag.slice(i + 1);
    if (ref) out.ref = ref;
    if (sub) out.subdir = sub;
  }
  for (const [k, v] of u.searchParams) {
    switch (k) {
      case 'ref':
        out.ref = v;
        break;
      case 'tag':
        out.ref = 'refs/tags/' + v;
        break;
      case 'branch':
        out.ref = 'refs/heads/' + v;
        break;
      case 'subdir':
        out.subdir = v;
        break;
      case 'keep-git-dir':
        if (!['1', 'true', '0', 'false'].includes(v.toLowerCase())) return `invalid keep-git-dir value ${JSON.stringify(v)}`;
        out.keepGitDir = v === '1' || v.toLowerCase() === 'true';
        break;
      case 'checksum':
      case 'commit':
        return "a git commit checksum needs a newer BuildKit; dockerd 20.10's BuildKit (v0.8) cannot verify it";
      case 'submodules':
        if (v === 'false' || v === '0') return "submodules=false needs a newer BuildKit; dockerd 20.10's BuildKit (v0.8) always fetches submodules";
        break;
      default:
        return `unknown git query parameter ${JSON.stringify(k)}`;
    }
  }
  u.hash = '';
  u.search = '';
  out.remote = u.toString();
  return out;
}

export function dispatchCopy(ctx: DispatchContext, d: DispatchState, c: CopyInstruction, index: number | undefined): void {
  const isAdd = c.keyword === 'ADD';
  const line = c.range.startLine;
  // Newer flags that the FileOp of BuildKit v0.8 cannot express.
  if (c.exclude.length > 0) {
    fail(ctx, line, 'unsupported', `${c.keyword} --exclude needs BuildKit v0.9 or newer (exclude patterns on copies); dockerd 20.10's BuildKit (v0.8) cannot run it`);
  }
  // The parser gives each keyword only its own flags (no --parents on ADD, no --checksum
  // on COPY...). --link is accepted: v0.8 LLB has no merge op, so it is an ordinary copy
  // onto the stage.
  const parents = c.parents ?? false;
  const keepGitDirFlag = c.keepGitDir;
  const unpack = c.unpack;

  const chown = expand(ctx, d, c, c.chown ?? '');
  const chmod = expand(ctx, d, c, c.chmod ?? '');
  const checksum = expand(ctx, d, c, c.checksum ?? '');
  const sources = c.sources.map((s) => expand(ctx, d, c, s));
  const rawDest = expand(ctx, d, c, c.destination);

  const fromStage = index === undefined ? undefined : d.info.copySources.get(index);
  let sourceState = ctx.buildContext;
  if (fromStage) {
    const src = ctx.states.get(fromStage);
    if (!src) fail(ctx, line, 'invalid-instruction', `stage ${fromStage.stepStage} was not built`);
    sourceState = src.llb;
  }

  const pp = isAbsPath(rawDest) ? rawDest : joinPath(d.dir, rawDest);
  let dest = joinPath('/', pp);
  if (rawDest === '.' || rawDest === '' || rawDest.endsWith('/')) dest += '/';

  let mode: number | undefined;
  if (chmod !== '') {
    if (!/^[0-7]+$/.test(chmod) || parseInt(chmod, 8) > 0o7777) {
      fail(
        ctx,
        line,
        'invalid-flag',
        /^[0-9]+$/.test(chmod)
          ? `invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`
          : `invalid chmod parameter: '${chmod}': dockerd 20.10's BuildKit (v0.8) only takes octal modes (symbolic modes need BuildKit v0.17 or newer)`,
      );
    }
    mode = parseInt(chmod, 8);
  }
  const owner = chown !== '' ? parseChown(chown) : undefined;

  if (checksum !== '') {
    if (sources.length !== 1 || c.heredocs.length > 0) fail(ctx, line, 'invalid-flag', "checksum can't be specified for multiple sources");
    const only = sources[0] as string;
    if (isGitSource(only)) fail(ctx, line, 'unsupported', "--checksum on a git source needs a newer BuildKit; dockerd 20.10's BuildKit (v0.8) cannot verify git commits");
    if (!/^https?:\/\//.test(only)) fail(ctx, line, 'invalid-flag', 'checksum requires HTTP(S) or Git sources');
    const bad = checkDigest(checksum);
    if (bad) fail(ctx, line, 'invalid-flag', `--checksum=${checksum}: ${bad}`);
  }

  let action: FileAction | undefined;
  const addTo = (to: string, from: LlbState, src: string, opts: CopyOptions): void => {
    action = action ? action.copy(from, src, to, opts) : FileAction.copy(from, src, to, opts);
  };
  const add = (from: LlbState, src: string, opts: CopyOptions): void => addTo(dest, from, src, opts);

  // COPY --parents (see parents.ts): each source is copied to <dest dir>/<its path below the
  // pivot>, as exact paths, because v0.8's copy has no include patterns.
  const destDir = joinPath('/', pp);
  const addParents = (src: string): void => {
    const ps = splitParentsSource(src);
    const copyOpts = (rest: string): CopyOptions => ({
      ...(mode !== undefined ? { mode } : {}),
      // BuildKit's include-pattern copy follows the pivot but copies what matched as it is
      // (a symlink stays a link), so only a bare pivot (`x/./`) is followed.
      ...(rest === '' ? { followSymlink: true } : {}),
      dirCopyContents: true,
      createDestPath: true,
      ...(owner ? { owner } : {}),
    });
    if (!hasWildcards(ps)) {
      // A missing path fails the build ("not found"), as a plain COPY does; BuildKit v0.13+
      // skips it silently, which a maintainer called unexpected (moby/buildkit#4900).
      const from = joinPath('/', ps.pivot, ps.rest);
      addTo(joinPath(destDir, ps.rest), sourceState, from, copyOpts(ps.rest));
      if (!fromStage) ctx.ctxPaths.add(from);
      return;
    }
    if (fromStage) {
      fail(
        ctx,
        line,
        'unsupported',
        `COPY --from=${c.from ?? fromStage.stepStage} --parents ${src}: a wildcard with --parents needs BuildKit v0.9 or newer when copying from a stage or image ` +
          "(include patterns on copies): the source tree is not known before the build and dockerd 20.10's BuildKit (v0.8) cannot filter a copy; name the paths without wildcards",
      );
    }
    const bad = checkPattern(ps);
    if (bad) fail(ctx, line, 'invalid-instruction', `COPY --parents ${src}: ${bad}`);
    if (!ctx.parentsGlobs.canList) {
      fail(ctx, line, 'unsupported', `COPY --parents ${src}: a wildcard with --parents is expanded against the build context, and this conversion was given no listing of it`);
    }
    const matches = ctx.parentsGlobs.lookup(ps, src, line);
    // No match (or not listed yet, in a pass whose LLB is thrown away): BuildKit still
    // creates the destination directory, as its copy of the pivot does.
    if (matches === undefined || matches.length === 0) {
      const mk = { makeParents: true, ...(owner ? { owner } : {}) };
      action = action ? action.mkdir(destDir, 0o755, mk) : FileAction.mkdir(destDir, 0o755, mk);
      return;
    }
    for (const m of matches) {
      const from = joinPath('/', m.path);
      const rest = belowPivot(m);
      addTo(joinPath(destDir, rest), sourceState, from, copyOpts(rest));
      ctx.ctxPaths.add(from);
    }
  };
  let msg = isAdd ? 'ADD' : 'COPY';
  for (const src of sources) {
    msg += ' ' + src;
    if (isAdd && isGitSource(src)) {
      const git = parseGitSource(src);
      if (typeof git === 'string') fail(ctx, line, 'unsupported', `ADD ${src}: ${git}`);
      if (keepGitDirFlag !== undefined && git.keepGitDir !== undefined && keepGitDirFlag !== git.keepGitDir) {
        fail(ctx, line, 'invalid-flag', 'inconsistent keep-git-dir configuration');
      }
      const attrs: Record<string, string> = { 'git.fullurl': git.remote };
      if (keepGitDirFlag ?? git.keepGitDir) attrs['git.keepgitdir'] = 'true';
      const id = 'git://' + git.remote.replace(/^(https?|git):\/\//, '') + (git.ref ? '#' + git.ref : '');
      const st = LlbState.source(id, attrs);
      // BuildKit v0.8's git source has no subdir: copy the subdirectory out of the checkout.
      add(st, git.subdir ? joinPath('/', git.subdir) : '/', {
        ...(mode !== undefined ? { mode } : {}),
        ...(git.subdir ? { dirCopyContents: true } : {}),
        createDestPath: true,
        ...(owner ? { owner } : {}),
      });
      continue;
    }
    if (src.startsWith('http://') || src.startsWith('https://')) {
      if (!isAdd) fail(ctx, line, 'invalid-instruction', "source can't be a URL for COPY");
      let f = '__unnamed__';
      try {
        const base = new URL(src).pathname.split('/').filter((x) => x !== '').pop();
        if (base && base !== '.') f = base;
      } catch {
        // keep __unnamed__
      }
      const attrs: Record<string, string> = { 'http.filename': f };
      if (checksum !== '') attrs['http.checksum'] = checksum;
      const http = LlbState.source(src, attrs);
      add(http, f, {
        ...(mode !== undefined ? { mode } : {}),
        ...(unpack ? { attemptUnpackDockerCompatibility: true } : {}),
        createDestPath: true,
        ...(owner ? { owner } : {}),
      });
    } else if (parents) {
      addParents(src);
    } else {
      const from = joinPath('/', src);
      add(sourceState, from, {
        ...(mode !== undefined ? { mode } : {}),
        followSymlink: true,
        dirCopyContents: true,
        attemptUnpackDockerCompatibility: unpack ?? isAdd,
        createDestPath: true,
        allowWildcard: true,
        allowEmptyWildcard: true,
        ...(owner ? { owner } : {}),
      });
      if (!fromStage) ctx.ctxPaths.add(from);
    }
  }
  // Heredoc sources: each becomes a file made by a mkfile on scratch, then copied.
  for (const h of c.heredocs) {
    msg += ' <<' + h.name;
    let data = h.content;
    if (h.expand) {
      try {
        data = expandHeredoc(data, lookupIn(d.env));
      } catch (e) {
        if (e instanceof ExpansionError) fail(ctx, line, 'expansion-failed', e.message, e);
        throw e;
      }
    }
    const path = joinPath('/', h.name);
    const doc = LlbState.scratch().file(FileAction.mkfile(path, 0o644, data), { platform: d.platform });
    ctx.metadata.set(doc, internalMetadata(ctx, '[internal] preparing inline document'));
    add(doc, path, { ...(mode !== undefined ? { mode } : {}), createDestPath: true, ...(owner ? { owner } : {}) });
  }
  msg += ' ' + rawDest;
  if (!action) fail(ctx, line, 'invalid-instruction', `${c.keyword} needs a source and a destination`);
  const name = prefixCommand(d, uppercaseCmd(displayText(ctx, d, c.text)));
  d.llb = d.llb.file(action, { platform: d.platform });
  // Sources as written (variables expanded; heredocs are not sources from anywhere), the
  // destination as resolved against WORKDIR, and --from as given.
  const copyFrom = fromStage ? c.from ?? fromStage.stepStage : undefined;
  recordStep(ctx, d, c, d.llb, name, {}, {
    copySources: [...sources],
    // With --parents the destination is always a directory.
    copyDestination: parents ? (destDir === '/' ? '/' : destDir + '/') : dest,
    ...(copyFrom !== undefined ? { copyFrom } : {}),
  });
  commitToHistory(d, msg, true, true);
}

export function dispatchLabel(ctx: DispatchContext, d: DispatchState, c: LabelInstruction): void {
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
  const args = commandArgs(d.image, c.command);
  d.image.config.Cmd = args;
  d.image.config.ArgsEscaped = true;
  d.cmdSet = true;
  commitToHistory(d, `CMD ${goQuoteList(args)}`, false, false);
}

export function dispatchEntrypoint(ctx: DispatchContext, d: DispatchState, c: EntrypointInstruction): void {
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
  const user = expand(ctx, d, c, c.user);
  d.user = user;
  d.image.config.User = user;
  commitToHistory(d, `USER ${user}`, false, false);
}

export function dispatchVolume(ctx: DispatchContext, d: DispatchState, c: VolumeInstruction): void {
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
  const sig = expand(ctx, d, c, c.signal);
  if (!isValidSignal(sig)) fail(ctx, c.range.startLine, 'invalid-instruction', `Invalid signal: ${sig}`);
  d.image.config.StopSignal = sig;
  commitToHistory(d, `STOPSIGNAL ${sig}`, false, false);
}

export function dispatchShell(ctx: DispatchContext, d: DispatchState, c: ShellInstruction): void {
  d.image.config.Shell = [...c.args];
  commitToHistory(d, `SHELL ${goList(c.args)}`, false, false);
}

export function dispatchArg(ctx: DispatchContext, d: DispatchState, c: ArgInstruction): void {
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
