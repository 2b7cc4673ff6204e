// convert: what the solve's frontend callback does, inside the gateway: the Dockerfile
// converted to LLB with the daemon's image resolver and this build's session (so its
// context source is its own), then the secrets it mounts checked against --secret.
import type { DockerfileAstView, ConvertOptions, GatewayApi } from '../contracts.js';
import { BuildInputError } from '../errors.js';
import { contextDirReader } from './inputs.js';
import { required, type BuildRun } from './types.js';

/** A required secret the Dockerfile mounts but `--secret` did not give: named with its line
 * before anything runs. */
export function checkSecretsProvided(
  wanted: readonly { id: string; required: boolean; line: number }[] | undefined,
  given: Readonly<Record<string, Uint8Array>>,
  dockerfileName: string,
): void {
  const missing = (wanted ?? []).find((s) => s.required && !Object.hasOwn(given, s.id));
  if (missing === undefined) return;
  throw new BuildInputError(
    'secret-not-provided',
    `${dockerfileName}:${missing.line}: secret ${missing.id} is required but not provided: pass --secret id=${missing.id},src=FILE`,
    { file: dockerfileName, line: missing.line },
  );
}

/** Converts the Dockerfile for the gateway: the definition and image config to solve. */
export async function convertInGateway<Ast extends DockerfileAstView, Def, E>(
  run: BuildRun<Ast, Def, E>,
  gateway: GatewayApi,
): Promise<{ definition: Def; imageConfig: Record<string, unknown> }> {
  const inputs = required(run.inputs, 'inputs');
  const { request } = run;
  const options: ConvertOptions<Ast> = {
    dockerfile: required(run.ast, 'ast'),
    buildArgs: run.buildArgs,
    labels: run.labels,
    ...(request.target === undefined ? {} : { target: request.target }),
    network: request.network,
    noCache: request.noCache,
    excludePatterns: inputs.dockerignore.patterns,
    sessionId: gateway.sessionId,
    resolveImageConfig: (ref, platform) => gateway.resolveImageConfig(ref, platform),
    // COPY --parents wildcards are expanded against the context where the daemon cannot
    // filter copies itself (see frontend/convert).
    readContextDir: contextDirReader(inputs.contextDir),
    // Features are gated on what the daemon's gateway announced; a fake gateway without
    // capabilities gets the newest.
    ...(gateway.capabilities === undefined
      ? {}
      : {
          capabilities: {
            llb: gateway.capabilities.llb,
            frontend: gateway.capabilities.frontend,
            ...(gateway.daemon?.apiVersion === undefined ? {} : { engineApiVersion: gateway.daemon.apiVersion }),
            name: gateway.daemon?.description ?? "the daemon's BuildKit",
          },
        }),
  };
  const conversion = await run.toolchain.convertDockerfile(options);
  run.conversion = conversion;
  checkSecretsProvided(conversion.secrets, run.secrets, inputs.dockerfileName);
  return { definition: conversion.definition, imageConfig: conversion.imageConfig };
}
