// Named build contexts (`--build-context NAME=...`), looked up and turned into sources as
// BuildKit's Dockerfile frontend does (dockerui's NamedContext):
// - a name is looked up in its short form (`docker.io/library/alpine:latest` -> `alpine`),
//   first with the platform (`alpine::linux/amd64`), then alone; `scratch` and `context`
//   are never looked up;
// - a stage `AS NAME` with a context of that name is replaced by it (its instructions are
//   not built), and so is a FROM or a COPY --from / RUN --mount from= image naming it;
// - local directories start from an empty image config; images keep theirs.
import { familiarImageReference, parseImageReferenceWithDefaultTag } from '../../common/index.js';
import { LlbState } from '../llb/index.js';
import { formatPlatform } from './platform.js';
import type { StageTable } from './stages.js';
import type { NamedContext, Platform } from './types.js';

/** The short name a context is looked up by; undefined for a name no context can have. */
export function contextLookupName(name: string): string | undefined {
  if (['scratch', 'context'].includes(name.toLowerCase())) return undefined;
  try {
    const familiar = familiarImageReference(parseImageReferenceWithDefaultTag(name));
    return familiar.endsWith(':latest') ? familiar.slice(0, -':latest'.length) : familiar;
  } catch {
    return undefined;
  }
}

/** The named context for `name` on `platform`, if one was given. */
export function findNamedContext(
  contexts: Readonly<Record<string, NamedContext>> | undefined,
  name: string,
  platform: Platform,
): { key: string; context: NamedContext } | undefined {
  if (contexts === undefined) return undefined;
  const short = contextLookupName(name);
  if (short === undefined) return undefined;
  for (const key of [`${short}::${formatPlatform(platform)}`, short]) {
    if (Object.hasOwn(contexts, key)) return { key, context: contexts[key] as NamedContext };
  }
  return undefined;
}

/** Stages `AS NAME` that a context of that name replaces: their base and instructions
 * are dropped (so nothing they would have read is needed), the context stands for them. */
export function replaceNamedStages(table: StageTable, contexts: Readonly<Record<string, NamedContext>> | undefined, targetPlatform: Platform): void {
  if (contexts === undefined) return;
  for (const info of table.infos) {
    if (info.name === undefined) continue;
    const found = findNamedContext(contexts, info.name, info.platform ?? targetPlatform);
    if (found === undefined) continue;
    info.named = found;
    info.baseName = info.name;
    delete info.base;
    info.instructions = [];
    info.cmdTotal = 0;
  }
}

/** The short name the context was found under, without its platform. */
function shortName(key: string): string {
  const at = key.indexOf('::');
  return at < 0 ? key : key.slice(0, at);
}

/** The source of a local or OCI layout context (an image context is a FROM of its own). */
export function namedContextSource(
  named: { key: string; context: NamedContext },
  platform: Platform,
  sessionId: string | undefined,
): { state: LlbState; name: string } {
  const c = named.context;
  if (c.type === 'local') {
    const state = LlbState.local(c.name, {
      ...(sessionId === undefined ? {} : { sessionId }),
      // BuildKit's frontend: `context:<name>-<shared key>`, the shared key empty from buildx.
      sharedKeyHint: `context:${named.key}-`,
      excludePatterns: c.excludePatterns,
    });
    return { state, name: `[context ${named.key}] load from client` };
  }
  if (c.type === 'oci-layout') {
    // The reference only names the image in messages; the store and digest find it.
    const parts = parseImageReferenceWithDefaultTag(shortName(named.key));
    const ref = `${parts.registry}/${parts.repository}@${c.digest}`;
    const attrs: Record<string, string> = { 'oci.store': c.storeId };
    if (sessionId !== undefined) attrs['oci.session'] = sessionId;
    return { state: LlbState.source(`oci-layout://${ref}`, attrs, platform, true), name: `[context ${named.key}] OCI load from client` };
  }
  throw new Error(`internal: ${c.type} context ${shortName(named.key)} is resolved as an image`);
}
