import { describe, expect, it } from 'vitest';
import { MediaType, type Descriptor } from './media-types.js';
import { artifactTypeFilterApplied, artifactTypeOf, indexDescriptors, mergeReferrer, nextLink, referrersTag } from './referrers.js';

const hex = 'ab'.repeat(32);

describe('referrers tag schema', () => {
  it('names the index tag <alg>-<hex>', () => {
    expect(referrersTag(`sha256:${hex}`)).toBe(`sha256-${hex}`);
    expect(referrersTag(`sha512:${'c'.repeat(128)}`)).toBe(`sha512-${'c'.repeat(64)}`);
  });

  const mine: Descriptor = { mediaType: MediaType.OciManifest, digest: `sha256:${'1'.repeat(64)}`, size: 10, artifactType: 'a/b' };
  const theirs = { mediaType: MediaType.OciManifest, digest: `sha256:${'2'.repeat(64)}`, size: 20, artifactType: 'x/y', annotations: { k: 'v' }, 'vendor.field': 1 };

  it('merges a descriptor keeping other entries and fields', () => {
    const index = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [theirs], annotations: { keep: 'me' } };
    const merged = mergeReferrer(index, mine);
    expect(merged).toEqual({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [theirs, mine], annotations: { keep: 'me' } });
    expect(index.manifests).toHaveLength(1); // input untouched
  });

  it('does not add a duplicate', () => {
    expect(mergeReferrer({ schemaVersion: 2, manifests: [theirs, mine] }, { ...mine, annotations: { other: 'x' } })).toBeUndefined();
  });

  it('lists well-formed descriptors once', () => {
    expect(indexDescriptors({ manifests: [mine, { digest: 'x' }, mine, theirs, null] })).toEqual([mine, theirs]);
    expect(indexDescriptors('nope')).toEqual([]);
  });

  it('takes the artifact type from artifactType, else the config media type', () => {
    expect(artifactTypeOf({ artifactType: 'a/b', config: { mediaType: 'c/d' } })).toBe('a/b');
    expect(artifactTypeOf({ config: { mediaType: 'c/d' } })).toBe('c/d');
    expect(artifactTypeOf({})).toBeUndefined();
  });
});

describe('headers', () => {
  it('reads OCI-Filters-Applied', () => {
    expect(artifactTypeFilterApplied('artifactType')).toBe(true);
    expect(artifactTypeFilterApplied('annotation, artifactType')).toBe(true);
    expect(artifactTypeFilterApplied(null)).toBe(false);
    expect(artifactTypeFilterApplied('annotation')).toBe(false);
  });

  it('follows rel="next" Link headers', () => {
    const base = 'http://127.0.0.1:5000/v2/a/referrers/sha256:x';
    expect(nextLink('</v2/a/referrers/sha256:x?n=2&last=b>; rel="next"', base)?.toString()).toBe('http://127.0.0.1:5000/v2/a/referrers/sha256:x?n=2&last=b');
    expect(nextLink('<http://h/prev>; rel="prev", <http://h/next?a=1,2>; rel=next', base)?.toString()).toBe('http://h/next?a=1,2');
    expect(nextLink('<http://h/x>; rel="prev"', base)).toBeUndefined();
    expect(nextLink(null, base)).toBeUndefined();
  });
});
