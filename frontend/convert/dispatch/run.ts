// RUN: an exec on the stage's state, with its mounts (mounts.ts), heredocs (Dockerfile
// 1.4, as dockerfile2llb runs them), network and security modes, and the history line.
import { networkMode, OptionError, parseHeredocMarker, securityMode, MAX_EXPANDED_LENGTH } from '../../../dockerfile-parser/index.js';
import type { CommandForm, RunInstruction } from '../../../dockerfile-parser/index.js';
import { FileAction, LlbState } from '../../llb/index.js';
import type { ExecOptions, MountSpec } from '../../llb/index.js';
import type { EnvList } from '../util.js';
import { joinPath } from '../../../common/index.js';
import { CAP } from '../capabilities.js';
import { formatPlatform } from '../platform.js';
import { runMounts } from './mounts.js';
import { commandArgs, commitToHistory, fail, internalMetadata, prefixCommand, recordStep, uppercaseCmd } from './state.js';
import type { DispatchContext, DispatchState } from './state.js';

export function dispatchRun(ctx: DispatchContext, d: DispatchState, c: RunInstruction, index: number | undefined): void {
  const line = c.range.startLine;
  const netMode = decodeMode(ctx, line, c.network, networkMode);
  const network = netMode === undefined || netMode === 'default' ? ctx.network : netMode;
  const security = decodeMode(ctx, line, c.security, securityMode) ?? 'sandbox';
  if (network !== 'sandbox' && !ctx.caps.has(CAP.network)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`RUN with network mode ${network} needs network modes on execs (LLB cap ${CAP.network})`));
  if (!ctx.caps.canRun(d.platform)) {
    const p = formatPlatform(d.platform);
    fail(ctx, line, 'unsupported', `RUN for ${p} cannot run on ${ctx.caps.name}: it executes ${ctx.caps.runnablePlatforms}; an emulator for ${p} (qemu-user-static registered with binfmt_misc) would let it`);
  }
  if (security !== 'sandbox' && !ctx.caps.has(CAP.security)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`RUN --security=${security} needs security modes on execs (LLB cap ${CAP.security})`));

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
  const defaults = ctx.execDefaults;
  if (defaults.shmSize !== undefined && defaults.shmSize > 0) {
    if (!ctx.caps.has(CAP.tmpfsSize)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`--shm-size needs tmpfs sizes on exec mounts (LLB cap ${CAP.tmpfsSize})`));
    // What BuildKit's own frontend does with shm-size: a tmpfs of that size on /dev/shm.
    mounts.push({ dest: '/dev/shm', type: 'tmpfs', tmpfsSize: defaults.shmSize });
  }
  const ulimits = defaults.ulimits ?? [];
  if (ulimits.length > 0 && !ctx.caps.has(CAP.ulimit)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`--ulimit needs ulimits on execs (LLB cap ${CAP.ulimit})`));
  const cgroupParent = defaults.cgroupParentByLine?.[line] ?? defaults.cgroupParent;
  if (cgroupParent !== undefined && !ctx.caps.has(CAP.cgroupParent)) {
    fail(ctx, line, 'unsupported', ctx.caps.lacks(`--enforce needs a cgroup parent on execs (LLB cap ${CAP.cgroupParent})`));
  }
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
    ...(ctx.frontendArgs.hostname ? { hostname: ctx.frontendArgs.hostname } : {}),
    ...(defaults.extraHosts !== undefined && defaults.extraHosts.length > 0 ? { extraHosts: defaults.extraHosts } : {}),
    ...(ulimits.length > 0 ? { ulimits } : {}),
    ...(cgroupParent !== undefined ? { cgroupParent } : {}),
    // What BuildKit's own frontend sets where the daemon can do it: the mount points the
    // exec needed (/run/secrets, a bind target...) are not left behind in the image.
    ...(ctx.caps.removeMountStubs ? { removeMountStubs: true } : {}),
    ...(rm.secretEnv.length > 0 ? { secretEnv: rm.secretEnv } : {}),
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
  // --no-cache-filter: the RUNs of the named stages run again, as in BuildKit's frontend.
  const stageName = d.info.name;
  if (stageName !== undefined && (defaults.noCacheFilter ?? []).some((n) => n.toLowerCase() === stageName.toLowerCase())) {
    const md = ctx.metadata.get(d.llb);
    if (md !== undefined) md.ignore_cache = true;
  }
  commitToHistory(d, 'RUN ' + runCommandString(args, d.buildArgs, d.env), true, true);
}

/** --network or --security, decoded by the parser (run-options.ts), located at the RUN. */
function decodeMode<T>(ctx: DispatchContext, line: number, value: string | undefined, decode: (v: string) => T): T | undefined {
  if (value === undefined) return undefined;
  try {
    return decode(value);
  } catch (e) {
    if (e instanceof OptionError) fail(ctx, line, 'invalid-flag', e.message);
    throw e;
  }
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

/** BuildKit's summarizeHeredoc: the first line, `...` when there are more. */
export function summarizeHeredoc(doc: string): string {
  const lines = doc.trim().replace(/\r\n/g, '\n').split('\n');
  return (lines[0] ?? '') + (lines.length > 1 ? '...' : '');
}

const RUN_NAME_VARIABLE = /\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/y;

/** RUN names: `$VAR`/`${VAR}` of set variables replaced, quotes and everything else kept
 * (BuildKit expands with RawQuotes and SkipUnsetEnv for RUN). A name that would grow past
 * MAX_EXPANDED_LENGTH (`RUN $A$A$A...` with a large A) keeps its variables as written. */
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
      RUN_NAME_VARIABLE.lastIndex = i;
      const m = RUN_NAME_VARIABLE.exec(text);
      if (m) {
        const v = env.get((m[1] ?? m[2]) as string);
        if (v !== undefined) {
          out += v;
          if (out.length > MAX_EXPANDED_LENGTH) return text;
          i += m[0].length - 1;
          continue;
        }
      }
    }
    out += ch;
  }
  return out;
}

/** `RUN` history text: `|N K=V ... ` (every ARG of the stage) before the command. */
function runCommandString(args: string[], buildArgs: { key: string; value?: string }[], env: EnvList): string {
  const tmp = buildArgs.map((a) => `${a.key}=${env.get(a.key) ?? a.value ?? ''}`);
  const parts = tmp.length > 0 ? [`|${tmp.length}`, ...tmp, ...args] : args;
  return parts.join(' ');
}
