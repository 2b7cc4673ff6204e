import { describe, expect, it } from 'vitest';
import { isPolicyError, parseEnforcement, selectSteps, type DockerfileStep, type Enforcement } from './index.js';

// FROM busybox AS deps     (1)   stage 0
// RUN a                    (2)
// COPY x y                 (3)
// RUN b                    (4)
// FROM busybox             (5)   stage 1
// RUN c                    (6)
const STEPS: DockerfileStep[] = [
  { stageIndex: 0, stageName: 'deps', keyword: 'RUN', line: 2 },
  { stageIndex: 0, stageName: 'deps', keyword: 'COPY', line: 3 },
  { stageIndex: 0, stageName: 'deps', keyword: 'RUN', line: 4 },
  { stageIndex: 1, keyword: 'RUN', line: 6 },
];

function policy(rules: string): Enforcement {
  const e = parseEnforcement(`enforce:\n${rules}`, 'p.yaml');
  if (e === undefined) throw new Error('no enforce list');
  return e;
}

function selected(rules: string): Record<number, string[]> {
  return Object.fromEntries(selectSteps(policy(rules), STEPS).map((s) => [s.step.line, s.rules.map((r) => r.name)]));
}

function refused(rules: string): string {
  try {
    selectSteps(policy(rules), STEPS);
  } catch (err) {
    if (isPolicyError(err, 'invalid-policy')) return err.message;
    throw err;
  }
  throw new Error('not refused');
}

const WIDE = '  - name: wide\n    egress: { allow: [] }\n';

describe('which rules are in force on which RUN', () => {
  it('a rule without steps applies to every RUN; a selected rule only where all its fields match', () => {
    expect(selected(`${WIDE}  - name: one\n    egress: { allow: [] }\n    steps: { line: 4 }\n`)).toEqual({ 2: ['wide'], 4: ['wide', 'one'], 6: ['wide'] });
    expect(selected(`  - name: deps\n    egress: { allow: [] }\n    steps: { stage: DEPS, instruction: RUN }\n`)).toEqual({ 2: ['deps'], 4: ['deps'], 6: [] });
    expect(selected(`  - name: last\n    egress: { allow: [] }\n    steps: { stage: 1 }\n`)).toEqual({ 2: [], 4: [], 6: ['last'] });
    expect(selected(`  - name: both\n    egress: { allow: [] }\n    steps: { stage: deps, line: [2, 4] }\n`)).toEqual({ 2: ['both'], 4: ['both'], 6: [] });
    expect(selected(`  - name: every\n    egress: { allow: [] }\n    steps: { instruction: RUN }\n`)).toEqual({ 2: ['every'], 4: ['every'], 6: ['every'] });
  });

  it('a selector that matches no RUN stops the build, with the line of its steps:', () => {
    expect(refused(`${WIDE}  - name: typo\n    egress: { allow: [] }\n    steps: { stage: dpes }\n`)).toBe(
      "p.yaml:6: enforce rule 'typo': steps.stage \"dpes\": the Dockerfile has no such stage; the build was not started",
    );
    expect(refused(`  - name: r\n    egress: { allow: [] }\n    steps: { stage: 2 }\n`)).toMatch(/^p\.yaml:4: enforce rule 'r': steps\.stage 2: the Dockerfile has no such stage/);
    expect(refused(`  - name: r\n    egress: { allow: [] }\n    steps: { line: [2, 5] }\n`)).toMatch(/^p\.yaml:4: enforce rule 'r': steps\.line 5: no instruction of the Dockerfile starts on that line/);
    expect(refused(`  - name: r\n    egress: { allow: [] }\n    steps: { line: 3 }\n`)).toMatch(/steps\.line 3: that is a COPY, which runs no process in a step's container \(only RUN can be enforced\)/);
    expect(refused(`  - name: r\n    egress: { allow: [] }\n    steps: { stage: 1, line: 2 }\n`)).toMatch(/steps\.line 2: that RUN is not in stage 1/);
  });

  it("each FROM gets the rules of its stage's ONBUILD RUN triggers: build-wide and stage rules, never line rules", () => {
    const steps: DockerfileStep[] = [{ stageIndex: 0, stageName: 'deps', keyword: 'FROM', line: 1 }, ...STEPS, { stageIndex: 1, keyword: 'FROM', line: 5 }];
    const e = policy(`${WIDE}  - name: deps\n    egress: { allow: [] }\n    steps: { stage: deps }\n  - name: one\n    egress: { allow: [] }\n    steps: { line: 2 }\n`);
    const from = selectSteps(e, steps).filter((s) => s.onbuild === true);
    expect(from.map((s) => [s.step.line, s.rules.map((r) => r.name)])).toEqual([
      [1, ['wide', 'deps']],
      [5, ['wide']],
    ]);
    expect(() => selectSteps(policy('  - name: r\n    egress: { allow: [] }\n    steps: { line: 1 }\n'), steps)).toThrow(/steps\.line 1: that is a FROM, which runs no process/);
  });

  it('a stage without RUN matches no step', () => {
    const steps: DockerfileStep[] = [...STEPS, { stageIndex: 2, stageName: 'out', keyword: 'COPY', line: 8 }];
    expect(() => selectSteps(policy('  - name: r\n    egress: { allow: [] }\n    steps: { stage: out }\n'), steps)).toThrow(/enforce rule 'r': steps selects no RUN of the Dockerfile/);
  });
});
