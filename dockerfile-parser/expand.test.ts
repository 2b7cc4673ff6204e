import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { ExpansionBudget, MAX_EXPANDED_LENGTH, MAX_EXPANSION_DEPTH, expandWord, expandWords, expandWordDetailed, unquoteWord, ExpansionError } from './index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const vectors = path.resolve(here, '../testdata/corpus/buildkit-shell-testdata');

const env: Record<string, string> = { PWD: '/home', SHELL: 'bash', KOREAN: '한국어', NULL: '' };
const lookupIn = (vars: Record<string, string>) => (name: string) =>
  Object.prototype.hasOwnProperty.call(vars, name) ? vars[name] : undefined;

function tryExpand(fn: () => string | string[]): string | string[] {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ExpansionError) return 'error';
    throw e;
  }
}

// envVarTest: `PLATFORM|input|expected` (A = all, U = Unix, W = Windows), both sides trimmed.
// W cases are skipped: on Windows variable names are case-insensitive, and tracebuild
// builds Linux images, so it implements the Unix behaviour (the matching U case is run).
describe('BuildKit envVarTest vectors (ProcessWord)', () => {
  const lines = readFileSync(path.join(vectors, 'envVarTest'), 'utf8').split('\n');
  const cases: { line: number; input: string; expected: string }[] = [];
  let skipped = 0;
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const parts = line.split('|');
    const [platform, input, expected] = [parts[0]?.trim(), parts[1]?.trim() ?? '', parts[2]?.trim() ?? ''];
    if (platform === 'W') {
      skipped++;
      return;
    }
    cases.push({ line: i + 1, input, expected });
  });

  it(`passes all ${cases.length} A/U vectors (${skipped} Windows-only skipped)`, () => {
    const failures: string[] = [];
    for (const c of cases) {
      const got = tryExpand(() => expandWord(c.input, lookupIn(env)));
      if (got !== c.expected) failures.push(`line ${c.line}: ${c.input} -> ${JSON.stringify(got)}, want ${JSON.stringify(c.expected)}`);
    }
    console.log(`envVarTest: ${cases.length - failures.length}/${cases.length} passed, ${skipped} Windows-only skipped`);
    expect(failures).toEqual([]);
    expect(cases.length).toBeGreaterThan(200);
  });
});

// wordsTest: `input | expected,words` with `ENV name=value` lines accumulating variables.
describe('BuildKit wordsTest vectors (ProcessWords)', () => {
  const lines = readFileSync(path.join(vectors, 'wordsTest'), 'utf8').split('\n');
  it('passes all vectors', () => {
    const vars: Record<string, string> = {};
    const failures: string[] = [];
    let n = 0;
    lines.forEach((line, i) => {
      if (line.startsWith('#') || line === '') return;
      if (line.startsWith('ENV ')) {
        const kv = line.slice(3).replace(/^ +/, '');
        const eq = kv.indexOf('=');
        vars[kv.slice(0, eq)] = kv.slice(eq + 1);
        return;
      }
      const parts = line.split('|');
      const input = (parts[0] ?? '').trim();
      const expected = (parts[1] ?? '').replace(/^ +/, '').split(',');
      n++;
      const got = tryExpand(() => expandWords(input, lookupIn(vars)));
      const gotList = got === 'error' ? ['error'] : got;
      if (JSON.stringify(gotList) !== JSON.stringify(expected)) {
        failures.push(`line ${i + 1}: ${input} -> ${JSON.stringify(gotList)}, want ${JSON.stringify(expected)}`);
      }
    });
    console.log(`wordsTest: ${n - failures.length}/${n} passed`);
    expect(failures).toEqual([]);
    expect(n).toBeGreaterThan(20);
  });
});

describe('expandWord', () => {
  const lookup = lookupIn({ A: 'a', E: '', V: 'v1.2.3-rc1', P: 'linux/arm64/v8', S: 'x y' });

  it('expands $VAR and ${VAR} and leaves unknown $ alone', () => {
    expect(expandWord('$A-${A}-$X-${X}-$', lookup)).toBe('a-a---$');
  });

  it('supports -, +, ? with and without colon', () => {
    expect(expandWord('${X-d}|${E-d}|${E:-d}|${A:-d}', lookup)).toBe('d||d|a');
    expect(expandWord('${X+p}|${E+p}|${E:+p}|${A:+p}', lookup)).toBe('|p||p');
    expect(() => expandWord('${X?must be set}', lookup)).toThrow('X: must be set');
    expect(() => expandWord('${E:?}', lookup)).toThrow('E: is not allowed to be empty');
    expect(expandWord('${E?}', lookup)).toBe('');
  });

  it('supports prefix/suffix removal and replacement', () => {
    expect(expandWord('${V#v}', lookup)).toBe('1.2.3-rc1');
    expect(expandWord('${V%-*}', lookup)).toBe('v1.2.3');
    expect(expandWord('${V%%.*}', lookup)).toBe('v1');
    expect(expandWord('${V##*.}', lookup)).toBe('3-rc1');
    expect(expandWord('${P/\\//-}', lookup)).toBe('linux-arm64/v8');
    expect(expandWord('${P//\\//-}', lookup)).toBe('linux-arm64-v8');
  });

  it('rejects unsupported modifiers with a clear error', () => {
    let err: unknown;
    try {
      expandWord('${A:=x}', lookup);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpansionError);
    expect((err as ExpansionError).code).toBe('unsupported-modifier');
    expect((err as ExpansionError).message).toBe('unsupported modifier (:=) in substitution');
  });

  it('uses the backtick escape when asked', () => {
    expect(expandWord('C:\\dir `$A', lookup, '`')).toBe('C:\\dir $A');
    expect(expandWord('"a`"b"', lookup, '`')).toBe('a"b');
  });

  it('reports used and unset variables', () => {
    expect(expandWordDetailed('$A ${B:-x} $A', lookup)).toEqual({ value: 'a x a', used: ['A'], unset: ['B'] });
  });

  it('splits words on unquoted variable whitespace only', () => {
    expect(expandWords('$S "$S" a\\ b', lookup)).toEqual(['x', 'y', 'x y', 'a b']);
  });

  it('unquoteWord removes quotes but keeps variable references', () => {
    expect(unquoteWord('"a b" \'$c\' $HOME ${X}')).toBe('a b $c $HOME ${X}');
  });
});

describe('ExpansionError', () => {
  it('can be located by the caller', () => {
    let err: unknown;
    try {
      expandWord('"abc', () => undefined);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ExpansionError);
    const located = (err as ExpansionError).atLocation('Dockerfile', 7);
    expect(located.message).toBe('Dockerfile:7: unexpected end of statement while looking for matching double-quote');
    expect(located.code).toBe('unterminated-quote');
    expect(located.cause).toBe(err);
  });
});

describe('hostile expansions cost bounded time and memory', { timeout: 60_000 }, () => {
  const catchCode = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      if (e instanceof ExpansionError) return e.code;
      throw e;
    }
    return 'ok';
  };

  it('refuses substitutions nested deeper than the limit, and expands those within it', () => {
    const nest = (n: number): string => `${'${a:-'.repeat(n)}x${'}'.repeat(n)}`;
    expect(catchCode(() => expandWord(nest(5000), lookupIn({})))).toBe('too-deep');
    expect(expandWord(nest(MAX_EXPANSION_DEPTH), lookupIn({}))).toBe('x');
  });

  it('refuses a value that doubles past the limit (ARG A1=${A0}${A0}...)', () => {
    const vars: Record<string, string> = { A0: 'ab' };
    let code = 'ok';
    for (let i = 1; i <= 39 && code === 'ok'; i++) {
      code = catchCode(() => (vars[`A${i}`] = expandWord(`\${A${i - 1}}\${A${i - 1}}`, lookupIn(vars))));
    }
    expect(code).toBe('too-large');
    expect(Math.max(...Object.values(vars).map((v) => v.length))).toBeLessThanOrEqual(MAX_EXPANDED_LENGTH);
  });

  it('stops a conversion whose expansions together pass the budget', () => {
    const big = 'x'.repeat(1 << 20);
    const budget = new ExpansionBudget(4 << 20);
    let code = 'ok';
    for (let i = 0; i < 10 && code === 'ok'; i++) code = catchCode(() => expandWord(`\${BIG}${i}`, lookupIn({ BIG: big }), '\\', budget));
    expect(code).toBe('too-large');
  });

  it('matches ${v#pattern} and ${v/pattern/r} in linear time, however the pattern backtracks', () => {
    const value = 'a'.repeat(5000);
    const pattern = '*a'.repeat(40) + 'b';
    expect(expandWord(`\${V#${pattern}}`, lookupIn({ V: value }))).toBe(value);
    expect(expandWord(`\${V%${pattern}}`, lookupIn({ V: value }))).toBe(value);
    expect(expandWord('${V##*a}x', lookupIn({ V: 'baab' }))).toBe('bx');
    expect(expandWord('${V%%a*}', lookupIn({ V: 'baab' }))).toBe('b');
    expect(expandWord('${V//[ab]/-}', lookupIn({ V: 'xaby' }))).toBe('x--y');
    expect(expandWord('${V/[!x]*/-}', lookupIn({ V: 'xaby' }))).toBe('x-');
    // a pattern that reads to the end of the value from every position is refused past its work limit
    expect(catchCode(() => expandWord(`\${V//*b/-}`, lookupIn({ V: 'a'.repeat(10_000) })))).toBe('too-large');
  });

  it('copies a 4 MiB line of plain text in slices (words split the same)', () => {
    const line = `${'word '.repeat(800_000)}end`;
    expect(expandWord(line, lookupIn({}))).toBe(line);
    const words = expandWords(line, lookupIn({}));
    expect(words).toHaveLength(800_001);
    expect(words[words.length - 1]).toBe('end');
  });
});
