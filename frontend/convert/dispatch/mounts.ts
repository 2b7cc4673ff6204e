// The LLB mounts of RUN --mount flags (BuildKit's dispatchRunMounts). Each value is
// decoded by the parser's parseMount, with variables of the stage expanded; what it mounts
// (a stage, an image, the context, a cache, a secret...) is decided here, and what the
// daemon cannot run (a tmpfs size, a secret as an environment variable) is refused.
import { OptionError, parseMount } from '../../../dockerfile-parser/index.js';
import type { RunInstruction, RunMount } from '../../../dockerfile-parser/index.js';
import { FileAction, LlbState } from '../../llb/index.js';
import type { MountSpec, SecretEnvSpec } from '../../llb/index.js';
import { CAP } from '../capabilities.js';
import { cleanPath, joinPath } from '../../../common/index.js';
import { isAbsPath } from '../util.js';
import { expand, fail, internalMetadata } from './state.js';
import type { DispatchContext, DispatchState, SecretUse } from './state.js';

/** The LLB mounts of RUN --mount flags (BuildKit's dispatchRunMounts), and the secrets
 * given as environment variables. */
export function runMounts(
  ctx: DispatchContext,
  d: DispatchState,
  c: RunInstruction,
  index: number | undefined,
): { mounts: MountSpec[]; secrets: SecretUse[]; ssh: SecretUse[]; secretEnv: SecretEnvSpec[] } {
  const line = c.range.startLine;
  const mounts: MountSpec[] = [];
  const secretEnv: SecretEnvSpec[] = [];
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
      if (m.env !== undefined) {
        if (!ctx.caps.has(CAP.secretEnv)) {
          fail(ctx, line, 'unsupported', ctx.caps.lacks(`invalid --mount=${value}: a secret as an environment variable (env=) needs secret environment variables on execs (LLB cap ${CAP.secretEnv})`));
        }
        secretEnv.push({ id, name: m.env, optional: !m.required });
      }
      // With env= the secret is a file only where target= says so.
      if (m.env === undefined || m.target) {
        mounts.push({
          dest: m.target || '/run/secrets/' + basename(id),
          type: 'secret',
          id,
          uid: m.uid ?? 0,
          gid: m.gid ?? 0,
          mode: m.mode ?? 0o400,
          optional: !m.required,
        });
      }
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
      spec.cacheId = ctx.frontendArgs.cacheMountNs + '/' + (m.id || cleanPath(rawTarget));
      spec.cacheSharing = m.sharing ?? 'shared';
    }
    if (m.type === 'tmpfs' && m.sizeLimit) {
      if (!ctx.caps.has(CAP.tmpfsSize)) {
        fail(ctx, line, 'unsupported', ctx.caps.lacks(`invalid --mount=${value}: size= needs tmpfs size limits (LLB cap ${CAP.tmpfsSize})`));
      }
      spec.tmpfsSize = m.sizeLimit;
    }
    mounts.push(spec);
    if (m.type === 'bind' && !m.from) ctx.ctxPaths.add(src);
  }
  return { mounts, secrets, ssh, secretEnv };
}

function basename(p: string): string {
  const parts = p.split('/').filter((x) => x !== '');
  return parts.length === 0 ? '/' : (parts[parts.length - 1] as string);
}
