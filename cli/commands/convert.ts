// `tracebuild convert`: the Dockerfile as LLB, printed as JSON. No daemon is contacted, so
// base images contribute no config (the converter treats them as empty), and the LLB is
// for the newest BuildKit capabilities tracebuild supports (a build converts for the
// capabilities its daemon announces, so its LLB may differ: see frontend/convert/capabilities.ts).

import { parseBuildArgs, parseLabels } from '../args.js';
import type { Command } from 'commander';
import type { ConvertOptions, DockerfileAstView, NetworkMode, Toolchain } from '../contracts.js';
import type { CliIo } from '../io.js';
import { contextDirReader, readBuildInputs } from '../build/inputs.js';
import { syntaxNote } from '../build/parse.js';
import { networkOption } from './build.js';
import { collect, type CliCommand } from './command.js';

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
  const note = syntaxNote(ast, inputs.dockerfileName);
  if (note !== undefined) io.stderr.write(note);
  const options: ConvertOptions<Ast> = {
    dockerfile: ast,
    buildArgs,
    labels,
    ...(request.target === undefined ? {} : { target: request.target }),
    network: request.network,
    noCache: false,
    excludePatterns: inputs.dockerignore.patterns,
    readContextDir: contextDirReader(inputs.contextDir),
  };
  const conversion = await toolchain.convertDockerfile(options);
  io.stdout.write(`${toJson(toolchain.describeConversion(conversion))}\n`);
}

interface ConvertFlags {
  file?: string;
  buildArg?: string[];
  label?: string[];
  network: NetworkMode;
  target?: string;
}

export const convertCommand: CliCommand = {
  register(program: Command, { io, toolchain }) {
    program
      .command('convert')
      .description('print the LLB a Dockerfile converts to, as JSON (no daemon contacted: for the newest BuildKit capabilities tracebuild supports)')
      .argument('[PATH]', 'build context directory', '.')
      .option('-f, --file <FILE>', "name of the Dockerfile (default: 'PATH/Dockerfile')")
      .option('--build-arg <K=V>', 'set a build-time variable; `K` alone takes it from the environment (repeatable)', collect)
      .option('--label <K=V>', 'set metadata for an image (repeatable)', collect)
      .addOption(networkOption())
      .option('--target <STAGE>', 'set the target build stage to convert')
      .action(async (path: string, flags: ConvertFlags) => {
        const request: ConvertRequest = {
          context: path,
          ...(flags.file === undefined ? {} : { file: flags.file }),
          buildArgs: flags.buildArg ?? [],
          labels: flags.label ?? [],
          network: flags.network,
          ...(flags.target === undefined ? {} : { target: flags.target }),
        };
        await runConvert(request, io, await toolchain());
      });
  },
};
