// COPY --parents (Dockerfile 1.7) on the LLB of BuildKit v0.8.
//
// BuildKit v0.13+ runs `COPY --parents SRC DEST` as one copy of the context root (or of
// the part of SRC before a `/./` pivot) into DEST, filtered by an include pattern (the rest
// of SRC). The copy action of v0.8 has no include patterns, so every source becomes copies
// of exact paths instead, each to DEST/<its path below the pivot>:
// - a path without wildcards needs nothing but the Dockerfile: one copy;
// - a wildcard in the build context is expanded here, against a listing of the context
//   that the caller provides, with the .dockerignore patterns applied the way the session
//   applies them when it sends files: a match is exactly an entry the daemon will receive.
//   Matches are sorted, so the same Dockerfile and context give the same LLB.
// A wildcard in a --from stage or image cannot be expanded before the build; dispatch
// refuses it.
//
// The matcher is the session sender's own (../buildkit/patterns.ts, pure), so that "what is
// sent" and "what matched" cannot disagree.
import { BadPatternError, PatternMatcher, containsWildcards, goMatch, normalizeDockerignore } from '../../common/index.js';
import { ConvertError } from './errors.js';
import type { ContextDirEntry, ContextDirReader } from './types.js';
import { joinPath } from '../../common/index.js';

/** A COPY --parents source split at its pivot; both parts clean and relative ('' = none). */
export interface ParentsSource {
  /** The directory whose own path is not kept: what comes before `/./`, or the context root. */
  pivot: string;
  /** The path kept under the destination: what follows `/./`, or the whole source. */
  rest: string;
}

/** One wildcard match: `path` (relative to the context root) is copied to DEST/<path below `pivot`>. */
export interface ParentsMatch {
  pivot: string;
  path: string;
}

function relClean(p: string): string {
  // As BuildKit normalizes sources: rooted at `/`, so `..` cannot climb out of the context.
  return joinPath('/', p).slice(1);
}

/** Splits a source at its first `/./` (rsync's --relative pivot, as BuildKit does). */
export function splitParentsSource(src: string): ParentsSource {
  const i = src.indexOf('/./');
  if (i < 0) return { pivot: '', rest: relClean(src) };
  return { pivot: relClean(src.slice(0, i)), rest: relClean(src.slice(i + 3)) };
}

export function hasWildcards(s: ParentsSource): boolean {
  return containsWildcards(s.pivot) || containsWildcards(s.rest);
}

/** The part of a match's path below its pivot ('' when the pivot itself matched). */
export function belowPivot(m: ParentsMatch): string {
  if (m.pivot === '') return m.path;
  return m.path === m.pivot ? '' : m.path.slice(m.pivot.length + 1);
}

/**
 * Why a wildcard source cannot be expanded, or undefined. After the pivot, a `**` segment
 * matches any number of directories (as BuildKit's include patterns do); `**` inside a
 * segment means something else there (it would cross `/`) and is refused rather than
 * guessed. Before the pivot, segments are Go filepath.Match globs, as BuildKit resolves the
 * pivot, so `**` there is just `*`.
 */
export function checkPattern(s: ParentsSource): string | undefined {
  const segments = [...split(s.pivot), ...split(s.rest)];
  for (const seg of split(s.rest)) {
    if (seg !== '**' && seg.includes('**')) return `"${seg}": ** must be a whole path segment (as in src/**/*.go)`;
  }
  for (const seg of segments) {
    if (seg === '**') continue;
    try {
      goMatch(seg, '');
    } catch (e) {
      if (e instanceof BadPatternError) return e.message;
      throw e;
    }
  }
  return undefined;
}

function split(p: string): string[] {
  return p === '' ? [] : p.split('/');
}

/** '' (the root) and every directory above a non-empty relative path. */
function ancestors(p: string): string[] {
  if (p === '') return [];
  const out = [''];
  for (let i = p.indexOf('/'); i >= 0; i = p.indexOf('/', i + 1)) out.push(p.slice(0, i));
  return out;
}

function child(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** Whether the session sends this entry (the walker's rule for .dockerignore and the
 * daemon's excludes): not excluded, or an excluded directory that a `!` pattern re-enters. */
function sent(ignore: PatternMatcher | undefined, path: string, isDir: boolean): boolean {
  if (!ignore || !ignore.matches(path)) return true;
  return isDir && ignore.mayReincludeBelow(path);
}

/** Expands one wildcard source against the context (entries are never followed: a
 * symlink can be a match but is not entered, as the session sends it as a link). */
export async function expandParents(
  list: (dir: string) => Promise<readonly ContextDirEntry[]>,
  source: ParentsSource,
  ignore: PatternMatcher | undefined,
): Promise<ParentsMatch[]> {
  const pivotSegs = split(source.pivot);
  const restSegs = split(source.rest);
  const found = new Map<string, ParentsMatch>();

  const walkPivot = async (i: number, dir: string): Promise<void> => {
    if (i === pivotSegs.length) return walkRest(0, dir, dir);
    const seg = pivotSegs[i] as string;
    for (const e of await list(dir)) {
      const p = child(dir, e.name);
      if (e.type === 'dir' && goMatch(seg, e.name) && sent(ignore, p, true)) await walkPivot(i + 1, p);
    }
  };
  const walkRest = async (i: number, dir: string, pivot: string): Promise<void> => {
    if (i === restSegs.length) {
      found.set(dir, { pivot, path: dir });
      return;
    }
    const seg = restSegs[i] as string;
    if (seg === '**') {
      await walkRest(i + 1, dir, pivot); // no directory
      for (const e of await list(dir)) {
        const p = child(dir, e.name);
        if (e.type === 'dir' && sent(ignore, p, true)) await walkRest(i, p, pivot); // one more
      }
      return;
    }
    const last = i === restSegs.length - 1;
    for (const e of await list(dir)) {
      if (!goMatch(seg, e.name)) continue;
      const p = child(dir, e.name);
      const isDir = e.type === 'dir';
      if (last) {
        if (sent(ignore, p, isDir)) found.set(p, { pivot, path: p });
      } else if (isDir && sent(ignore, p, true)) {
        await walkRest(i + 1, p, pivot);
      }
    }
  };
  await walkPivot(0, '');

  // A directory match is copied whole, so matches below another one add nothing (`**`
  // finds both); sorted for deterministic LLB.
  const kept: ParentsMatch[] = [];
  for (const p of [...found.keys()].sort()) {
    const m = found.get(p) as ParentsMatch;
    if (!ancestors(p).some((a) => found.get(a)?.pivot === m.pivot)) kept.push(m);
  }
  return kept;
}

interface Pending {
  source: ParentsSource;
  /** For the error message: the source as written, and where. */
  text: string;
  line: number;
}

/**
 * The wildcard expansions of one conversion, shared by its dispatch passes. Dispatch is
 * synchronous and the listing is not: a pass asks with lookup(), which answers undefined
 * (and remembers the source) until resolve() has listed the context; the conversion then
 * dispatches again. Sources depend only on the Dockerfile and build args, so the next pass
 * asks for the same ones and finds them.
 */
export class ParentsGlobs {
  private readonly done = new Map<string, ParentsMatch[]>();
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly read: ContextDirReader | undefined,
    private readonly excludePatterns: readonly string[],
    private readonly file: string,
  ) {}

  /** Whether the build context can be listed at all. */
  get canList(): boolean {
    return this.read !== undefined;
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  lookup(source: ParentsSource, text: string, line: number): ParentsMatch[] | undefined {
    const key = `${source.pivot}\0${source.rest}`;
    const got = this.done.get(key);
    if (got) return got;
    if (!this.pending.has(key)) this.pending.set(key, { source, text, line });
    return undefined;
  }

  /** Lists the context for every pending source. Errors name the instruction's line. */
  async resolve(): Promise<void> {
    const read = this.read;
    const first = this.pending.values().next().value as Pending | undefined;
    if (!first) return;
    if (!read) {
      // Dispatch checks canList before asking; this keeps a caller's loop finite anyway.
      throw new ConvertError('unsupported', this.file, first.line, `COPY --parents ${first.text}: no listing of the build context was given`);
    }
    let ignore: PatternMatcher | undefined;
    try {
      ignore = this.excludePatterns.length > 0 ? new PatternMatcher(normalizeDockerignore([...this.excludePatterns])) : undefined;
    } catch (e) {
      throw new ConvertError('invalid-flag', this.file, first.line, `COPY --parents ${first.text}: .dockerignore: ${(e as Error).message}`, { cause: e });
    }
    // One listing per directory for the whole conversion, sorted by name.
    const dirs = new Map<string, Promise<readonly ContextDirEntry[]>>();
    const list = (dir: string): Promise<readonly ContextDirEntry[]> => {
      let p = dirs.get(dir);
      if (!p) {
        p = read(dir).then((entries) => [...(entries ?? [])].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)));
        dirs.set(dir, p);
      }
      return p;
    };
    for (const [key, p] of this.pending) {
      try {
        this.done.set(key, await expandParents(list, p.source, ignore));
      } catch (e) {
        throw new ConvertError('context-unreadable', this.file, p.line, `COPY --parents ${p.text}: cannot list the build context: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    this.pending.clear();
  }
}
