// Pure builder: SLSA provenance v1 (https://slsa.dev/provenance/v1) for a tracebuild build.
//
// buildType https://tracebuild.dev/buildtypes/dockerfile/v1 (documented in BUILDTYPE.md):
//   externalParameters
//     dockerfile   {path, digest: {sha256}}  path relative to the context (else to the
//                  working directory, else the file name), and the sha256 of its bytes
//     context      string, the build context relative to the working directory (e.g. ".");
//                  left out when the context is outside it (no host paths in a statement)
//     buildArgs    {NAME: value}, keys sorted; recorded verbatim (see SECRETS below)
//     target       stage name, only when one was requested
//     platform     only when one was requested
//   internalParameters  optional, free-form, whatever the caller passes (e.g. frontend
//                       version, BuildKit version); never secrets
//   resolvedDependencies
//     base images  {name, uri: "docker-image://<name>", digest: {sha256}, annotations?: {stage}}
//                  in the order given (stage order)
//     context files {name: <path relative to the context>, uri: "local://context/<path>",
//                  digest: {sha256}} sorted by path
//   runDetails.builder.id        caller's builder id (default TRACEBUILD_BUILDER_ID)
//   runDetails.metadata          {invocationId, startedOn, finishedOn}
//
// SECRETS: this builder records every build arg it is given, whatever its name. The caller
// must pass no secret values here: secrets reach the build through a separate channel
// (issue 3: BuildKit secret mounts) and never appear in any statement.

import {
  SLSA_PROVENANCE_PREDICATE_TYPE,
  STATEMENT_TYPE_V1,
  copyJson,
  imageSubject,
  rfc3339,
  sha256Hex,
  sortedRecord,
  type ImageRef,
  type ResourceDescriptor,
  type Statement,
  type Timestamp,
} from './statement.js';

export const TRACEBUILD_BUILD_TYPE = 'https://tracebuild.dev/buildtypes/dockerfile/v1';
export const TRACEBUILD_BUILDER_ID = 'https://tracebuild.dev/builders/local/v1';

export interface BaseImageDependency {
  /** Image reference as written or resolved, e.g. "busybox:local" or "docker.io/library/alpine:3.20". */
  name: string;
  /** "sha256:<hex>" (manifest digest when pulled, image id for a local image). */
  digest: string;
  /** Stage that uses it. */
  stage?: string;
}

export interface ContextFileDependency {
  /** Path relative to the context root, "/"-separated. */
  path: string;
  /** "sha256:<hex>" or bare hex of the file content. */
  sha256: string;
}

export interface SlsaProvenanceInput {
  image: ImageRef;
  dockerfile: { path: string; sha256: string };
  /** Relative to the working directory; undefined leaves it out. */
  context?: string;
  /** Recorded verbatim. The caller passes no secret values (see file comment). */
  buildArgs?: Readonly<Record<string, string>>;
  target?: string;
  platform?: string;
  internalParameters?: Record<string, unknown>;
  baseImages?: readonly BaseImageDependency[];
  contextFiles?: readonly ContextFileDependency[];
  builder?: { id?: string; version?: Record<string, string> };
  invocationId: string;
  startedOn: Timestamp;
  finishedOn: Timestamp;
}

export interface DockerfileExternalParameters {
  dockerfile: { path: string; digest: { sha256: string } };
  context?: string;
  buildArgs: Record<string, string>;
  target?: string;
  platform?: string;
}

export interface SlsaProvenancePredicate {
  buildDefinition: {
    buildType: string;
    externalParameters: DockerfileExternalParameters;
    internalParameters?: Record<string, unknown>;
    resolvedDependencies: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string; version?: Record<string, string> };
    metadata: { invocationId: string; startedOn: string; finishedOn: string };
  };
}

export type SlsaProvenanceStatement = Statement<SlsaProvenancePredicate>;

export function buildSlsaProvenanceStatement(input: SlsaProvenanceInput): SlsaProvenanceStatement {
  const externalParameters: DockerfileExternalParameters = {
    dockerfile: { path: input.dockerfile.path, digest: { sha256: sha256Hex(input.dockerfile.sha256, 'dockerfile digest') } },
    ...(input.context === undefined ? {} : { context: input.context }),
    buildArgs: sortedRecord(input.buildArgs ?? {}),
  };
  if (input.target !== undefined) externalParameters.target = input.target;
  if (input.platform !== undefined) externalParameters.platform = input.platform;

  const buildDefinition: SlsaProvenancePredicate['buildDefinition'] = {
    buildType: TRACEBUILD_BUILD_TYPE,
    externalParameters,
    ...(input.internalParameters !== undefined ? { internalParameters: copyJson(input.internalParameters) } : {}),
    resolvedDependencies: [
      ...(input.baseImages ?? []).map(baseImageDescriptor),
      ...[...(input.contextFiles ?? [])]
        .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
        .map(contextFileDescriptor),
    ],
  };

  const builder: SlsaProvenancePredicate['runDetails']['builder'] = { id: input.builder?.id ?? TRACEBUILD_BUILDER_ID };
  if (input.builder?.version !== undefined) builder.version = sortedRecord(input.builder.version);

  return {
    _type: STATEMENT_TYPE_V1,
    subject: [imageSubject(input.image)],
    predicateType: SLSA_PROVENANCE_PREDICATE_TYPE,
    predicate: {
      buildDefinition,
      runDetails: {
        builder,
        metadata: {
          invocationId: input.invocationId,
          startedOn: rfc3339(input.startedOn, 'startedOn'),
          finishedOn: rfc3339(input.finishedOn, 'finishedOn'),
        },
      },
    },
  };
}

function baseImageDescriptor(dep: BaseImageDependency): ResourceDescriptor {
  const d: ResourceDescriptor = {
    name: dep.name,
    uri: `docker-image://${dep.name}`,
    digest: { sha256: sha256Hex(dep.digest, `digest of base image ${dep.name}`) },
  };
  if (dep.stage !== undefined) d.annotations = { stage: dep.stage };
  return d;
}

function contextFileDescriptor(dep: ContextFileDependency): ResourceDescriptor {
  const path = dep.path.replace(/^\/+/, '');
  return {
    name: path,
    uri: `local://context/${path.split('/').map(encodeURIComponent).join('/')}`,
    digest: { sha256: sha256Hex(dep.sha256, `digest of context file ${dep.path}`) },
  };
}
