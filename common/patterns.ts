// Path patterns with the exact semantics BuildKit's file sender applies, so that what we
// send is what `docker build` would send:
// - Docker ignore patterns (.dockerignore, the daemon's `exclude-patterns`): Docker's
//   pattern matcher of the BuildKit v0.8 era: `*` and `?` stop at `/`, `**` crosses
//   directories, `!` re-includes, the last matching pattern wins, and a pattern also
//   matches a path whose leading directories it matches.
// - Go `filepath.Match` globs (the daemon's `include-patterns`, `followpaths`).
// Written here rather than taken from @balena/dockerignore: the walker needs more than
// "is this path ignored" — it needs the compiled patterns themselves (to decide whether an
// excluded directory must still be entered because a `!` pattern names something below
// it, exactly as fsutil decides), and Go filepath.Match semantics for the include
// patterns, which that package does not offer.

import { cleanPath } from './go-path.js';
import { Glob, type GlobClassItem, type GlobToken } from './glob.js';

/**
 * Parses .dockerignore text the way Docker does: a UTF-8 BOM is dropped, lines starting
 * with `#` are comments, surrounding whitespace is trimmed, blank lines skipped, each
 * pattern (after an optional `!`) is cleaned and a leading `/` removed.
 */
export function parseDockerignore(text: string): string[] {
  return normalizeDockerignore(text.replace(/^\uFEFF/, '').split(/\r?\n/));
}

/** Applies .dockerignore line processing to lines or already-parsed patterns alike. */
export function normalizeDockerignore(lines: string[]): string[] {
  const out: string[] = [];
  for (const line of lines) {
    if (line.startsWith('#')) continue;
    let pattern = line.trim();
    if (pattern === '') continue;
    const invert = pattern.startsWith('!');
    if (invert) pattern = pattern.slice(1).trim();
    if (invert && pattern === '') throw new BadPatternError('!', 'illegal exclusion pattern: "!"');
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push(invert ? '!' + pattern : pattern);
  }
  return out;
}

export class BadPatternError extends Error {
  override readonly name = 'BadPatternError';
  constructor(
    readonly pattern: string,
    message = `syntax error in pattern ${JSON.stringify(pattern)}`,
  ) {
    super(message);
  }
}

const compiledGlobs = new Map<string, Glob>();

/**
 * Compiles a glob (common/glob.ts: linear-time matching, since a repository's
 * .dockerignore is the repository author's to write). `doubleStar` selects Docker's `**`
 * (any number of directories); without it `**` is just two `*` (Go filepath.Match).
 */
function compileGlob(pattern: string, doubleStar: boolean): Glob {
  const key = `${doubleStar ? 'd' : 'g'}${pattern}`;
  const cached = compiledGlobs.get(key);
  if (cached !== undefined) return cached;
  const chars = Array.from(pattern); // code points, like Go's scanner
  const cp = (i: number): number => (chars[i] as string).codePointAt(0)!;
  const tokens: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === '*') {
      if (doubleStar && chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++; // `**/` is `**`
        tokens.push(i + 1 >= chars.length ? { kind: 'star', slash: true } : { kind: 'dirs' });
      } else {
        tokens.push({ kind: 'star', slash: false });
      }
    } else if (ch === '?') {
      tokens.push({ kind: 'any', slash: false });
    } else if (ch === '\\') {
      if (i + 1 >= chars.length) throw new BadPatternError(pattern); // Go: a trailing `\` is a bad pattern
      tokens.push({ kind: 'char', cp: cp(++i) });
    } else if (ch === '[') {
      // Character class, Go syntax: `[^...]` negates, `\` escapes, `a-z` ranges.
      let j = i + 1;
      const negated = chars[j] === '^';
      if (negated) j++;
      const items: GlobClassItem[] = [];
      let rangeFrom: number | undefined;
      let closed = false;
      for (; j < chars.length; j++) {
        const c = chars[j] as string;
        if (c === ']' && items.length > 0) {
          closed = true;
          break;
        }
        let member: number;
        if (c === '\\') {
          j++;
          if (j >= chars.length) break;
          member = cp(j);
        } else if (c === '-' && items.length > 0 && chars[j + 1] !== ']' && rangeFrom === undefined) {
          rangeFrom = items.pop()!.from;
          continue;
        } else {
          member = cp(j);
        }
        if (rangeFrom !== undefined) {
          if (rangeFrom > member) throw new BadPatternError(pattern);
          items.push({ from: rangeFrom, to: member });
          rangeFrom = undefined;
        } else {
          items.push({ from: member, to: member });
        }
      }
      if (!closed || rangeFrom !== undefined) throw new BadPatternError(pattern);
      tokens.push({ kind: 'class', negated, items, slash: true });
      i = j;
    } else {
      tokens.push({ kind: 'char', cp: cp(i) });
    }
  }
  const glob = new Glob(tokens);
  if (compiledGlobs.size > 10_000) compiledGlobs.clear();
  compiledGlobs.set(key, glob);
  return glob;
}

/** Go filepath.Match(pattern, name) on `/`-separated paths. Throws on a bad pattern. */
export function goMatch(pattern: string, name: string): boolean {
  return compileGlob(pattern, false).matches(name);
}

/** Whether a name contains Go glob metacharacters (fsutil's containsWildcards). */
export function containsWildcards(name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const ch = name[i];
    if (ch === '\\') i++;
    else if (ch === '*' || ch === '?' || ch === '[') return true;
  }
  return false;
}

interface CompiledPattern {
  /** The cleaned pattern without its `!`. */
  text: string;
  exclusion: boolean;
  dirs: number;
  glob: Glob;
}

/** Docker's ignore-pattern matcher (the one fsutil's walker used with BuildKit v0.8). */
export class PatternMatcher {
  readonly patterns: readonly CompiledPattern[];
  /** Whether any `!` pattern exists (then excluded directories may still be entered). */
  readonly hasExclusions: boolean;

  constructor(patterns: string[]) {
    const compiled: CompiledPattern[] = [];
    let exclusions = false;
    for (const raw of patterns) {
      let p = raw.trim();
      if (p === '') continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw new BadPatternError(raw);
        exclusion = true;
        exclusions = true;
        p = p.slice(1);
      }
      compiled.push({ text: p, exclusion, dirs: p.split('/').length, glob: compileGlob(p, true) });
    }
    this.patterns = compiled;
    this.hasExclusions = exclusions;
  }

  /** True when `file` (relative, `/`-separated, clean) is excluded. */
  matches(file: string): boolean {
    const slash = file.lastIndexOf('/');
    const parentPath = slash < 0 ? '.' : file.slice(0, slash);
    const parentDirs = parentPath.split('/');
    let matched = false;
    for (const pattern of this.patterns) {
      let match = pattern.glob.matches(file);
      if (!match && parentPath !== '.' && pattern.dirs <= parentDirs.length) {
        // The pattern may name one of the parent directories.
        match = pattern.glob.matches(parentDirs.slice(0, pattern.dirs).join('/'));
      }
      if (match) matched = !pattern.exclusion;
    }
    return matched;
  }

  /**
   * For an excluded directory: whether some `!` pattern names a path below it, so the
   * walk must still enter it (Docker only looks at the literal pattern prefix).
   */
  mayReincludeBelow(dir: string): boolean {
    if (!this.hasExclusions) return false;
    const dirSlash = dir + '/';
    return this.patterns.some((p) => p.exclusion && (p.text + '/').startsWith(dirSlash));
  }
}
