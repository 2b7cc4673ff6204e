/**
 * Pure pieces of referrers discovery: the fallback tag schema's tag name, merging a
 * descriptor into a referrers index without dropping anyone else's entry, client-side
 * artifactType filtering, and `Link` header pagination.
 */
import { RegistryError } from './errors.js';
import { MediaType, asDescriptor, referrerDescriptor, type Descriptor, type ImageIndex } from './media-types.js';

/** What we know of a repository's referrers API. */
export type ReferrersCapability = 'unknown' | 'supported' | 'unsupported';

/** Lists the manifests whose `subject` is a given digest (the oras-go `ReferrerLister` shape). */
export interface ReferrerLister {
  referrers(subject: string, options?: { artifactType?: string }): Promise<Descriptor[]>;
}

/**
 * The referrers tag schema (distribution-spec 1.1): `<alg>-<ref>`, the algorithm cut to
 * 32 characters and the encoded part to 64, any character outside `[a-zA-Z0-9._-]`
 * replaced by `-`. For sha256 that is `sha256-<hex>`.
 */
export function referrersTag(digest: string): string {
  const colon = digest.indexOf(':');
  if (colon <= 0) throw new RegistryError(`not a digest: ${JSON.stringify(digest)}`, { code: 'bad-reference', operation: 'referrers.list', reference: digest });
  const clean = (s: string): string => s.replace(/[^a-zA-Z0-9._-]/g, '-');
  return `${clean(digest.slice(0, colon)).slice(0, 32)}-${clean(digest.slice(colon + 1)).slice(0, 64)}`;
}

export function emptyReferrersIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };
}

/**
 * Adds `entry` to an index document, keeping every other field and entry as they were.
 * Returns undefined when an entry with the same digest is already there (nothing to write).
 */
export function mergeReferrer(index: Record<string, unknown>, entry: Descriptor): Record<string, unknown> | undefined {
  const manifests = Array.isArray(index.manifests) ? (index.manifests as unknown[]) : [];
  if (manifests.some((m) => typeof m === 'object' && m !== null && (m as { digest?: unknown }).digest === entry.digest)) return undefined;
  return { ...index, schemaVersion: 2, mediaType: index.mediaType ?? MediaType.OciIndex, manifests: [...manifests, referrerDescriptor(entry)] };
}

/** The well-formed descriptors of an index, deduplicated by digest (first wins). */
export function indexDescriptors(index: unknown): Descriptor[] {
  if (typeof index !== 'object' || index === null) return [];
  const manifests = (index as { manifests?: unknown }).manifests;
  if (!Array.isArray(manifests)) return [];
  const seen = new Set<string>();
  const out: Descriptor[] = [];
  for (const m of manifests) {
    const d = asDescriptor(m);
    if (!d || seen.has(d.digest)) continue;
    seen.add(d.digest);
    out.push(d);
  }
  return out;
}

export function filterByArtifactType(descriptors: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? descriptors : descriptors.filter((d) => d.artifactType === artifactType);
}

/** True when the `OCI-Filters-Applied` header lists the `artifactType` filter. */
export function artifactTypeFilterApplied(header: string | null): boolean {
  return (header ?? '').split(',').some((f) => f.trim().toLowerCase() === 'artifacttype');
}

/** The `rel="next"` target of a `Link` header, resolved against the request URL. */
export function nextLink(header: string | null, base: string): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*(.*)$/.exec(part);
    if (!m) continue;
    const params = m[2] as string;
    if (/(?:^|;)\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?\s*(?:;|$)/i.test(params)) {
      try {
        return new URL(m[1] as string, base);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The artifact type of a manifest as a referrers list reports it: `artifactType`, else the config media type. */
export function artifactTypeOf(manifest: { artifactType?: unknown; config?: unknown }): string | undefined {
  if (typeof manifest.artifactType === 'string' && manifest.artifactType !== '') return manifest.artifactType;
  const config = manifest.config as { mediaType?: unknown } | undefined;
  return typeof config?.mediaType === 'string' && config.mediaType !== '' ? config.mediaType : undefined;
}
