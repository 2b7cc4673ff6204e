import { describe, expect, it } from 'vitest';
import { cleanPath } from './go-path.js';
import { BadPatternError, goMatch, normalizeDockerignore, parseDockerignore, PatternMatcher } from './patterns.js';

describe('cleanPath (Go path.Clean)', () => {
  it.each([
    ['', '.'],
    ['.', '.'],
    ['a//b/./c/', 'a/b/c'],
    ['a/../b', 'b'],
    ['../a', '../a'],
    ['/../a', '/a'],
    ['/', '/'],
    ['a/b/../../..', '..'],
  ])('%j -> %j', (input, out) => expect(cleanPath(input)).toBe(out));
});

describe('.dockerignore parsing', () => {
  it('drops comments, blank lines and a BOM; trims; cleans; strips a leading slash', () => {
    const text = '\uFEFF# comment\n\n  *.log  \n!keep.log\n/build/\n! /abs/x/../y\n ./a//b\n';
    expect(parseDockerignore(text)).toEqual(['*.log', '!keep.log', 'build', '!abs/y', 'a/b']);
  });

  it('accepts already-parsed patterns unchanged', () => {
    expect(normalizeDockerignore(['*.log', '!keep.log', '**/node_modules'])).toEqual(['*.log', '!keep.log', '**/node_modules']);
  });

  it('keeps a comment marker that is not at the start of the line', () => {
    expect(parseDockerignore(' # not a comment')).toEqual(['# not a comment']);
  });
});

describe('PatternMatcher (Docker ignore semantics)', () => {
  const m = (patterns: string[], file: string): boolean => new PatternMatcher(patterns).matches(file);

  it('`*` and `?` stay within one path element', () => {
    expect(m(['*.log'], 'a.log')).toBe(true);
    expect(m(['*.log'], 'sub/a.log')).toBe(false);
    expect(m(['sub/*.log'], 'sub/a.log')).toBe(true);
    expect(m(['a?c'], 'abc')).toBe(true);
    expect(m(['a?c'], 'a/c')).toBe(false);
  });

  it('`**` crosses directories, including none', () => {
    expect(m(['**/*.log'], 'a.log')).toBe(true);
    expect(m(['**/*.log'], 'x/y/z/a.log')).toBe(true);
    expect(m(['x/**/a.log'], 'x/a.log')).toBe(true);
    expect(m(['x/**/a.log'], 'x/1/2/a.log')).toBe(true);
    expect(m(['x/**'], 'x/1/2')).toBe(true);
    expect(m(['**'], 'anything/at/all')).toBe(true);
  });

  it('a pattern naming a directory excludes what is below it', () => {
    expect(m(['build'], 'build/out/app')).toBe(true);
    expect(m(['build'], 'src/build')).toBe(false);
    expect(m(['a/b'], 'a/b/c/d')).toBe(true);
  });

  it('`!` re-includes, and the last matching pattern wins', () => {
    expect(m(['*.log', '!keep.log'], 'keep.log')).toBe(false);
    expect(m(['*.log', '!keep.log'], 'other.log')).toBe(true);
    expect(m(['!keep.log', '*.log'], 'keep.log')).toBe(true);
    expect(m(['docs', '!docs/README.md'], 'docs/README.md')).toBe(false);
    expect(m(['docs', '!docs/README.md'], 'docs/other.md')).toBe(true);
  });

  it('treats regexp metacharacters literally and honours escapes and classes', () => {
    expect(m(['a+b(1).txt'], 'a+b(1).txt')).toBe(true);
    expect(m(['a+b.txt'], 'aab.txt')).toBe(false);
    expect(m(['file.txt'], 'fileXtxt')).toBe(false);
    expect(m(['\\*.txt'], '*.txt')).toBe(true);
    expect(m(['\\*.txt'], 'a.txt')).toBe(false);
    expect(m(['[ab].txt'], 'b.txt')).toBe(true);
    expect(m(['[^ab].txt'], 'b.txt')).toBe(false);
    expect(m(['[a-c]x'], 'bx')).toBe(true);
  });

  it('knows when an excluded directory must still be entered', () => {
    const pm = new PatternMatcher(['docs', '!docs/README.md']);
    expect(pm.mayReincludeBelow('docs')).toBe(true);
    expect(pm.mayReincludeBelow('src')).toBe(false);
    expect(new PatternMatcher(['docs']).mayReincludeBelow('docs')).toBe(false);
  });

  it('rejects malformed patterns', () => {
    expect(() => new PatternMatcher(['!'])).toThrow(BadPatternError);
    expect(() => new PatternMatcher(['[abc'])).toThrow(BadPatternError);
    expect(() => new PatternMatcher(['[z-a]'])).toThrow(BadPatternError);
  });

  it('matches in linear time a pattern that makes a backtracking matcher exponential', () => {
    // a hostile repository's .dockerignore against a long file name: a RegExp of
    // `[^/]*a` groups took hours here; the glob answers at once (or the test times out)
    const hostile = new PatternMatcher([`${'*a'.repeat(60)}b`, '**/x/**/x/**/x/**/x/**/y']);
    expect(hostile.matches('a'.repeat(3000))).toBe(false);
    expect(hostile.matches(`${'a'.repeat(3000)}b`)).toBe(true);
    expect(hostile.matches(`${'x/'.repeat(1500)}z`)).toBe(false);
  });

  it('matches code points, multi-byte names and ranges included', () => {
    expect(m(['é?.txt'], 'éa.txt')).toBe(true);
    expect(m(['[à-ÿ]'], 'é')).toBe(true);
    expect(m(['?'], '😀')).toBe(true);
  });
});

describe('goMatch (Go filepath.Match)', () => {
  it('matches like Go', () => {
    expect(goMatch('*.txt', 'a.txt')).toBe(true);
    expect(goMatch('*', 'a/b')).toBe(false);
    expect(goMatch('**', 'a/b')).toBe(false); // no double star in Go globs
    expect(goMatch('a/*', 'a/b')).toBe(true);
    expect(goMatch('Dockerfile', 'Dockerfile')).toBe(true);
    expect(goMatch('[^x]', 'y')).toBe(true);
    expect(() => goMatch('a\\', 'a')).toThrow(BadPatternError);
  });
});
