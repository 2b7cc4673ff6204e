// The enforce phase of `tracebuild build --enforce POLICY` (after the parse phase, before
// the trace phase): reads the policy file's enforce rules (attest/enforce.ts), selects the
// rules of each RUN of the parsed Dockerfile (attest/enforce-steps.ts) and sets
// run.enforcement, from which the trace phase gives the probe's loader its rules and cgroup
// parents, one per distinct set of rules in force (the loader creates them and attaches the
// programs before it reports ready, so before the solve), and the converter puts each RUN
// under the parent of its own rules (Meta.cgroupParent).
//
// Fails closed: whatever cannot be enforced exactly as written stops the build here, before
// anything runs: a file without enforce rules, exec rules (not enforced yet), a step
// selector that matches no RUN of the Dockerfile, --no-trace
// (the probe is what kills a refused process), a build through a tracebuild agent.

import { USER_FILE_LIMITS, UserFileError, readUserFile } from '../../common/index.js';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { ENFORCE_PARENTS_MAX, buildEnforcement, egressRules, rulesOutsideBuild } from './enforce-args.js';
import type { BuildPhase } from './types.js';
import type { DockerfileAstView } from '../contracts.js';

export function enforcePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'enforce',
    async run(run) {
      const file = run.request.enforce;
      if (file === undefined) return;
      if (run.request.trace === false) {
        throw new UsageError('bad-flag', '--enforce needs the eBPF probe: it cannot be used with --no-trace');
      }
      const { describeRules, parseEnforcement, ruleSetDigest, selectSteps, PolicyError } = await import('../../attest/index.js');
      let text: string;
      try {
        text = readUserFile(resolve(run.io.cwd, file), { what: `policy ${file}`, maxBytes: USER_FILE_LIMITS.policy }).toString('utf8');
      } catch (cause) {
        const why = cause instanceof UserFileError ? cause.message : `policy ${file}: cannot be read: ${(cause as Error).message}`;
        throw new PolicyError('invalid-policy', why, { file, cause });
      }
      const enforcement = parseEnforcement(text, file);
      if (enforcement === undefined) throw new PolicyError('invalid-policy', `${file}: --enforce needs an "enforce" list in the policy`, { file });
      const exec = enforcement.rules.find((r) => r.kind === 'exec');
      if (exec !== undefined) {
        throw new PolicyError('invalid-policy', `${file}:${exec.line}: enforce rule '${exec.name}': exec rules are not enforced yet (only egress); the build was not started`, {
          file,
          rule: exec.name,
        });
      }
      if (egressRules(enforcement).length === 0) throw new PolicyError('invalid-policy', `${file}: no egress rule to enforce`, { file });
      const ast = run.ast;
      if (ast === undefined) throw new Error('internal: the enforce phase runs after the parse phase');
      const steps = ast.stages.flatMap((stage, stageIndex) => {
        const of = { stageIndex, ...(stage.name === undefined ? {} : { stageName: stage.name }) };
        const from = stage.from === undefined ? [] : [{ ...of, keyword: 'FROM', line: stage.from.range.startLine }];
        return [...from, ...stage.instructions.map((i) => ({ ...of, keyword: i.keyword.toUpperCase(), line: i.range.startLine }))];
      });
      const built = buildEnforcement(enforcement, describeRules(enforcement.rules), selectSteps(enforcement, steps), ruleSetDigest);
      if (built.loader.parents.length > ENFORCE_PARENTS_MAX) {
        throw new PolicyError(
          'invalid-policy',
          `${file}: the steps are under ${built.loader.parents.length} different sets of egress rules; at most ${ENFORCE_PARENTS_MAX} (one cgroup parent each) can be enforced in one build`,
          { file },
        );
      }
      run.enforcement = built;
    },
  };
}

/** After the solve (--enforce): a warning for each rule whose selector chose only steps the
 * build did not run, since their stages are not among those the target needs. Not an
 * error: one policy may serve several targets. */
export function enforceReportPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'enforce-report',
    run(run) {
      const { enforcement, conversion } = run;
      if (enforcement === undefined || conversion === undefined) return;
      const ran = new Set(conversion.steps.map((s) => s.line));
      const target = run.request.target === undefined ? 'the last stage' : `--target ${run.request.target}`;
      for (const rule of rulesOutsideBuild(enforcement, ran)) {
        run.io.stderr.write(
          `warning: ${enforcement.enforcement.file}:${rule.steps?.line ?? rule.line}: enforce rule '${rule.name}' selects no step this build ran ` +
            `(its stages are not among those ${target} needs): it enforced nothing\n`,
        );
      }
    },
  };
}
