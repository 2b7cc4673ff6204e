// convert: what the solve's frontend callback does, inside the gateway: the Dockerfile
// converted to LLB with the daemon's image resolver and this build's session (so its
// context source is its own), then the secrets it mounts checked against --secret.
import type { DockerfileAstView, ConvertOptions, GatewayApi } from '../contracts.js';
import { BuildInputError } from '../errors.js';
import { contextDirReader } from './inputs.js';
import { checkSshProvided } from './ssh.js';
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

/** The LLB caps the converter may use. dockerd's BuildKit announces OCI layout sources
 * (its cap list is BuildKit's own) but its worker registers no `oci-layout` source: a build
 * that uses one fails there with "unknown scheme oci-layout" (measured on Docker 26.1.5,
 * buildx 0.13.1 fails the same way), so the converter refuses it at its line instead. */
function dockerdLlbCaps(gateway: GatewayApi): readonly string[] {
  const llb = gateway.capabilities?.llb ?? [];
  return gateway.daemon?.engine === 'dockerd' ? llb.filter((c) => c !== 'source.ocilayout') : llb;
}

/** Converts the Dockerfile for the gateway: the definition and image config to solve. */
export async function convertInGateway<Ast extends DockerfileAstView, Def, E>(
  run: BuildRun<Ast, Def, E>,
  gateway: GatewayApi,
): Promise<{ definition: Def; imageConfig: Record<string, unknown> }> {
  const inputs = required(run.inputs, 'inputs');
  const { request } = run;
  // What the daemon executes: its own platform first (BUILDPLATFORM), then the emulated ones.
  const platforms = (await run.client?.listWorkers?.())?.flatMap((w) => w.platforms);
  const buildPlatform = platforms?.[0];
  const options: ConvertOptions<Ast> = {
    dockerfile: required(run.ast, 'ast'),
    buildArgs: run.buildArgs,
    labels: run.labels,
    ...(request.target === undefined ? {} : { target: request.target }),
    network: request.network,
    noCache: request.noCache,
    excludePatterns: inputs.dockerignore.patterns,
    sessionId: gateway.sessionId,
    ...(run.platform === undefined ? {} : { platform: run.platform }),
    ...(buildPlatform === undefined ? {} : { buildPlatform: { os: buildPlatform.os, architecture: buildPlatform.architecture } }),
    ...(run.buildContexts === undefined ? {} : { namedContexts: run.buildContexts.named }),
    resolveImageConfig: (ref, platform, resolveMode) => gateway.resolveImageConfig(ref, platform, resolveMode),
    ...(request.execDefaults === undefined && run.enforcement === undefined
      ? {}
      : { execDefaults: { ...request.execDefaults, ...(run.enforcement === undefined ? {} : { cgroupParentByLine: run.enforcement.cgroupParents }) } }),
    // COPY --parents wildcards are expanded against the context where the daemon cannot
    // filter copies itself (see frontend/convert).
    readContextDir: contextDirReader(inputs.contextDir),
    // Features are gated on what the daemon's gateway announced; a fake gateway without
    // capabilities gets the newest.
    ...(gateway.capabilities === undefined
      ? {}
      : {
          capabilities: {
            llb: dockerdLlbCaps(gateway),
            frontend: gateway.capabilities.frontend,
            ...(gateway.daemon?.apiVersion === undefined ? {} : { engineApiVersion: gateway.daemon.apiVersion }),
            name: gateway.daemon?.description ?? "the daemon's BuildKit",
            ...(platforms === undefined ? {} : { platforms }),
          },
        }),
  };
  const conversion = await run.toolchain.convertDockerfile(options);
  run.conversion = conversion;
  checkSecretsProvided(conversion.secrets, run.secrets, inputs.dockerfileName);
  checkSshProvided(conversion.ssh, run.sshAgents ?? {}, inputs.dockerfileName);
  return { definition: conversion.definition, imageConfig: conversion.imageConfig };
}
