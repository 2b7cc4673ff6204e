// `tracebuild convert`: the Dockerfile as LLB, printed as JSON. No daemon is contacted, so
// base images contribute no config (the converter treats them as empty).

import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseBuildArgs, parseLabels } from '../args.js';
import type { ConvertOptions, DockerfileAstView, NetworkMode, Toolchain } from '../contracts.js';
import type { CliIo } from '../io.js';
import { readBuildInputs } from './inputs.js';

/**
 * Lists directories of the context dir with lstat semantics (a symlink is reported, never
 * followed). The converter only asks for clean relative paths of directories it saw as
 * directories; anything else is refused, so nothing outside the context is read.
 */
export function contextDirReader(contextDir: string): NonNullable<ConvertOptions<unknown>['readContextDir']> {
  return async (dir) => {
    if (dir.startsWith('/') || dir.split('/').some((s) => s === '..' || s === '.' || (s === '' && dir !== ''))) {
      throw new Error(`not a clean context path: ${JSON.stringify(dir)}`);
    }
    let entries;
    try {
      entries = await readdir(path.join(contextDir, ...(dir === '' ? [] : dir.split('/'))), { withFileTypes: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw err;
    }
    return entries.map((e) => ({
      name: e.name,
      type: e.isDirectory() ? 'dir' : e.isSymbolicLink() ? 'symlink' : e.isFile() ? 'file' : 'other',
    }));
  };
}

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
