// `--cache-from` and `--cache-to`, read as `docker buildx build` 0.13 reads them, and what
// the daemon can do with them.
//
//   --cache-from REF                      type=registry,ref=REF (a value with no `=` at all)
//   --cache-from type=registry,ref=REF    the cache (or inline cache) of that image
//   --cache-to type=registry,ref=REF[,mode=min|max]
//   --cache-to type=inline                the cache metadata written into the image's config
//   type=local,src=DIR / dest=DIR         refused: BuildKit reads and writes a local cache
//                                         through a content store the client serves in the
//                                         session, which tracebuild does not serve yet
//
// Which cache exporters and importers the daemon has is its own answer: dockerd's own
// BuildKit worker (no containerd image store) exports cache only inline and imports
// registry and local caches; a refusal is said precisely (exports.ts, explainExportRefusal).
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { collect } from '../commands/command.js';
import type { CacheEntry } from '../contracts.js';
import { ExportNotSupportedError } from './exports.js';
import { splitCsv } from './outputs.js';

export interface CacheFlags {
  cacheFrom?: string[];
  cacheTo?: string[];
}

export function registerCacheOptions(command: Command): void {
  command
    .option('--cache-from <REF|type=registry,ref=REF>', 'external cache sources: an image reference, or type=registry,ref=REF (repeatable)', collect)
    .option('--cache-to <type=inline|type=registry,ref=REF[,mode=min|max]>', 'cache export destinations (repeatable); dockerd without the containerd image store exports cache only inline', collect);
}

/** One flag's values as buildx parses them (a value of plain references: one registry entry each). */
export function parseCacheEntries(values: readonly string[], flag: '--cache-from' | '--cache-to'): CacheEntry[] {
  const out: CacheEntry[] = [];
  for (const value of values) {
    const fields = splitCsv(value);
    if (fields.every((f) => !f.includes('='))) {
      for (const ref of fields) out.push({ type: 'registry', attrs: { ref } });
      continue;
    }
    const entry: CacheEntry = { type: '', attrs: {} };
    for (const field of fields) {
      const eq = field.indexOf('=');
      if (eq < 0) throw new UsageError('bad-flag', `invalid argument "${value}" for "${flag}" flag: invalid value ${field}`);
      const key = field.slice(0, eq).toLowerCase();
      if (key === 'type') entry.type = field.slice(eq + 1);
      else entry.attrs[key] = field.slice(eq + 1);
    }
    if (entry.type === '') throw new UsageError('bad-flag', `invalid argument "${value}" for "${flag}" flag: type required form> "${value}"`);
    out.push(entry);
  }
  for (const e of out) {
    const role = flag === '--cache-from' ? 'importer' : 'exporter';
    if (e.type === 'registry' && (e.attrs.ref ?? '') === '') throw new UsageError('bad-flag', `registry cache ${role} requires ref`);
    if (e.type === 'local') {
      throw new ExportNotSupportedError(
        `${flag} type=local: not supported by tracebuild yet (BuildKit reads and writes a local cache through a content store the client serves in the build's session, which tracebuild does not serve); use type=registry${flag === '--cache-to' ? ' (on a buildkitd or the containerd image store) or type=inline' : ''}`,
      );
    }
    if (flag === '--cache-from' && e.type === 'inline') throw new UsageError('bad-flag', '--cache-from type=inline: inline cache is imported from its image: --cache-from type=registry,ref=IMAGE');
  }
  return out;
}

/** The request's cache fields (only those given). */
export function cacheRequest(flags: CacheFlags): { cache?: { imports: CacheEntry[]; exports: CacheEntry[] } } {
  const imports = parseCacheEntries(flags.cacheFrom ?? [], '--cache-from');
  const exports = parseCacheEntries(flags.cacheTo ?? [], '--cache-to');
  return imports.length === 0 && exports.length === 0 ? {} : { cache: { imports, exports } };
}
