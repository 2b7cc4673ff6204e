// The builder's signature: with --key, the agent signs each build's trace as an in-toto
// runtime-trace statement (the same predicate a tracebuild client signs; monitoredProcess
// names the builder and the build ref) about the image it produced: the manifest digest
// when the build pushed it (then also attached to it in the registry as a Sigstore bundle
// referrer, the layout `tracebuild verify` reads), else the image id. The key never leaves
// the builder; the registry credentials are the agent's own (its docker config).
import type { KeyObject } from 'node:crypto';
import { buildRuntimeTraceStatement, signStatement, type SerializedBundle } from '../attest/index.js';
import { parseImageReference } from '../common/index.js';
import type { Trace } from '../model/index.js';
import { EMPTY_JSON, MediaType, parseReference } from '../oci/index.js';
import { BUNDLE_MEDIA_TYPE, bundleReferrerManifest, registryClient } from '../verify/index.js';
import type { StoredBuildSummary } from './store.js';

export interface BuilderSigner {
  privateKey: KeyObject;
  keyId: string;
  /** URI naming the builder (monitoredProcess.hostID). */
  builderId: string;
  /** The agent's environment: where its docker config (registry credentials) is. */
  env: NodeJS.ProcessEnv;
}

/** `registry/repository` of each name the exporter gave the image (those it can parse). */
export function repositories(names: readonly string[]): string[] {
  const out = new Set<string>();
  for (const n of names) {
    try {
      const p = parseImageReference(n);
      out.add(`${p.registry}/${p.repository}`);
    } catch {
      // a name we cannot read is not signed for
    }
  }
  return [...out];
}

/** Signs the trace about each image the build produced and attaches it where it was pushed.
 * Failures to attach are recorded, not thrown: the trace is kept either way. */
export async function signBuild(
  signer: BuilderSigner,
  build: Pick<StoredBuildSummary, 'ref' | 'names' | 'pushed' | 'imageId' | 'manifestDigest' | 'startedOn' | 'finishedOn'>,
  trace: Trace,
): Promise<StoredBuildSummary['attestations']> {
  const digest = build.pushed ? build.manifestDigest : build.imageId;
  if (digest === undefined) return [];
  const repos = repositories(build.names);
  // an image only loaded into the daemon is named `image` when it has no name
  const subjects = repos.length > 0 ? repos : build.pushed ? [] : ['image'];
  const out: StoredBuildSummary['attestations'] = [];
  for (const name of subjects) {
    const statement = buildRuntimeTraceStatement({
      image: { name, digest },
      trace,
      monitoredProcess: { hostID: signer.builderId, event: build.ref },
      timestamps: { buildStartedOn: new Date(trace.metadata.buildStartedOn ?? build.startedOn), buildFinishedOn: new Date(trace.metadata.buildFinishedOn ?? build.finishedOn) },
    });
    const bundle: SerializedBundle = await signStatement(statement, { privateKey: signer.privateKey });
    const record: StoredBuildSummary['attestations'][number] = { subject: `${name}@${digest}`, keyId: signer.keyId, bundle };
    if (build.pushed && name !== 'image') {
      try {
        record.referrer = await attach(signer.env, name, digest, bundle, statement.predicateType);
      } catch (err) {
        record.attachError = err instanceof Error ? err.message : String(err);
      }
    }
    out.push(record);
  }
  return out;
}

async function attach(env: NodeJS.ProcessEnv, name: string, digest: string, bundle: SerializedBundle, predicateType: string): Promise<string> {
  const client = registryClient(env);
  const repo = parseReference(name).withDigest(digest);
  const subject = await client.resolveManifest(repo);
  await client.pushBlob(repo, EMPTY_JSON, { mediaType: MediaType.OciEmpty });
  const layer = await client.pushBlob(repo, new TextEncoder().encode(JSON.stringify(bundle)), { mediaType: BUNDLE_MEDIA_TYPE });
  const manifest = bundleReferrerManifest({ subject, bundle: layer, predicateType, created: new Date() });
  const referrer = await client.attachReferrer(repo, new TextEncoder().encode(JSON.stringify(manifest)));
  return `${name}@${referrer.descriptor.digest}`;
}
