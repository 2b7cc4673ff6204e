import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { cacheRequest, checkCacheExports, parseCacheEntries } from './cache.js';
import { ExportNotSupportedError } from './exports.js';

describe('--cache-from / --cache-to as buildx 0.13 reads them', () => {
  it('plain references are registry caches, one per field', () => {
    expect(parseCacheEntries(['r/a:1', 'r/b:1,r/c:1'], '--cache-from')).toEqual([
      { type: 'registry', attrs: { ref: 'r/a:1' } },
      { type: 'registry', attrs: { ref: 'r/b:1' } },
      { type: 'registry', attrs: { ref: 'r/c:1' } },
    ]);
  });

  it('CSV entries: type apart, the other keys as attributes (lower-cased)', () => {
    expect(parseCacheEntries(['type=registry,ref=r/a:cache,Mode=max'], '--cache-to')).toEqual([{ type: 'registry', attrs: { ref: 'r/a:cache', mode: 'max' } }]);
    expect(parseCacheEntries(['type=inline'], '--cache-to')).toEqual([{ type: 'inline', attrs: {} }]);
  });

  it("buildx's refusals, as usage errors", () => {
    expect(() => parseCacheEntries(['ref=r/a'], '--cache-from')).toThrow(/type required form> "ref=r\/a"/);
    expect(() => parseCacheEntries(['type=registry,foo'], '--cache-to')).toThrow(/invalid value foo/);
    expect(() => parseCacheEntries(['type=registry'], '--cache-to')).toThrow('registry cache exporter requires ref');
    expect(() => parseCacheEntries(['type=registry,mode=max'], '--cache-from')).toThrow('registry cache importer requires ref');
    expect(() => parseCacheEntries(['type=registry'], '--cache-from')).toThrow(UsageError);
  });

  it('a local cache needs its directory, as BuildKit says', () => {
    expect(parseCacheEntries(['type=local,src=d,tag=v1'], '--cache-from')).toEqual([{ type: 'local', attrs: { src: 'd', tag: 'v1' } }]);
    expect(() => parseCacheEntries(['type=local'], '--cache-from')).toThrow('local cache importer requires src');
    expect(() => parseCacheEntries(['type=local,src=d'], '--cache-to')).toThrow('local cache exporter requires dest');
  });

  it('a local cache export is refused before the build, naming the daemon (exit 1)', () => {
    const exports = parseCacheEntries(['type=local,dest=d'], '--cache-to');
    const dockerd = { engine: 'dockerd', description: "dockerd 26.1.5's BuildKit (v0.13.x)" } as const;
    expect(() => checkCacheExports({ exports }, dockerd)).toThrow(ExportNotSupportedError);
    expect(() => checkCacheExports({ exports }, dockerd)).toThrow(/^--cache-to type=local: dockerd 26\.1\.5's BuildKit \(v0\.13\.x\) has no local cache exporter \(.*--cache-to type=inline.*oras copy --to-oci-layout/);
    expect(() => checkCacheExports({ exports }, { engine: 'buildkitd', description: 'buildkitd v0.13.2' })).toThrow(/^--cache-to type=local: tracebuild does not write a local cache \(buildkitd v0\.13\.2 .*read-only\)/);
    expect(() => checkCacheExports({ exports: parseCacheEntries(['type=inline'], '--cache-to') }, dockerd)).not.toThrow();
    expect(() => checkCacheExports(undefined, dockerd)).not.toThrow();
  });

  it('no flags: no cache options at all', () => {
    expect(cacheRequest({})).toEqual({});
    expect(cacheRequest({ cacheTo: ['type=inline'] })).toEqual({ cache: { imports: [], exports: [{ type: 'inline', attrs: {} }] } });
  });
});
