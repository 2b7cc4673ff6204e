import { describe, expect, it } from 'vitest';
import { Glob, codePoints, type GlobToken } from './glob.js';

const ch = (c: string): GlobToken => ({ kind: 'char', cp: c.codePointAt(0)! });
const word = (s: string): GlobToken[] => [...s].map(ch);
const star: GlobToken = { kind: 'star', slash: false };
const deepStar: GlobToken = { kind: 'star', slash: true };

describe('Glob', () => {
  it('matches literals, ?, classes and stars, within or across /', () => {
    expect(new Glob(word('abc')).matches('abc')).toBe(true);
    expect(new Glob(word('abc')).matches('abcd')).toBe(false);
    expect(new Glob([ch('a'), { kind: 'any', slash: false }, ch('c')]).matches('a/c')).toBe(false);
    expect(new Glob([ch('a'), { kind: 'any', slash: true }, ch('c')]).matches('a/c')).toBe(true);
    const cls: GlobToken = { kind: 'class', negated: false, items: [{ from: 0x61, to: 0x63 }], slash: false };
    expect(new Glob([cls]).matches('b')).toBe(true);
    expect(new Glob([cls]).matches('d')).toBe(false);
    expect(new Glob([{ ...cls, negated: true }]).matches('d')).toBe(true);
    expect(new Glob([star, ch('.'), ch('c')]).matches('x.c')).toBe(true);
    expect(new Glob([star, ch('.'), ch('c')]).matches('a/x.c')).toBe(false);
    expect(new Glob([deepStar, ch('.'), ch('c')]).matches('a/x.c')).toBe(true);
    expect(new Glob([]).matches('')).toBe(true);
    expect(new Glob([star]).matches('')).toBe(true);
  });

  it('matches `dirs`: nothing, or a run that ends in /', () => {
    const g = new Glob([ch('/'), { kind: 'dirs' }, ch('x')]);
    expect(g.matches('/x')).toBe(true);
    expect(g.matches('/a/b/x')).toBe(true);
    expect(g.matches('/ax')).toBe(false);
  });

  it('matches code points, not UTF-16 units', () => {
    expect(new Glob([{ kind: 'any', slash: false }]).matches('😀')).toBe(true);
    expect(codePoints('a😀')).toEqual([0x61, 0x1f600]);
  });

  it('tells every prefix that matches in one pass', () => {
    const g = new Glob([ch('a'), star]);
    expect(g.prefixMatches(codePoints('abc'))).toEqual([false, true, true, true]);
    expect(new Glob(word('ab')).prefixMatches(codePoints('xab'))).toEqual([false, false, false, false]);
  });

  it('is reusable and linear on a near miss that makes backtracking exponential', () => {
    const tokens: GlobToken[] = [];
    for (let i = 0; i < 200; i++) tokens.push(star, ch('a'));
    tokens.push(ch('b'));
    const g = new Glob(tokens);
    const text = 'a'.repeat(20_000);
    expect(g.matches(text)).toBe(false);
    expect(g.matches(`${text}b`)).toBe(true);
    expect(g.matches(text)).toBe(false);
  });
});
