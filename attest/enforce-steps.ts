// Which enforce rules apply to which step of a Dockerfile (POLICY.md "Enforce rules",
// `steps:`). Pure: the rules and the Dockerfile's instructions in, each RUN's rules out.
// A selector that matches nothing is an error, never a rule that silently enforces
// nothing: a typo in a stage name or a line must stop the build before it starts.

import type { EnforceRule, Enforcement, StepSelector } from './enforce.js';
import { PolicyError } from './policy-error.js';

/** One instruction of the Dockerfile, as the selectors see it. */
export interface DockerfileStep {
  /** 0-based index of its stage among the FROMs. */
  readonly stageIndex: number;
  /** The stage's `AS` name, lower case. */
  readonly stageName?: string;
  /** Upper-case keyword. */
  readonly keyword: string;
  /** The instruction's first Dockerfile line. */
  readonly line: number;
}

/** A RUN step and the rules in force on it (in the policy's order; may be none). With
 * `onbuild`, the step is a FROM: the rules in force on the RUN triggers of its base image's
 * ONBUILD, which run in its stage and are reported at its line. */
export interface SelectedStep {
  readonly step: DockerfileStep;
  readonly rules: readonly EnforceRule[];
  readonly onbuild?: true;
}

function stageMatches(s: StepSelector, step: DockerfileStep): boolean {
  if (s.stage === undefined) return true;
  return typeof s.stage === 'number' ? s.stage === step.stageIndex : s.stage === step.stageName;
}

/** Whether a rule applies to a step (the step runs a process: RUN). */
export function selects(rule: EnforceRule, step: DockerfileStep): boolean {
  const s = rule.steps;
  if (step.keyword !== 'RUN') return false;
  if (s === undefined) return true;
  return stageMatches(s, step) && (s.lines === undefined || s.lines.includes(step.line));
}

/**
 * Each RUN of `steps` with the rules that select it, and each FROM with the rules its
 * stage's ONBUILD RUN triggers would be under (`onbuild`). Throws PolicyError `invalid-policy`
 * (`FILE:LINE` of the rule's `steps:`) for a selector that matches no RUN, or a listed line
 * that is no RUN of the stages it also names.
 */
export function selectSteps(e: Enforcement, steps: readonly DockerfileStep[]): SelectedStep[] {
  for (const rule of e.rules) {
    const s = rule.steps;
    if (s === undefined) continue;
    const fail = (why: string): never => {
      throw new PolicyError('invalid-policy', `${e.file}:${s.line}: enforce rule '${rule.name}': ${why}; the build was not started`, { file: e.file, rule: rule.name });
    };
    if (s.stage !== undefined && !steps.some((st) => stageMatches(s, st))) {
      fail(`steps.stage ${JSON.stringify(s.stage)}: the Dockerfile has no such stage`);
    }
    for (const line of s.lines ?? []) {
      const at = steps.find((st) => st.line === line);
      if (at === undefined) fail(`steps.line ${line}: no instruction of the Dockerfile starts on that line`);
      else if (at.keyword !== 'RUN') fail(`steps.line ${line}: that is a ${at.keyword}, which runs no process in a step's container (only RUN can be enforced)`);
      else if (!stageMatches(s, at)) fail(`steps.line ${line}: that RUN is not in stage ${JSON.stringify(s.stage)}`);
    }
    if (!steps.some((st) => selects(rule, st))) fail('steps selects no RUN of the Dockerfile');
  }
  return steps.flatMap((step): SelectedStep[] => {
    if (step.keyword === 'RUN') return [{ step, rules: e.rules.filter((r) => selects(r, step)) }];
    // An ONBUILD RUN trigger is a RUN of this stage at the FROM's line (never a RUN's line:
    // a selector with lines cannot name it, since a FROM line is refused above).
    if (step.keyword === 'FROM') return [{ step, rules: e.rules.filter((r) => selects(r, { ...step, keyword: 'RUN' })), onbuild: true }];
    return [];
  });
}
