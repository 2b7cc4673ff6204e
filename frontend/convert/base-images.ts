// Base images, resolved once before any pass: every image base is normalized (an invalid
// reference fails, reachable or not), and the config of each base that the target needs
// is asked of the resolver for the stage's platform (its FROM --platform, else the
// target's). Without a resolver (the convert command, no daemon) a base config is empty.
import { ConvertError } from './errors.js';
import { isScratchImage, parseImage } from './image.js';
import { SCRATCH } from './stages.js';
import type { StageInfo, StageTable } from './stages.js';
import type { ImageConfigResolver, ImageResolveMode, Platform } from './types.js';
import { normalizeImageRef } from './util.js';

export async function resolveBaseImages(
  table: StageTable,
  reachable: Set<StageInfo>,
  targetPlatform: Platform,
  resolveImageConfig: ImageConfigResolver | undefined,
  resolveMode: ImageResolveMode = 'default',
): Promise<void> {
  const file = table.file;
  for (const info of table.infos) {
    if (info.base || info.baseName === SCRATCH) continue;
    const ref = normalizeImageRef(info.baseName);
    if (!ref) throw new ConvertError('invalid-reference', file, info.fromLine, `failed to parse stage name "${info.baseName}": invalid reference format`);
    info.baseName = ref;
    if (!reachable.has(info) || info.unregistered) continue;
    const platform = info.platform ?? targetPlatform;
    let resolved;
    if (resolveImageConfig) {
      try {
        resolved = resolveMode === 'default' ? await resolveImageConfig(ref, platform) : await resolveImageConfig(ref, platform, resolveMode);
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
}
