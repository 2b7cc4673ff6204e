// The instructions that change only the image config (and the stage's env, dir or
// user), each writing its history line as BuildKit does; WORKDIR also makes the directory.
import type {
  ArgInstruction,
  CmdInstruction,
  EntrypointInstruction,
  EnvInstruction,
  ExposeInstruction,
  HealthcheckInstruction,
  LabelInstruction,
  MaintainerInstruction,
  OnbuildInstruction,
  ShellInstruction,
  StopsignalInstruction,
  UserInstruction,
  VolumeInstruction,
  WorkdirInstruction,
} from '../../../dockerfile-parser/index.js';
import { FileAction } from '../../llb/index.js';
import { joinPath } from '../../../common/index.js';
import { addEnv, goDuration, goList, goQuote, goQuoteList, goQuoteRune, isAbsPath, isValidSignal, parseChown, parsePortSpecs } from '../util.js';
import { commandArgs, commitToHistory, displayText, expand, expandSplit, fail, prefixCommand, recordStep, uppercaseCmd } from './state.js';
import type { DispatchContext, DispatchState } from './state.js';

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

export function dispatchMaintainer(d: DispatchState, c: MaintainerInstruction): void {
  d.image.author = c.maintainer;
  commitToHistory(d, `MAINTAINER ${c.maintainer}`, false, false);
}

export function dispatchOnbuild(d: DispatchState, c: OnbuildInstruction): void {
  // BuildKit records the trigger and writes no history entry for it.
  d.image.config.OnBuild = [...(d.image.config.OnBuild ?? []), c.trigger];
}

export function dispatchCmd(d: DispatchState, c: CmdInstruction): void {
  const args = commandArgs(d.image, c.command);
  d.image.config.Cmd = args;
  d.image.config.ArgsEscaped = true;
  d.cmdSet = true;
  commitToHistory(d, `CMD ${goQuoteList(args)}`, false, false);
}

export function dispatchEntrypoint(d: DispatchState, c: EntrypointInstruction): void {
  const args = commandArgs(d.image, c.command);
  d.image.config.Entrypoint = args;
  if (!d.cmdSet) delete d.image.config.Cmd;
  commitToHistory(d, `ENTRYPOINT ${goQuoteList(args)}`, false, false);
}

export function dispatchShell(d: DispatchState, c: ShellInstruction): void {
  d.image.config.Shell = [...c.args];
  commitToHistory(d, `SHELL ${goList(c.args)}`, false, false);
}

export function dispatchHealthcheck(ctx: DispatchContext, d: DispatchState, c: HealthcheckInstruction): void {
  const check = c.check;
  let hc: { Test: string[]; Interval?: number; Timeout?: number; StartPeriod?: number; StartInterval?: number; Retries?: number };
  // Where the image goes to a dockerd that keeps StartInterval (Engine API 1.44+), the
  // config and its history line carry it, as BuildKit's newer frontend writes them.
  const withStartInterval = ctx.caps.healthcheckStartInterval;
  if (check.kind === 'none') {
    hc = { Test: ['NONE'] };
  } else {
    if (check.startIntervalNs !== undefined && !withStartInterval) {
      fail(ctx, c.range.startLine, 'unsupported', ctx.caps.lacks('HEALTHCHECK --start-interval needs a dockerd whose images keep it (Engine API 1.44, Docker 25)'));
    }
    const test = check.command.form === 'exec' ? ['CMD', ...check.command.args] : ['CMD-SHELL', check.command.command];
    hc = { Test: test };
    if (check.intervalNs) hc.Interval = check.intervalNs;
    if (check.timeoutNs) hc.Timeout = check.timeoutNs;
    if (check.startPeriodNs) hc.StartPeriod = check.startPeriodNs;
    if (check.startIntervalNs) hc.StartInterval = check.startIntervalNs;
    if (check.retries) hc.Retries = check.retries;
  }
  d.image.config.Healthcheck = hc;
  const durations = [hc.Interval, hc.Timeout, hc.StartPeriod, ...(withStartInterval ? [hc.StartInterval] : [])];
  const text = `&{${goQuoteList(hc.Test)} ${durations.map((n) => goQuote(goDuration(n ?? 0))).join(' ')} ${goQuoteRune(hc.Retries ?? 0)}}`;
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

/** WORKDIR of the base image: directory only, no mkdir and no history. */
export function applyBaseWorkdir(d: DispatchState, path: string): void {
  setDir(d, path);
  d.image.config.WorkingDir = isAbsPath(path) ? path : joinPath('/', d.image.config.WorkingDir ?? '', path);
}

/** Moves the LLB working directory like llb.Dir: relative paths join the previous one. */
function setDir(d: DispatchState, p: string): void {
  d.dir = isAbsPath(p) ? p : joinPath(d.dir || '/', p);
}
