// A policy cannot hang `verify` or the guard: hostile expressions stop at the cost limit
// (or the deadline) with an `evaluation-limit` error, and the trace is not judged.
import { describe, expect, it } from 'vitest';
import { DEFAULT_POLICY_LIMITS, MAX_REGEX_LENGTH, PolicyError, evaluatePolicy, parsePolicy } from './index.js';
import { sampleTrace } from '../test/helpers/attest-fixtures.js';
import { instrumentForCost, CostMeter, withMeter } from './policy-cost.js';

const IMAGE = { name: '127.0.0.1:5000/app', digest: `sha256:${'ab'.repeat(32)}` };

function policy(deny: string, params = '', each = ''): string {
  return `${params}rules:\n  - name: hostile\n${each}    deny: ${JSON.stringify(deny)}\n    message: m\n`;
}

function evaluationError(yaml: string, limits = DEFAULT_POLICY_LIMITS): PolicyError {
  const p = parsePolicy(yaml, 'hostile.yaml');
  try {
    evaluatePolicy(p, sampleTrace(), IMAGE, limits);
  } catch (err) {
    if (err instanceof PolicyError) return err;
    throw err;
  }
  throw new Error('expected evaluatePolicy to throw');
}

const thousand = `params:\n  l: [${Array.from({ length: 1000 }, (_, i) => i).join(', ')}]\n`;

describe('evaluation limits', () => {
  it('stops nested maps over 1,000 elements at the cost limit', () => {
    const err = evaluationError(policy('size(params.l.map(a, params.l.map(b, params.l.map(c, c)))) > 0', thousand));
    expect(err.code).toBe('evaluation-limit');
    expect(err.message).toMatch(/^hostile\.yaml: rule 'hostile': deny: evaluation exceeded its cost limit of 1000000 units at Dockerfile:\d+ .*; the trace was not judged$/);
    expect(err.rule).toBe('hostile');
  });

  it('stops a loop whose body calls nothing', () => {
    const err = evaluationError(policy('params.l.all(a, params.l.all(b, params.l.all(c, true)))', thousand));
    expect(err.code).toBe('evaluation-limit');
  });

  it('stops 40 chained replace calls (each doubles the string)', () => {
    const chain = `step.instruction${'.replace("R", "RR")'.repeat(40)}`;
    const err = evaluationError(policy(`size(${chain}) > 0`));
    expect(['evaluation-limit', 'evaluation-error']).toContain(err.code);
    expect(err.message).toMatch(/cost limit|at most \d+ are allowed/);
  });

  it('refuses a 20,000-group regular expression instead of compiling it', () => {
    const err = evaluationError(policy(`step.instruction.matches("${'(a)'.repeat(20_000)}")`));
    expect(err.code).toBe('evaluation-error');
    expect(err.message).toContain(`at most ${MAX_REGEX_LENGTH} are allowed`);
  });

  it('keeps a regular expression linear (RE2) and compiles it once', () => {
    const p = parsePolicy(policy('step.instruction.matches("^(a+)+$") || matches(step.instruction, "COPY")'), 'p.yaml');
    const violations = evaluatePolicy(p, sampleTrace(), IMAGE);
    expect(violations.map((v) => v.step.instruction)).toEqual(sampleTrace().buildSteps.filter((s) => s.instruction.includes('COPY')).map((s) => s.instruction));
  });

  it('cannot be absorbed: an exhausted operand of || still fails the evaluation', () => {
    const err = evaluationError(policy('size(params.l.map(a, params.l.map(b, params.l.map(c, c)))) > 0 || true', thousand));
    expect(err.code).toBe('evaluation-limit');
  });

  it('stops at the deadline', () => {
    const err = evaluationError(policy('params.l.exists(a, params.l.exists(b, a + b < 0))', thousand), { costPerEvaluation: Number.MAX_SAFE_INTEGER, deadlineMs: 1 });
    expect(err.code).toBe('evaluation-limit');
    expect(err.message).toContain('evaluation exceeded its time limit of 1 ms');
  });

  it('lets ordinary rules through well inside the budget', () => {
    const p = parsePolicy(
      policy('process.argv.exists(a, a.contains("curl")) || pathGlob(process.exe, ["/usr/**/wget", "/bin/*"])', thousand, '    each: processes\n'),
      'p.yaml',
    );
    expect(() => evaluatePolicy(p, sampleTrace(), IMAGE, { costPerEvaluation: 200, deadlineMs: 60_000 })).not.toThrow();
  });
});

describe('instrumentForCost', () => {
  it('charges calls and comprehension ranges, leaves the value alone', async () => {
    const { parse, plan, celEnv } = await import('@bufbuild/cel');
    const { COST_FUNCS } = await import('./policy-cost.js');
    const env = celEnv({ funcs: [...COST_FUNCS] });
    const parsed = parse('[1, 2, 3].map(x, x * 2) == [2, 4, 6] && "abc" + "def" == "abcdef"');
    const evaluate = plan(env, instrumentForCost(parsed.expr));
    const meter = new CostMeter({ costPerEvaluation: 1000, deadlineMs: 60_000 }, Date.now() + 60_000);
    expect(withMeter(meter, () => evaluate())).toBe(true);
    const tight = new CostMeter({ costPerEvaluation: 5, deadlineMs: 60_000 }, Date.now() + 60_000);
    withMeter(tight, () => evaluate());
    expect(tight.exceeded).toContain('cost limit of 5 units');
  });
});
