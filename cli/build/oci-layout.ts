// An image in an OCI layout directory (what `docker save` on Docker 25+, `buildx -o
// type=oci` unpacked, or `oras copy --to-oci-layout` write), found as buildx finds it for
// `--build-context NAME=oci-layout://DIR[:TAG][@DIGEST]`: by digest, else by the tag in
// index.json's `org.opencontainers.image.ref.name` annotation (default `latest`). An index
// is narrowed to the manifest of the build's platform. Every JSON document read is checked
// against its digest and bounded in size; layers are not read here (the daemon reads them
// through the session).
import { join } from 'node:path';
import { readUserFile, UserFileError } from '../../common/index.js';
import { matchesDigest } from '../../oci/index.js';
import type { Platform } from '../contracts.js';
import { BuildInputError } from '../errors.js';

/** Far above any real manifest or image config. */
const MAX_JSON = 4 << 20;
const REF_NAME = 'org.opencontainers.image.ref.name';
const INDEX_TYPES = ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'];
const DIGEST = /^(sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})$/;

export interface LayoutImage {
  /** The image manifest's digest (the platform's, when the reference was an index). */
  digest: string;
  config: Record<string, unknown>;
}

/** An entry of index.json or of an index. */
export interface LayoutDescriptor {
  mediaType?: string;
  digest: string;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

function fail(where: string, what: string, cause?: unknown): never {
  throw new BuildInputError('build-context-unreadable', `OCI layout ${where}: ${what}`, cause === undefined ? undefined : { cause });
}

function readJson(dir: string, file: string, digest: string | undefined, shown: string): Record<string, unknown> {
  let bytes: Buffer;
  try {
    bytes = readUserFile(join(dir, file), { what: `${shown} ${file}`, maxBytes: MAX_JSON, within: dir });
  } catch (err) {
    if (err instanceof UserFileError) fail(shown, err.message, err);
    throw err;
  }
  if (digest !== undefined && !matchesDigest(bytes, digest)) fail(shown, `${file} does not match its digest ${digest}`);
  try {
    const v: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch (err) {
    fail(shown, `${file} is not JSON`, err);
  }
  return fail(shown, `${file} is not a JSON object`);
}

/** The JSON blob `digest` of the layout at `dir`, checked against its digest. */
export function readLayoutBlob(dir: string, digest: string, shown: string): Record<string, unknown> {
  if (!DIGEST.test(digest)) fail(shown, `invalid digest ${JSON.stringify(digest)}`);
  const [alg, hex] = digest.split(':') as [string, string];
  return readJson(dir, join('blobs', alg, hex), digest, shown);
}

function descriptors(doc: Record<string, unknown>): LayoutDescriptor[] {
  const list = doc['manifests'];
  if (!Array.isArray(list)) return [];
  return list.filter((d): d is LayoutDescriptor => typeof d === 'object' && d !== null && typeof (d as LayoutDescriptor).digest === 'string');
}

function isIndex(doc: Record<string, unknown>, desc: LayoutDescriptor | undefined): boolean {
  return INDEX_TYPES.includes(String(desc?.mediaType ?? doc['mediaType'] ?? '')) || (doc['manifests'] !== undefined && doc['config'] === undefined);
}

/**
 * The document `tag` (default `latest`) or `digest` names in the layout at `dir`, read and
 * checked against its digest: an image manifest, an index, or a cache manifest list.
 */
export function readLayoutEntry(dir: string, ref: { tag?: string; digest?: string }, shown: string): { desc: LayoutDescriptor; doc: Record<string, unknown> } {
  const index = readJson(dir, 'index.json', undefined, shown);
  const entries = descriptors(index);
  let desc: LayoutDescriptor | undefined;
  if (ref.digest !== undefined) {
    desc = entries.find((d) => d.digest === ref.digest) ?? { digest: ref.digest };
  } else {
    const tag = ref.tag ?? 'latest';
    desc = entries.find((d) => d.annotations?.[REF_NAME] === tag);
    if (desc === undefined) {
      const tags = entries.map((d) => d.annotations?.[REF_NAME]).filter((t): t is string => t !== undefined);
      fail(shown, `no image tagged ${JSON.stringify(tag)} in index.json${tags.length > 0 ? ` (tags: ${tags.join(', ')})` : ''}`);
    }
  }
  return { desc, doc: readLayoutBlob(dir, desc.digest, shown) };
}

/** The image `tag` or `digest` names in the layout at `dir`, for `platform`. */
export function readLayoutImage(dir: string, ref: { tag?: string; digest?: string }, platform: Platform, shown: string): LayoutImage {
  let { desc, doc } = readLayoutEntry(dir, ref, shown);
  // An index (possibly nested): the manifest of the platform.
  for (let depth = 0; isIndex(doc, desc) && depth < 4; depth++) {
    const match = descriptors(doc).find(
      (d) => d.platform?.os === platform.os && d.platform.architecture === platform.architecture && (platform.variant === undefined || d.platform.variant === platform.variant),
    );
    if (match === undefined) fail(shown, `${desc.digest} has no image for ${platform.os}/${platform.architecture}${platform.variant ? `/${platform.variant}` : ''}`);
    desc = match;
    doc = readLayoutBlob(dir, desc.digest, shown);
  }
  const config = doc['config'] as { digest?: unknown } | undefined;
  if (typeof config?.digest !== 'string') fail(shown, `${desc.digest} is not an image manifest`);
  return { digest: desc.digest, config: readLayoutBlob(dir, config.digest, shown) };
}
