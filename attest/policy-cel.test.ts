import { describe, expect, it } from 'vitest';
import { MAX_REPLACED_LENGTH, pathGlob, pathUnder, replaceBounded } from './index.js';

describe('pathUnder', () => {
  it.each([
    ['/src', '/src', true],
    ['/src/a/b.c', '/src', true],
    ['/src/a', '/src/', true],
    ['/srcfoo', '/src', false],
    ['/src/../etc/passwd', '/src', false],
    ['/usr//src/x', '/usr/src', true],
    ['/anything', '/', true],
    ['relative/x', '/', false],
  ])('pathUnder(%s, %s) = %s', (p, d, want) => {
    expect(pathUnder(p, d)).toBe(want);
  });
});

describe('pathGlob', () => {
  it.each([
    ['/src/main.c', '/src/*.c', true],
    ['/src/lib/x.c', '/src/*.c', false],
    ['/src/lib/x.c', '/src/**/*.c', true],
    ['/src/x.c', '/src/**/*.c', true],
    ['/src/x.c', '**/*.c', true],
    ['/usr/local/bin/cc', '/usr/*/bin/c?', true],
    ['/usr/local/bin/cc1', '/usr/*/bin/c?', false],
    ['/out/a+b.(1)', '/out/a+b.(1)', true],
    ['/out/ab', '/out/a.', false],
    ['/tmp/x/y', '/tmp/**', true],
  ])('pathGlob(%s, %s) = %s', (p, g, want) => {
    expect(pathGlob(p, g)).toBe(want);
  });

  it('anchors the pattern', () => {
    expect(pathGlob('/a/b', '/a/*')).toBe(true);
    expect(pathGlob('/x/a/b', '/a/*')).toBe(false);
    expect(pathGlob('/a/b/', '/a/*')).toBe(true); // normalized: the trailing / goes
  });

  it('takes linear time on patterns that make a backtracking matcher exponential', () => {
    // 325 bytes: 161 `*a` then `b`, against a path of a's with no b. A RegExp of
    // `[^/]*a` groups backtracks through every split of the a's; this returns at once
    // (the test would time out otherwise).
    const pattern = `/${'*a'.repeat(161)}b`;
    expect(pattern.length).toBe(324);
    expect(pathGlob(`/${'a'.repeat(4000)}`, pattern)).toBe(false);
    expect(pathGlob(`/${'a'.repeat(4000)}b`, pattern)).toBe(true);
    const dirs = `${'/**'.repeat(100)}/x`;
    expect(pathGlob(`${'/a'.repeat(2000)}/y`, dirs)).toBe(false);
    expect(pathGlob(`${'/a'.repeat(2000)}/x`, dirs)).toBe(true);
  });
});

describe('replaceBounded', () => {
  it('replaces as cel-go does: all, the first n, none, and an empty old string between code points', () => {
    expect(replaceBounded('a.b.c', '.', '::')).toBe('a::b::c');
    expect(replaceBounded('a.b.c', '.', '', 1n)).toBe('ab.c');
    expect(replaceBounded('a.b.c', '.', '-', 0n)).toBe('a.b.c');
    expect(replaceBounded('a.b.c', '.', '-', -1n)).toBe('a-b-c');
    expect(replaceBounded('hé', '', '_')).toBe('_h_é_');
    expect(replaceBounded('aaa', 'a', 'aa')).toBe('aaaaaa');
  });

  it('refuses to make a string longer than the limit, before making it', () => {
    const big = 'x'.repeat(1 << 20);
    expect(() => replaceBounded(big, 'x', 'x'.repeat(32))).toThrow(`at most ${MAX_REPLACED_LENGTH} are allowed`);
  });
});
