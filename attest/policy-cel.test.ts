import { describe, expect, it } from 'vitest';
import { globToRegExp, pathGlob, pathUnder } from './index.js';

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
    expect(globToRegExp('/a/*').source).toBe('^\\/a\\/[^/]*$');
  });
});
