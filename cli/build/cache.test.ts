import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { cacheRequest, parseCacheEntries } from './cache.js';
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

  it('a local cache is refused as not served yet (exit 1), saying why and what works', () => {
    expect(() => parseCacheEntries(['type=local,src=d'], '--cache-from')).toThrow(ExportNotSupportedError);
    expect(() => parseCacheEntries(['type=local,dest=d'], '--cache-to')).toThrow(/--cache-to type=local: not supported by tracebuild yet .*content store.*type=inline/);
  });

  it('no flags: no cache options at all', () => {
    expect(cacheRequest({})).toEqual({});
    expect(cacheRequest({ cacheTo: ['type=inline'] })).toEqual({ cache: { imports: [], exports: [{ type: 'inline', attrs: {} }] } });
  });
});
