// trace.enforcement as the reader of trace JSON takes it: the shape build --enforce writes
// (a parent per set of rules in force, each RUN's rules) and the one of earlier traces.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { normalizeTrace } from './index.js';

const clean = (): Record<string, unknown> =>
  JSON.parse(readFileSync(join(import.meta.dirname, '..', 'testdata', 'policies', 'traces', 'clean.json'), 'utf8')) as Record<string, unknown>;

const BASE = { policy: 'p.yaml', rulesDigest: 'd', rules: [{ name: 'a', egress: { allow: [] } }], egressRules: ['a'] };

describe('trace.enforcement', () => {
  it('keeps the parents and which rules were in force on which RUN', () => {
    const steps = [
      { line: 3, stage: 'fetch', rules: ['a'], cgroupParent: '/tracebuild-enforce-00000000000000aa' },
      { line: 5, stage: 1, rules: [] },
      { line: 4, stage: 1, rules: [], onbuild: true },
    ];
    const t = normalizeTrace({ ...clean(), enforcement: { ...BASE, cgroupParents: ['/tracebuild-enforce-00000000000000aa'], steps } });
    expect(t.enforcement).toEqual({ ...BASE, cgroupParents: ['/tracebuild-enforce-00000000000000aa'], steps });
  });

  it('reads an earlier trace: one cgroupParent, no steps', () => {
    const t = normalizeTrace({ ...clean(), enforcement: { ...BASE, cgroupParent: '/tracebuild-enforce-00000000000000aa' } });
    expect(t.enforcement).toEqual({ ...BASE, cgroupParents: ['/tracebuild-enforce-00000000000000aa'], steps: [] });
  });

  it('refuses a step without its rules or with a stage of another type', () => {
    expect(() => normalizeTrace({ ...clean(), enforcement: { ...BASE, cgroupParents: [], steps: [{ line: 3, stage: 'x' }] } })).toThrow(/enforcement\.steps\[0\]\.rules/);
    expect(() => normalizeTrace({ ...clean(), enforcement: { ...BASE, cgroupParents: [], steps: [{ line: 3, stage: true, rules: [] }] } })).toThrow(/stage/);
    expect(() => normalizeTrace({ ...clean(), enforcement: { ...BASE, cgroupParents: [], steps: [{ line: 3, stage: 0, rules: [], onbuild: 1 }] } })).toThrow(/onbuild/);
  });
});
