import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { jsonPieces } from './json-text.js';

const whole = (value: unknown, pieceChars?: number): string => [...jsonPieces(value, pieceChars)].join('');

describe('jsonPieces', () => {
  it('makes the text of JSON.stringify(value, null, 2), for the values JSON treats apart', () => {
    const values: unknown[] = [
      null,
      0,
      'a "quoted"\nline',
      [],
      {},
      [[], {}, [[]], [{}]],
      { a: undefined, b: () => 1, c: Symbol('s'), d: 1 },
      { only: undefined },
      [undefined, () => 1, Symbol('s'), 2, , 3], // eslint-disable-line no-sparse-arrays
      { date: new Date(0), boxed: [Object(1), Object('s')], nan: [NaN, Infinity, -0] },
      { deep: { a: { b: { c: { d: { e: [1, { f: 'g' }], empty: [] } } } } } },
      { nested: [[[[[1, [2, { x: [3] }]]]]]] },
      Object.assign(Object.create(null) as object, { bare: true }),
      { withToJSON: { toJSON: () => ({ replaced: [1, 2] }) } },
      { '\u2028key': 'value\u2029', 'é': ['ü'] },
    ];
    for (const v of values) expect(whole(v)).toBe(JSON.stringify(v, null, 2));
  });

  it('gives nothing for a value JSON.stringify turns into undefined', () => {
    expect([...jsonPieces(undefined)]).toEqual([]);
    expect([...jsonPieces(() => 1)]).toEqual([]);
  });

  it('cuts a stored trace into pieces of about the size asked, whose text is the whole one', () => {
    for (const name of ['clean', 'trojanized']) {
      const trace: unknown = JSON.parse(readFileSync(new URL(`../testdata/policies/traces/${name}.json`, import.meta.url), 'utf8'));
      const text = JSON.stringify(trace, null, 2);
      const pieces = [...jsonPieces(trace, 256)];
      expect(pieces.join('')).toBe(text);
      expect(pieces.length).toBeGreaterThan(Math.floor(text.length / 1024));
      // every piece but the last reached the size asked; none is the whole text at once
      for (const p of pieces.slice(0, -1)) expect(p.length).toBeGreaterThanOrEqual(256);
      expect(whole(trace)).toBe(text);
    }
  });

  it('throws where JSON.stringify throws (a bigint)', () => {
    expect(() => whole({ a: [{ b: 1n }] })).toThrow(TypeError);
    expect(() => whole({ a: { b: { c: { d: { e: 1n } } } } })).toThrow(TypeError);
  });
});
