// `tracebuild convert`: the Dockerfile as LLB, printed as JSON. No daemon is contacted, so
// base images contribute no config (the converter treats them as empty).

import { parseBuildArgs, parseLabels } from '../args.js';
import type { DockerfileAstView, NetworkMode, Toolchain } from '../contracts.js';
import type { CliIo } from '../io.js';
import { readBuildInputs } from './inputs.js';

export interface ConvertRequest {
  context: string;
  file?: string;
  buildArgs: string[];
  labels: string[];
  network: NetworkMode;
  target?: string;
}

/** JSON.stringify that also copes with bytes (base64) and bigints (decimal strings). */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
      return v;
    },
    2,
  );
}

export async function runConvert<Ast extends DockerfileAstView, Def, E>(
  request: ConvertRequest,
  io: CliIo,
  toolchain: Toolchain<Ast, Def, E>,
): Promise<void> {
  const buildArgs = parseBuildArgs(request.buildArgs, io.env);
  const labels = parseLabels(request.labels);
  const inputs = readBuildInputs(request, io.cwd);
  const ast = toolchain.parseDockerfile(inputs.dockerfileText, inputs.dockerfileName);
  const conversion = await toolchain.convertDockerfile({
    dockerfile: ast,
    buildArgs,
    labels,
    ...(request.target === undefined ? {} : { target: request.target }),
    network: request.network,
    noCache: false,
    excludePatterns: inputs.dockerignore.patterns,
  });
  io.stdout.write(`${toJson(toolchain.describeConversion(conversion))}\n`);
}
