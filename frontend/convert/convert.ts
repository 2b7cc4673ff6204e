// Dockerfile -> LLB + image config + source map. Pure apart from the optional image
// config resolver. The flow mirrors BuildKit's Dockerfile2LLB: a stage table (names,
// bases, COPY --from sources, reachability from the target), base image configs resolved
// once, then every reachable stage dispatched instruction by instruction.
//
// The build-context source must know every context path COPY/ADD use (local.followpaths),
// which is only known after dispatch; the builder is immutable, so stages are dispatched
// twice: a first pass to learn the paths, the second with the final context source.
// Wildcards of COPY --parents need a listing of the context, which is asynchronous while
// dispatch is not: a first pass that meets one is dispatched again once it is listed.
import { expandWord, ExpansionError, mountFrom, OptionError, parseDockerfile } from '../../dockerfile-parser/index.js';
import type { DockerfileAst, Instruction, Stage } from '../../dockerfile-parser/index.js';
import { LlbState, marshal, digestOf, decodeDefinition } from '../llb/index.js';
import type { LlbDefinition, MarshalOptions, VertexMetadata } from '../llb/index.js';
import { ConvertError } from './errors.js';
import { cloneImage, defaultPathEnv, emptyImage, imageToJSON, isScratchImage, parseImage } from './image.js';
import type { ImageSpec } from './image.js';
import type { Conversion, ConvertOptions, ConvertedStep, Platform } from './types.js';
import { EnvList, normalizeImageRef, parseKeyValue } from './util.js';
import { ParentsGlobs } from './parents.js';
import {
  applyBaseWorkdir,
  dispatch,
  internalMetadata,
  prefixCommand,
} from './dispatch.js';
import type { DispatchContext, DispatchState, PendingStep, StageInfo } from './dispatch.js';

const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };
const SCRATCH = 'scratch';

function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

function parsePlatform(s: string): Platform | undefined {
  const parts = s.toLowerCase().split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  if (parts.length === 1) return { os: parts[0] as string, architecture: 'amd64' };
  const p: Platform = { os: parts[0] as string, architecture: normalizeArch(parts[1] as string) };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function normalizeArch(a: string): string {
  if (a === 'x86_64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  return a;
}

function proxyEnvFrom(args: Record<string, string>): DispatchContext['proxyEnv'] {
  let found = false;
  const pe: NonNullable<DispatchContext['proxyEnv']> = {};
  for (const [k, v] of Object.entries(args)) {
    const key = k.toLowerCase();
    if (key === 'http_proxy') pe.httpProxy = v;
    else if (key === 'https_proxy') pe.httpsProxy = v;
    else if (key === 'ftp_proxy') pe.ftpProxy = v;
    else if (key === 'no_proxy') pe.noProxy = v;
    else continue;
    found = true;
  }
  return found ? pe : undefined;
}

interface Prepared {
  infos: StageInfo[];
  target: StageInfo;
  metaArgs: { key: string; value?: string }[];
  targetPlatform: Platform;
  implicitPlatform: boolean;
}

/** Builds the stage table, expands FROM, finds the target and resolves base configs. */
async function prepare(opts: ConvertOptions): Promise<Prepared> {
  const ast: DockerfileAst = opts.dockerfile;
  const file = ast.fileName;
  const escape = ast.directives.escape;
  if (ast.stages.length === 0) throw new ConvertError('empty-dockerfile', file, 0, 'the Dockerfile has no build stage');
  checkSyntaxDirective(ast);
  const targetPlatform = opts.platform ?? DEFAULT_PLATFORM;
  const buildPlatform = opts.platform ?? DEFAULT_PLATFORM;

  const override = (key: string, value: string | undefined): string | undefined =>
    Object.prototype.hasOwnProperty.call(opts.buildArgs, key) ? opts.buildArgs[key] : value;
  const metaArgs: { key: string; value?: string }[] = [];
  const platformArgs: Record<string, string> = {
    BUILDPLATFORM: formatPlatform(buildPlatform),
    BUILDOS: buildPlatform.os,
    BUILDARCH: buildPlatform.architecture,
    BUILDVARIANT: buildPlatform.variant ?? '',
    TARGETPLATFORM: formatPlatform(targetPlatform),
    TARGETOS: targetPlatform.os,
    TARGETARCH: targetPlatform.architecture,
    TARGETVARIANT: targetPlatform.variant ?? '',
  };
  for (const [k, v] of Object.entries(platformArgs)) metaArgs.push({ key: k, value: override(k, v) as string });
  const metaLookup = (name: string): string | undefined => {
    // Declared-but-unset global ARGs expand to '' (BuildKit maps them to empty strings).
    let v: string | undefined;
    for (const m of metaArgs) if (m.key === name) v = m.value ?? '';
    return v;
  };
  const expandMeta = (word: string, line: number): string => {
    try {
      return expandWord(word, metaLookup, escape);
    } catch (e) {
      if (e instanceof ExpansionError) throw new ConvertError('expansion-failed', file, line, e.message, { cause: e });
      throw e;
    }
  };
  for (const inst of ast.globalArgs) {
    for (const a of inst.args) {
      const def = a.defaultValue === undefined ? undefined : expandMeta(a.defaultValue, inst.range.startLine);
      const value = override(a.name, def);
      metaArgs.push(value === undefined ? { key: a.name } : { key: a.name, value });
    }
  }

  const infos: StageInfo[] = [];
  const byName = new Map<string, StageInfo>();

  const addInfo = (info: StageInfo, name: string | undefined): void => {
    infos.push(info);
    const base = byName.get(info.baseName);
    if (base) info.base = base;
    if (name) byName.set(name.toLowerCase(), info);
  };
  ast.stages.forEach((st: Stage, i) => {
    const line = st.from.range.startLine;
    const baseName = expandMeta(st.from.image, line);
    if (baseName === '') fail0(file, line, 'invalid-base-name', `base name (${st.from.image}) should not be blank`);
    let platform: Platform | undefined;
    if (st.from.platform) {
      const v = expandMeta(st.from.platform, line);
      platform = parsePlatform(v);
      if (!platform) fail0(file, line, 'invalid-platform', `failed to parse platform ${v}`);
    }
    let total = 0;
    for (const inst of st.instructions) if (['ADD', 'COPY', 'RUN', 'WORKDIR'].includes(inst.keyword)) total++;
    const info: StageInfo = {
      index: i,
      displayName: st.name ?? `stage-${i}`,
      stepStage: st.name ?? String(i),
      baseName,
      unregistered: false,
      deps: new Set(),
      cmdTotal: total,
      instructions: st.instructions,
      fromLine: line,
      fromEndLine: st.from.range.endLine,
      fromText: st.from.text,
      copySources: new Map(),
      mountSources: new Map(),
    };
    if (st.name) info.name = st.name.toLowerCase();
    if (platform) info.platform = platform;
    addInfo(info, st.name);
    if (baseName !== SCRATCH && !info.base) info.cmdTotal++;
  });

  // FROM <name> only sees the stages before it (Docker then pulls an image of that name);
  // naming a later stage is almost certainly a mistake, so say so.
  for (const info of infos) {
    if (info.base || info.unregistered) continue;
    const later = byName.get(info.baseName.toLowerCase());
    if (later && later.index > info.index) {
      fail0(
        file,
        info.fromLine,
        'invalid-stage-order',
        `FROM ${info.baseName} refers to stage "${later.name ?? later.displayName}" defined later (line ${later.fromLine}): a stage can only be based on an earlier stage`,
      );
    }
  }

  let target: StageInfo;
  if (opts.target) {
    const t = byName.get(opts.target.toLowerCase());
    if (!t) throw new ConvertError('target-not-found', file, 0, `target stage ${opts.target} could not be found`);
    target = t;
  } else {
    target = infos[infos.length - 1] as StageInfo;
  }

  // COPY --from and RUN --mount=from=: a stage index (COPY only), a stage name, or else an image.
  const imageSource = (name: string, line: number, endLine: number, text: string): StageInfo => {
    const src: StageInfo = {
      index: infos.length,
      displayName: `stage-${infos.length}`,
      stepStage: String(infos.length),
      baseName: name,
      unregistered: true,
      deps: new Set(),
      cmdTotal: 0,
      instructions: [],
      fromLine: line,
      fromEndLine: endLine,
      fromText: text,
      copySources: new Map(),
      mountSources: new Map(),
    };
    addInfo(src, undefined);
    return src;
  };
  for (const info of [...infos]) {
    info.instructions.forEach((inst, i) => {
      const line = inst.range.startLine;
      if (inst.keyword === 'COPY') {
        const v = inst.from;
        if (v === undefined) return;
        if (v === '') fail0(file, line, 'invalid-flag', 'missing a value on flag: --from');
        let src: StageInfo | undefined;
        if (/^-?\d+$/.test(v)) {
          const n = Number(v);
          src = n >= 0 && n < ast.stages.length ? infos[n] : undefined;
          if (!src) {
            fail0(file, line, 'invalid-stage-index', `invalid stage index ${v}: the Dockerfile has ${ast.stages.length} stage${ast.stages.length === 1 ? '' : 's'} (0-${ast.stages.length - 1})`);
          }
        } else {
          src = byName.get(v.toLowerCase());
          if (!src) {
            if (v.includes('$')) {
              fail0(file, line, 'invalid-flag', `variable expansion is not supported for --from=${v}: define a stage with FROM using a global ARG instead`);
            }
            if (!normalizeImageRef(v)) {
              fail0(file, line, 'invalid-reference', `COPY --from=${v}: no stage is named ${JSON.stringify(v)} and it is not a valid image reference`);
            }
            src = imageSource(v, line, inst.range.endLine, inst.text);
          }
        }
        if (src === info) fail0(file, line, 'circular-dependency', `COPY --from=${v} refers to its own stage ${info.displayName}: a stage cannot copy from itself`);
        info.copySources.set(i, src);
        info.deps.add(src);
      } else if (inst.keyword === 'RUN') {
        const list: (StageInfo | undefined)[] = [];
        let any = false;
        for (const value of inst.mounts) {
          let from: string | undefined;
          try {
            from = mountFrom(value);
          } catch (e) {
            if (e instanceof OptionError) fail0(file, line, 'invalid-flag', `invalid --mount=${value}: ${e.message}`);
            throw e;
          }
          let src: StageInfo | undefined;
          if (from !== undefined) {
            src = byName.get(from.toLowerCase());
            if (!src) {
              if (!normalizeImageRef(from)) {
                fail0(file, line, 'invalid-reference', `RUN --mount from=${from}: no stage is named ${JSON.stringify(from)} and it is not a valid image reference`);
              }
              src = imageSource(from, line, inst.range.endLine, inst.text);
            }
            if (src === info) fail0(file, line, 'circular-dependency', `RUN --mount from=${from} refers to its own stage ${info.displayName}: a stage cannot mount itself`);
            info.deps.add(src);
            any = true;
          }
          list.push(src);
        }
        if (any) info.mountSources.set(i, list);
      }
    });
  }

  // Circular dependencies.
  const visiting = new Set<StageInfo>();
  const done = new Set<StageInfo>();
  const visit = (s: StageInfo): void => {
    if (done.has(s)) return;
    if (visiting.has(s)) fail0(file, s.fromLine, 'circular-dependency', `circular dependency detected on stage: ${s.displayName}`);
    visiting.add(s);
    for (const dep of s.deps) visit(dep);
    visiting.delete(s);
    done.add(s);
  };
  for (const s of infos) visit(s);

  if (infos.length === 1) (infos[0] as StageInfo).displayName = '';

  // Resolve base image configs of reachable stages (once; both passes use them).
  const reachable = reachableFrom(target);
  for (const info of infos) {
    if (info.base || info.baseName === SCRATCH) continue;
    const ref = normalizeImageRef(info.baseName);
    if (!ref) fail0(file, info.fromLine, 'invalid-reference', `failed to parse stage name "${info.baseName}": invalid reference format`);
    info.baseName = ref;
    if (!reachable.has(info) || info.unregistered) continue;
    const platform = info.platform ?? targetPlatform;
    let resolved;
    if (opts.resolveImageConfig) {
      try {
        resolved = await opts.resolveImageConfig(ref, platform);
      } catch (e) {
        throw new ConvertError('resolve-failed', file, info.fromLine, `failed to resolve image config for ${ref}: ${(e as Error).message}`, { cause: e });
      }
    }
    const image = parseImage(resolved?.config ?? {});
    let scratch = false;
    if (resolved) {
      if (resolved.digest) info.baseName = `${ref}@${resolved.digest}`;
      scratch = isScratchImage(image);
    }
    info.resolved = { image, scratch, ...(resolved?.digest ? { digest: resolved.digest } : {}) };
  }

  return { infos, target, metaArgs, targetPlatform, implicitPlatform: opts.platform === undefined };
}

/** `# syntax=`: only BuildKit's own Dockerfile frontend (which tracebuild reimplements). */
const STANDARD_FRONTEND =
  /^(?:docker\.io\/)?docker\/dockerfile(?:-upstream)?(?::(?:1(?:\.\d+){0,2}(?:-(?:labs|experimental))?|latest|labs|experimental|master|master-labs|master-experimental))?(?:@sha256:[0-9a-f]{64})?$/;

export function isStandardFrontend(ref: string): boolean {
  return STANDARD_FRONTEND.test(ref.trim());
}

function checkSyntaxDirective(ast: DockerfileAst): void {
  const ref = ast.directives.syntax;
  if (ref === undefined || isStandardFrontend(ref)) return;
  throw new ConvertError(
    'unsupported',
    ast.fileName,
    ast.directives.syntaxLine ?? 1,
    `unsupported frontend image ${ref}: tracebuild builds with its own Dockerfile frontend`,
  );
}

function fail0(file: string, line: number, code: ConvertError['code'], what: string): never {
  throw new ConvertError(code, file, line, what);
}

function reachableFrom(target: StageInfo): Set<StageInfo> {
  const out = new Set<StageInfo>();
  const walk = (s: StageInfo): void => {
    if (out.has(s)) return;
    out.add(s);
    if (s.base) walk(s.base);
    for (const d of s.deps) walk(d);
  };
  walk(target);
  return out;
}

interface PassResult {
  ctx: DispatchContext;
  target: DispatchState;
}

/** Dispatches every reachable stage with the given build-context source. */
function runPass(opts: ConvertOptions, prep: Prepared, buildContext: LlbState, parentsGlobs: ParentsGlobs): PassResult {
  const ast = opts.dockerfile;
  const file = ast.fileName;
  const ctx: DispatchContext = {
    file,
    escape: ast.directives.escape,
    metaArgs: prep.metaArgs,
    buildArgs: opts.buildArgs,
    network: opts.network === 'default' ? 'sandbox' : opts.network,
    noCache: opts.noCache,
    targetPlatform: prep.targetPlatform,
    buildContext,
    states: new Map(),
    metadata: new Map(),
    steps: [],
    ctxPaths: new Set(),
    execs: [],
    parseTrigger: (trigger, line) => parseTrigger(file, trigger, line),
    parentsGlobs,
  };
  const pe = proxyEnvFrom(opts.buildArgs);
  if (pe) ctx.proxyEnv = pe;

  const reachable = reachableFrom(prep.target);
  // Initial states (base images and scratch) for every stage, as BuildKit sets them up
  // before dispatching: a COPY --from names the source stage's state at that point.
  for (const info of prep.infos) {
    if (!reachable.has(info) || info.base) continue;
    const platform = info.platform ?? prep.targetPlatform;
    const d: DispatchState = {
      info,
      llb: LlbState.scratch(),
      image: emptyImage(prep.targetPlatform),
      env: EnvList.empty(),
      dir: '/',
      user: '',
      platform,
      buildArgs: [],
      cmdSet: false,
      cmdIndex: 0,
      dispatched: false,
    };
    if (info.baseName !== SCRATCH) {
      if (info.resolved) d.image = cloneImage(info.resolved.image);
      else d.image = parseImage({});
      if (!info.resolved?.scratch) {
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
      }
    }
    ctx.states.set(info, d);
  }

  for (const info of prep.infos) {
    if (!reachable.has(info)) continue;
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
        dispatched: false,
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
  const target = ctx.states.get(prep.target) as DispatchState;
  return { ctx, target };
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
  for (const t of triggers) dispatch(ctx, d, ctx.parseTrigger(t, d.info.fromLine), undefined);
  delete img.config.OnBuild;

  d.info.instructions.forEach((inst, i) => dispatch(ctx, d, inst, i));
  d.dispatched = true;
}

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

/** Converts a parsed Dockerfile into an LLB definition, the image config and the source map. */
export async function convertDockerfile(opts: ConvertOptions): Promise<Conversion> {
  const prep = await prepare(opts);
  const contextName = opts.contextName || 'context';
  const localOpts = { sessionId: opts.sessionId, sharedKeyHint: contextName, excludePatterns: opts.excludePatterns };

  const globs = new ParentsGlobs(opts.readContextDir, opts.excludePatterns, opts.dockerfile.fileName);
  const firstLocal = LlbState.local(contextName, localOpts);
  let first = runPass(opts, prep, firstLocal, globs);
  // resolve() answers every source the pass asked for, and the next pass asks for the same
  // ones, so this runs at most once.
  while (globs.hasPending) {
    await globs.resolve();
    first = runPass(opts, prep, firstLocal, globs);
  }
  let followPaths: string[] = [];
  if (!first.ctx.ctxPaths.has('/')) {
    followPaths = [...first.ctx.ctxPaths].map((p) => p.replace(/^\/+/, '')).sort();
  }
  const local = LlbState.local(contextName, { ...localOpts, followPaths });
  const { ctx, target } = runPass(opts, prep, local, globs);
  ctx.metadata.set(local, internalMetadata(ctx, '[internal] load build context'));

  // Image config of the target.
  const image: ImageSpec = target.image;
  const labelKeys = Object.keys(opts.labels);
  if (labelKeys.length > 0) image.config.Labels = { ...(image.config.Labels ?? {}), ...opts.labels };
  if (!prep.implicitPlatform) {
    image.os = prep.targetPlatform.os;
    image.architecture = prep.targetPlatform.architecture;
    if (prep.targetPlatform.variant) image.variant = prep.targetPlatform.variant;
    else delete image.variant;
  } else {
    if (!image.os) image.os = target.platform.os;
    if (!image.architecture) image.architecture = target.platform.architecture;
  }
  if (!image.rootfs.type) image.rootfs.type = 'layers';

  const mopts: MarshalOptions = { defaultPlatform: prep.targetPlatform };
  const definition: LlbDefinition = marshal(target.llb, ctx.metadata, mopts);
  const inGraph = new Set(decodeDefinition(definition).map((o) => o.digest));

  const steps: ConvertedStep[] = [];
  for (const s of ctx.steps as PendingStep[]) {
    const vertex = digestOf(s.state, mopts);
    if (!vertex || !inGraph.has(vertex)) continue;
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

  const baseImages: Conversion['baseImages'] = [];
  const seenRefs = new Set<string>();
  const reachable = reachableFrom(prep.target);
  for (const info of prep.infos) {
    if (!reachable.has(info) || info.base || info.baseName === SCRATCH || info.resolved?.scratch) continue;
    if (seenRefs.has(info.baseName)) continue;
    seenRefs.add(info.baseName);
    const ref = info.resolved?.digest ? info.baseName.slice(0, info.baseName.lastIndexOf('@')) : info.baseName;
    baseImages.push(info.resolved?.digest ? { ref, digest: info.resolved.digest } : { ref });
  }

  const localDigest = digestOf(local, mopts);
  const localSources = localDigest && inGraph.has(localDigest) ? [{ name: contextName, excludePatterns: [...opts.excludePatterns] }] : [];

  // What the LLB needs from the CLI: entitlements, secrets and SSH agents of the execs
  // that are in the graph (stages the target does not need contribute nothing).
  let hostNet = false;
  let insecure = false;
  const secrets: Conversion['secrets'] = [];
  const sshIds: string[] = [];
  const seenSecret = new Set<string>();
  for (const e of ctx.execs) {
    const vertex = digestOf(e.state, mopts);
    if (!vertex || !inGraph.has(vertex)) continue;
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

  return { definition, imageConfig: imageToJSON(image), steps, baseImages, localSources, entitlements, secrets, sshIds };
}

/** JSON for `tracebuild convert`: each op decoded with its digest and metadata, and the
 * instructions it came from. */
export function describeConversion(c: Conversion): unknown {
  const byVertex = new Map<string, ConvertedStep[]>();
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
