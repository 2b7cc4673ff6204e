// COPY and ADD: one file op of copies onto the stage, from the build context, a stage
// or image (--from), a URL or git repository (ADD), or heredocs. COPY --parents and
// --exclude are left to the daemon (copy include/exclude patterns) where it has them;
// without them (BuildKit v0.8) --parents becomes exact-path copies (see ../parents.ts).
// What the daemon's file op cannot express is refused with a message naming the daemon.
import { expandHeredoc, ExpansionError } from '../../../dockerfile-parser/index.js';
import type { CopyInstruction, Heredoc } from '../../../dockerfile-parser/index.js';
import { FileAction, LlbState } from '../../llb/index.js';
import type { ChownSpec, CopyOptions } from '../../llb/index.js';
import { belowPivot, checkPattern, hasWildcards, splitParentsSource } from '../parents.js';
import type { StageInfo } from '../stages.js';
import { joinPath } from '../../../common/index.js';
import { CAP } from '../capabilities.js';
import { isAbsPath, parseChown } from '../util.js';
import { isGitSource, parseGitSource } from './git.js';
import { commitToHistory, displayText, expand, fail, internalMetadata, lookupIn, prefixCommand, recordStep, uppercaseCmd } from './state.js';
import type { DispatchContext, DispatchState } from './state.js';

/** One COPY/ADD being built: what all its sources share, and the file op so far. */
interface CopyJob {
  ctx: DispatchContext;
  d: DispatchState;
  c: CopyInstruction;
  line: number;
  /** Where sources go, absolute; a trailing `/` when it names a directory. */
  dest: string;
  /** The destination directory of --parents copies. */
  destDir: string;
  mode?: number;
  /** --chmod in symbolic form (daemons with copy mode strings). */
  modeStr?: string;
  owner?: ChownSpec;
  /** --exclude patterns, expanded (daemons with copy patterns). */
  exclude?: string[];
  /** --from's stage or image, else undefined (the build context). */
  fromStage?: StageInfo;
  sourceState: LlbState;
  action?: FileAction;
}

export function dispatchCopy(ctx: DispatchContext, d: DispatchState, c: CopyInstruction, index: number | undefined): void {
  const isAdd = c.keyword === 'ADD';
  const line = c.range.startLine;
  if (c.exclude.length > 0 && !ctx.caps.has(CAP.copyPatterns)) {
    fail(ctx, line, 'unsupported', ctx.caps.lacks(`${c.keyword} --exclude needs exclude patterns on copies (LLB cap ${CAP.copyPatterns})`));
  }
  // The parser gives each keyword only its own flags (no --parents on ADD, no --checksum
  // on COPY...). --link is accepted and made an ordinary copy onto the stage: the files
  // are the same; only the layer's reuse differs.
  const parents = c.parents ?? false;

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
  const job: CopyJob = { ctx, d, c, line, dest, destDir: joinPath('/', pp), sourceState };
  const mode = fileMode(ctx, line, chmod);
  if (typeof mode === 'number') job.mode = mode;
  else if (typeof mode === 'string') job.modeStr = mode;
  if (c.exclude.length > 0) job.exclude = c.exclude.map((e) => expand(ctx, d, c, e));
  if (chown !== '') job.owner = parseChown(chown);
  if (fromStage) job.fromStage = fromStage;
  if (checksum !== '') checkChecksum(ctx, line, checksum, sources, c.heredocs.length);

  let msg = isAdd ? 'ADD' : 'COPY';
  if (ctx.caps.copyHistoryFlags) {
    // As that frontend writes them: --chown expanded, --chmod as written.
    if (parents) msg += ' --parents';
    if (chown !== '') msg += ` --chown=${chown}`;
    if (c.chmod) msg += ` --chmod=${c.chmod}`;
  }
  for (const src of sources) {
    msg += ' ' + src;
    if (isAdd && isGitSource(src)) copyGit(job, src);
    else if (src.startsWith('http://') || src.startsWith('https://')) copyUrl(job, src, checksum);
    else if (parents && ctx.caps.has(CAP.copyPatterns)) copyParentsNative(job, src);
    else if (parents) copyParents(job, src);
    else copyPath(job, src);
  }
  for (const h of c.heredocs) {
    msg += ' <<' + h.name;
    copyHeredoc(job, h);
  }
  msg += ' ' + rawDest;
  if (!job.action) fail(ctx, line, 'invalid-instruction', `${c.keyword} needs a source and a destination`);
  const name = prefixCommand(d, uppercaseCmd(displayText(ctx, d, c.text)));
  d.llb = d.llb.file(job.action, { platform: d.platform });
  // Sources as written (variables expanded; heredocs are not sources from anywhere), the
  // destination as resolved against WORKDIR, and --from as given.
  const copyFrom = fromStage ? c.from ?? fromStage.stepStage : undefined;
  recordStep(ctx, d, c, d.llb, name, {}, {
    copySources: [...sources],
    // With --parents the destination is always a directory.
    copyDestination: parents ? (job.destDir === '/' ? '/' : job.destDir + '/') : dest,
    ...(copyFrom !== undefined ? { copyFrom } : {}),
  });
  commitToHistory(d, msg, true, true);
}

/** A symbolic mode as chmod(1) writes it: `u+x`, `go-w,a+r`, `u=rwx,g=rx,o=`. */
const SYMBOLIC_MODE = /^[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+(?:,[ugoa]*(?:[-+=](?:[rwxXst]*|[ugo]))+)*$/;

/** --chmod, expanded: octal up to 07777 (a number), or a symbolic mode (a string) where
 * the daemon's copies take mode strings. */
function fileMode(ctx: DispatchContext, line: number, chmod: string): number | string | undefined {
  if (chmod === '') return undefined;
  if (/^[0-7]+$/.test(chmod) && parseInt(chmod, 8) <= 0o7777) return parseInt(chmod, 8);
  if (/^[0-9]+$/.test(chmod)) fail(ctx, line, 'invalid-flag', `invalid chmod parameter: '${chmod}'. it should be octal string and between 0 and 07777`);
  if (!SYMBOLIC_MODE.test(chmod)) fail(ctx, line, 'invalid-flag', `invalid chmod parameter: '${chmod}': neither an octal mode nor a symbolic one (such as u+x,go-w)`);
  if (!ctx.caps.has(CAP.copyModeString)) {
    fail(ctx, line, 'invalid-flag', ctx.caps.lacks(`invalid chmod parameter: '${chmod}': a symbolic mode needs mode strings on copies (LLB cap ${CAP.copyModeString}); use an octal mode`));
  }
  return chmod;
}

/** ADD --checksum, expanded: one HTTP(S) source and a valid digest, or one git source and
 * a commit where the daemon checks git commits. */
function checkChecksum(ctx: DispatchContext, line: number, checksum: string, sources: string[], heredocCount: number): void {
  if (sources.length !== 1 || heredocCount > 0) fail(ctx, line, 'invalid-flag', "checksum can't be specified for multiple sources");
  const only = sources[0] as string;
  if (isGitSource(only)) {
    if (!ctx.caps.has(CAP.gitChecksum)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`--checksum on a git source needs git commit checks (LLB cap ${CAP.gitChecksum})`));
    if (!/^[0-9a-f]{4,64}$/.test(checksum)) fail(ctx, line, 'invalid-flag', `--checksum=${checksum}: a git checksum is a commit id (hex)`);
    return;
  }
  if (!/^https?:\/\//.test(only)) fail(ctx, line, 'invalid-flag', 'checksum requires HTTP(S) or Git sources');
  if (!ctx.caps.has(CAP.httpChecksum)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`ADD --checksum needs checksums on http sources (LLB cap ${CAP.httpChecksum})`));
  const bad = checkDigest(checksum);
  if (bad) fail(ctx, line, 'invalid-flag', `--checksum=${checksum}: ${bad}`);
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

function addCopy(job: CopyJob, to: string, from: LlbState, src: string, opts: CopyOptions): void {
  job.action = job.action ? job.action.copy(from, src, to, opts) : FileAction.copy(from, src, to, opts);
}

/** The job's mode, then `opts`, then its owner and exclude patterns: the options every
 * copy of it carries. */
function copyOptions(job: CopyJob, opts: CopyOptions): CopyOptions {
  return {
    ...(job.mode !== undefined ? { mode: job.mode } : {}),
    ...(job.modeStr !== undefined ? { modeStr: job.modeStr } : {}),
    ...opts,
    ...(job.owner ? { owner: job.owner } : {}),
    ...(job.exclude ? { excludePatterns: [...job.exclude] } : {}),
  };
}

/** A path (or wildcard) of the build context, or of --from's stage or image. */
function copyPath(job: CopyJob, src: string): void {
  const from = joinPath('/', src);
  addCopy(
    job,
    job.dest,
    job.sourceState,
    from,
    copyOptions(job, {
      followSymlink: true,
      dirCopyContents: true,
      attemptUnpackDockerCompatibility: job.c.unpack ?? job.c.keyword === 'ADD',
      createDestPath: true,
      allowWildcard: true,
      allowEmptyWildcard: true,
    }),
  );
  if (!job.fromStage) job.ctx.ctxPaths.add(from);
}

/** ADD of a git repository, as the git source of BuildKit v0.8 fetches it. */
function copyGit(job: CopyJob, src: string): void {
  const { ctx, line } = job;
  const git = parseGitSource(src);
  if (typeof git === 'string') fail(ctx, line, 'unsupported', `ADD ${src}: ${git}`);
  const keepGitDirFlag = job.c.keepGitDir;
  if (keepGitDirFlag !== undefined && git.keepGitDir !== undefined && keepGitDirFlag !== git.keepGitDir) {
    fail(ctx, line, 'invalid-flag', 'inconsistent keep-git-dir configuration');
  }
  const attrs: Record<string, string> = { 'git.fullurl': git.remote };
  if (keepGitDirFlag ?? git.keepGitDir) {
    if (!ctx.caps.has(CAP.gitKeepDir)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`keeping the .git directory needs LLB cap ${CAP.gitKeepDir}`));
    attrs['git.keepgitdir'] = 'true';
  }
  const checksum = expand(ctx, job.d, job.c, job.c.checksum ?? '') || git.checksum || '';
  if (checksum !== '') {
    if (!ctx.caps.has(CAP.gitChecksum)) fail(ctx, line, 'unsupported', ctx.caps.lacks(`a git commit checksum needs git commit checks (LLB cap ${CAP.gitChecksum})`));
    attrs['git.checksum'] = checksum;
  }
  // The daemon checks out the subdirectory itself where it can (`#ref:subdir`); else
  // (BuildKit v0.8) the subdirectory is copied out of the whole checkout.
  const nativeSubdir = git.subdir !== undefined && ctx.caps.has(CAP.gitSubdir);
  const fragment = nativeSubdir ? `${git.ref ?? ''}:${git.subdir ?? ''}` : git.ref ?? '';
  const id = 'git://' + git.remote.replace(/^(https?|git):\/\//, '') + (fragment ? '#' + fragment : '');
  const st = LlbState.source(id, attrs);
  const fromSubdir = git.subdir !== undefined && !nativeSubdir;
  addCopy(
    job,
    job.dest,
    st,
    fromSubdir ? joinPath('/', git.subdir ?? '') : '/',
    copyOptions(job, { ...(fromSubdir ? { dirCopyContents: true } : {}), createDestPath: true }),
  );
}

/** ADD of a URL (COPY refuses one), named after its last path segment. */
function copyUrl(job: CopyJob, src: string, checksum: string): void {
  if (job.c.keyword !== 'ADD') fail(job.ctx, job.line, 'invalid-instruction', "source can't be a URL for COPY");
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
  addCopy(job, job.dest, http, f, copyOptions(job, { ...(job.c.unpack ? { attemptUnpackDockerCompatibility: true } : {}), createDestPath: true }));
}

/** COPY --parents where the daemon filters copies (BuildKit's own way): the source is the
 * pivot (`a/./b`: `a`; no pivot: the root), and what follows it an include pattern, so the
 * matches keep their paths below the pivot, wildcards resolved by the daemon. */
function copyParentsNative(job: CopyJob, src: string): void {
  const { ctx, fromStage, sourceState } = job;
  const cut = src.indexOf('/./');
  const pivot = cut < 0 ? '/' : src.slice(0, cut);
  const pattern = joinPath('/', cut < 0 ? src : src.slice(cut + 3)).replace(/^\/+/, '');
  const from = joinPath('/', pivot);
  addCopy(
    job,
    job.dest,
    sourceState,
    from,
    copyOptions(job, {
      followSymlink: true,
      dirCopyContents: true,
      includePatterns: [pattern],
      createDestPath: true,
      allowWildcard: true,
      allowEmptyWildcard: true,
    }),
  );
  // The context sends what the pattern can match: everything below its last directory
  // without wildcards (the daemon filters the rest).
  if (!fromStage) {
    const fixed: string[] = [];
    for (const part of joinPath('/', src).split('/').filter((p) => p !== '')) {
      if (/[*?[\\]/.test(part)) break;
      fixed.push(part);
    }
    ctx.ctxPaths.add('/' + fixed.join('/'));
  }
}

/** COPY --parents where the daemon's copies take no include patterns (BuildKit v0.8; see
 * parents.ts): each source is copied to <dest dir>/<its path below the pivot>, as exact paths. */
function copyParents(job: CopyJob, src: string): void {
  const { ctx, line, destDir, fromStage, sourceState } = job;
  const ps = splitParentsSource(src);
  const parentsOptions = (rest: string): CopyOptions =>
    copyOptions(job, {
      // BuildKit's include-pattern copy follows the pivot but copies what matched as it is
      // (a symlink stays a link), so only a bare pivot (`x/./`) is followed.
      ...(rest === '' ? { followSymlink: true } : {}),
      dirCopyContents: true,
      createDestPath: true,
    });
  if (!hasWildcards(ps)) {
    // A missing path fails the build ("not found"), as a plain COPY does; BuildKit v0.13+
    // skips it silently, which a maintainer called unexpected (moby/buildkit#4900).
    const from = joinPath('/', ps.pivot, ps.rest);
    addCopy(job, joinPath(destDir, ps.rest), sourceState, from, parentsOptions(ps.rest));
    if (!fromStage) ctx.ctxPaths.add(from);
    return;
  }
  if (fromStage) {
    fail(
      ctx,
      line,
      'unsupported',
      ctx.caps.lacks(
        `COPY --from=${job.c.from ?? fromStage.stepStage} --parents ${src}: a wildcard with --parents from a stage or image needs include patterns on copies ` +
          `(LLB cap ${CAP.copyPatterns}): the source tree is not known before the build; name the paths without wildcards`,
      ),
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
    const mk = { makeParents: true, ...(job.owner ? { owner: job.owner } : {}) };
    job.action = job.action ? job.action.mkdir(destDir, 0o755, mk) : FileAction.mkdir(destDir, 0o755, mk);
    return;
  }
  for (const m of matches) {
    const from = joinPath('/', m.path);
    const rest = belowPivot(m);
    addCopy(job, joinPath(destDir, rest), sourceState, from, parentsOptions(rest));
    ctx.ctxPaths.add(from);
  }
}

/** A heredoc source: a file made by a mkfile on scratch, then copied. */
function copyHeredoc(job: CopyJob, h: Heredoc): void {
  const { ctx, d, line } = job;
  let data = h.content;
  if (h.expand) {
    try {
      data = expandHeredoc(data, lookupIn(d.env), ctx.expansionBudget);
    } catch (e) {
      if (e instanceof ExpansionError) fail(ctx, line, 'expansion-failed', e.message, e);
      throw e;
    }
  }
  const path = joinPath('/', h.name);
  const doc = LlbState.scratch().file(FileAction.mkfile(path, 0o644, data), { platform: d.platform });
  ctx.metadata.set(doc, internalMetadata(ctx, '[internal] preparing inline document'));
  addCopy(job, job.dest, doc, path, copyOptions(job, { createDestPath: true }));
}
