// parse: the Dockerfile text -> AST, and the entitlements the solve must ask for.
import type { DockerfileAstView, NetworkMode } from '../contracts.js';
import { BuildInputError } from '../errors.js';
import { humanStderr, required, type BuildPhase } from './types.js';

function runsWithFlag(ast: DockerfileAstView, flag: string, value: string): { range: { startLine: number } }[] {
  return ast.stages.flatMap((stage) =>
    stage.instructions.filter(
      (ins) =>
        ins.keyword.toUpperCase() === 'RUN' &&
        ins.flags.some((f) => f.name.replace(/^--/, '') === flag && f.value === value),
    ),
  );
}

/** The entitlements the solve must ask for: `network.host` when the build or any RUN
 * (`RUN --network=host`) uses the host network, which dockerd grants by default;
 * `security.insecure` only when `--allow` grants it, as buildx does. */
export function entitlementsFor(
  network: NetworkMode,
  ast: DockerfileAstView,
  allow: readonly string[] = [],
  dockerfileName = 'Dockerfile',
): string[] {
  const out: string[] = [];
  if (network === 'host' || runsWithFlag(ast, 'network', 'host').length > 0) out.push('network.host');
  const insecure = runsWithFlag(ast, 'security', 'insecure')[0];
  if (insecure !== undefined) {
    if (!allow.includes('security.insecure')) {
      const line = insecure.range.startLine;
      throw new BuildInputError(
        'entitlement-not-allowed',
        `${dockerfileName}:${line}: RUN --security=insecure needs the security.insecure entitlement: pass --allow security.insecure`,
        { file: dockerfileName, line },
      );
    }
    out.push('security.insecure');
  }
  return out;
}

/** The one line said about a `# syntax=` directive: tracebuild is the frontend, so the
 * image it names is not run. Undefined without one. */
export function syntaxNote(ast: DockerfileAstView, dockerfileName: string): string | undefined {
  const syntax = ast.directives?.syntax;
  if (syntax === undefined) return undefined;
  return `note: ${dockerfileName}:${ast.directives?.syntaxLine ?? 1}: # syntax=${syntax} is ignored: tracebuild is the Dockerfile frontend\n`;
}

export function parsePhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'parse',
    run(run) {
      const inputs = required(run.inputs, 'inputs');
      run.ast = run.toolchain.parseDockerfile(inputs.dockerfileText, inputs.dockerfileName);
      const note = syntaxNote(run.ast, inputs.dockerfileName);
      if (note !== undefined && humanStderr(run.request)) run.io.stderr.write(note);
      run.entitlements = entitlementsFor(run.request.network, run.ast, run.request.allow, inputs.dockerfileName);
    },
  };
}

