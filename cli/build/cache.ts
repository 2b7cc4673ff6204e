// `--cache-from` and `--cache-to`, read as `docker buildx build` 0.13 reads them, and what
// the daemon can do with them.
//
//   --cache-from REF                      type=registry,ref=REF (a value with no `=` at all)
//   --cache-from type=registry,ref=REF    the cache (or inline cache) of that image
//   --cache-from type=local,src=DIR[,tag=TAG|digest=DIGEST]
//                                         the cache (or inline cache) in an OCI layout,
//                                         served to the daemon by the session (cache-layout.ts)
//   --cache-to type=registry,ref=REF[,mode=min|max]
//   --cache-to type=inline                the cache metadata written into the image's config
//   --cache-to type=local,dest=DIR        refused before the build (checkCacheExports)
//
// Which cache exporters and importers the daemon has is its own answer: dockerd's own
// BuildKit worker (no containerd image store) exports cache only inline and imports
// registry and local caches; a refusal is said precisely (exports.ts, explainExportRefusal).
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import { collect } from '../commands/command.js';
import type { CacheEntry, DaemonInfo } from '../contracts.js';
import { resolveLocalCacheImport } from './cache-layout.js';
import { ExportNotSupportedError } from './exports.js';
import { splitCsv } from './outputs.js';

export interface CacheFlags {
  cacheFrom?: string[];
  cacheTo?: string[];
}

export function registerCacheOptions(command: Command): void {
  command
    .option('--cache-from <REF|type=registry,ref=REF|type=local,src=DIR>', 'external cache sources: an image reference, type=registry,ref=REF, or type=local,src=DIR[,tag=TAG|digest=DIGEST] (an OCI layout) (repeatable)', collect)
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
    if (e.type === 'local' && flag === '--cache-from' && (e.attrs.src ?? '') === '') throw new UsageError('bad-flag', 'local cache importer requires src');
    if (e.type === 'local' && flag === '--cache-to' && (e.attrs.dest ?? '') === '') throw new UsageError('bad-flag', 'local cache exporter requires dest');
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

/** The imports as the daemon takes them: a local one's layout found (cache-layout.ts). */
export function resolveCacheImports(cache: { imports: CacheEntry[]; exports: CacheEntry[] }, cwd: string): { imports: CacheEntry[]; exports: CacheEntry[] } {
  return { imports: cache.imports.map((e) => (e.type === 'local' ? resolveLocalCacheImport(e, cwd) : e)), exports: cache.exports };
}

/**
 * A local cache export is refused before anything is built, whatever the daemon: BuildKit
 * would write it through the session's content store, which tracebuild serves read-only,
 * and dockerd's own worker has no local cache exporter at all (buildx 0.13 refuses every
 * cache export but inline on its docker driver: "Cache export is not supported for the
 * docker driver"). Refusing here, not at the end of the build, leaves no half-written cache.
 */
export function checkCacheExports(cache: { exports: readonly CacheEntry[] } | undefined, daemon: DaemonInfo): void {
  if (!(cache?.exports ?? []).some((e) => e.type === 'local')) return;
  const why =
    daemon.engine === 'dockerd'
      ? `${daemon.description} has no local cache exporter (dockerd's own BuildKit worker exports cache only inline, into the image: --cache-to type=inline; buildx refuses it on the docker driver too)`
      : `tracebuild does not write a local cache (${daemon.description} would write it through the build's session, whose content store tracebuild serves read-only)`;
  throw new ExportNotSupportedError(`--cache-to type=local: ${why}; to make a local cache for --cache-from type=local, push the image with --cache-to type=inline and copy it with oras copy --to-oci-layout REF DIR:latest`);
}
