// Base images, resolved once before any pass: every image base is normalized (an invalid
// reference fails, reachable or not), and the config of each base that the target needs
// is asked of the resolver for the stage's platform (its FROM --platform, else the
// target's). Without a resolver (the convert command, no daemon) a base config is empty.
// A base, COPY --from or stage that a named build context replaces gets that context's
// source and config instead (named-contexts.ts).
import { CAP, Capabilities } from './capabilities.js';
import { LlbState } from '../llb/index.js';
import { ConvertError } from './errors.js';
import { emptyImage, isScratchImage, parseImage } from './image.js';
import { findNamedContext, namedContextSource } from './named-contexts.js';
import { SCRATCH } from './stages.js';
import type { StageInfo, StageTable } from './stages.js';
import type { ConvertOptions, ImageConfigResolver, Platform } from './types.js';
import { normalizeImageRef } from './util.js';

type ResolveOptions = Pick<ConvertOptions, 'resolveImageConfig' | 'namedContexts' | 'sessionId'> & { caps: Capabilities };

export async function resolveBaseImages(table: StageTable, reachable: Set<StageInfo>, targetPlatform: Platform, opts: ResolveOptions): Promise<void> {
  const file = table.file;
  for (const info of table.infos) {
    if (info.base || info.baseName === SCRATCH) continue;
    const ref = normalizeImageRef(info.baseName);
    if (!ref) throw new ConvertError('invalid-reference', file, info.fromLine, `failed to parse stage name "${info.baseName}": invalid reference format`);
    info.baseName = ref;
    if (!reachable.has(info)) continue;
    const platform = info.platform ?? targetPlatform;
    info.named ??= findNamedContext(opts.namedContexts, ref, platform);
    if (info.named !== undefined) {
      await resolveNamedContext(file, info, platform, opts);
      continue;
    }
    if (info.unregistered) continue;
    await resolveImage(file, info, ref, platform, opts.resolveImageConfig);
  }
}

/** A base image: its config and digest from the resolver. */
async function resolveImage(file: string, info: StageInfo, ref: string, platform: Platform, resolveImageConfig: ImageConfigResolver | undefined): Promise<void> {
  let resolved;
  if (resolveImageConfig) {
    try {
      resolved = await resolveImageConfig(ref, platform);
    } catch (e) {
      throw new ConvertError('resolve-failed', file, info.fromLine, `failed to resolve image config for ${ref}: ${(e as Error).message}`, { cause: e });
    }
  }
  const image = parseImage(resolved?.config ?? {});
  let scratch = false;
  if (resolved) {
    if (resolved.digest) info.baseName = `${ref}@${resolved.digest}`;
    scratch = isScratchImage(image);
  }
  info.resolved = { image, scratch, ...(resolved?.digest ? { digest: resolved.digest } : {}) };
}

/** What a named context stands for: an image is resolved as a FROM of its own; a local
 * directory starts from an empty config; an OCI layout brings its config. */
async function resolveNamedContext(file: string, info: StageInfo, platform: Platform, opts: ResolveOptions): Promise<void> {
  const named = info.named!;
  const c = named.context;
  if (c.type === 'docker-image') {
    const ref = normalizeImageRef(c.ref);
    if (!ref) throw new ConvertError('invalid-reference', file, info.fromLine, `build context ${named.key}: invalid image reference ${JSON.stringify(c.ref)}`);
    info.baseName = ref;
    await resolveImage(file, info, ref, platform, opts.resolveImageConfig);
    // Named as BuildKit's frontend names a context's image.
    info.namedState = { state: LlbState.image(info.baseName, { platform }), name: `[context ${named.key}] ${ref}` };
    return;
  }
  if (c.type === 'oci-layout' && !opts.caps.has(CAP.ociLayout)) {
    throw new ConvertError('unsupported', file, info.fromLine, opts.caps.lacks(`build context ${named.key} is an OCI layout, which needs OCI layout sources (LLB cap ${CAP.ociLayout})`));
  }
  const image = c.type === 'oci-layout' ? parseImage(c.config) : emptyImage(platform);
  info.resolved = { image, scratch: false, ...(c.type === 'oci-layout' ? { digest: c.digest } : {}) };
  info.namedState = namedContextSource(named, platform, opts.sessionId);
}
