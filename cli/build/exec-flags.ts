// The build flags that set what every RUN and base image get, read as buildx reads them:
//   --pull                      base images from the registry, not the daemon's store
//   --add-host HOST:IP          (also HOST=IP) an /etc/hosts line in every RUN (repeatable)
//   --shm-size SIZE             /dev/shm of every RUN: bytes, or with a unit (b k m g t p, 1024-based)
//   --ulimit NAME=SOFT[:HARD]   a resource limit of every RUN (repeatable; -1 = unlimited)
//   --no-cache-filter STAGE     the RUNs of that stage ignore the cache (repeatable, or comma-separated)
import { isIP } from 'node:net';
import { Option, type Command } from 'commander';
import type { BuildExecDefaults } from '../contracts.js';
import { UsageError } from '../errors.js';

/** A repeatable flag's values, in order. */
const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export interface ExecFlags {
  pull?: boolean;
  addHost?: string[];
  shmSize?: string;
  ulimit?: string[];
  /** `--no-cache-filter`: commander reads a `--no-` flag as the negation of `cacheFilter`,
   * so the values arrive under that name, and `true` when the flag is absent. */
  cacheFilter?: string[] | boolean;
}

export function addExecFlags(cmd: Command): Command {
  return cmd
    .option('--pull', 'always resolve base images in their registry, even when the daemon has them')
    .option('--add-host <HOST:IP>', 'add a custom host-to-IP mapping to /etc/hosts of every RUN (repeatable)', collect)
    .option('--shm-size <SIZE>', 'size of /dev/shm for every RUN, e.g. 64m (needs BuildKit v0.10+)')
    .option('--ulimit <NAME=SOFT[:HARD]>', 'a ulimit for every RUN, e.g. nofile=1024:2048 (repeatable; needs BuildKit v0.10+)', collect)
    .addOption(
      new Option('--no-cache-filter <STAGE>', 'do not use the cache for the RUNs of this stage (repeatable)').argParser((value: string, previous: unknown) =>
        collect(value, Array.isArray(previous) ? (previous as string[]) : undefined),
      ),
    );
}

/** The ulimit names Docker knows (its `--ulimit`), as setrlimit resources. */
const ULIMIT_NAMES = new Set(['core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

/** docker's `HOST:IP` (IPv6 after the first colon, optionally in brackets) or `HOST=IP`. */
export function parseAddHost(value: string): { host: string; ip: string } {
  const sep = value.includes('=') ? value.indexOf('=') : value.indexOf(':');
  const host = sep > 0 ? value.slice(0, sep).trim() : '';
  let ip = sep > 0 ? value.slice(sep + 1).trim() : '';
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (host === '' || (isIP(ip) === 0 && ip !== 'host-gateway')) {
    throw new UsageError('bad-flag', `invalid argument "${value}" for "--add-host" flag: expected HOST:IP (or HOST=IP) with an IP address`);
  }
  if (ip === 'host-gateway') {
    throw new UsageError('bad-flag', `invalid argument "${value}" for "--add-host" flag: host-gateway is resolved by dockerd's container runtime, not by BuildKit; give the IP address`);
  }
  return { host, ip };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** docker's RAMInBytes: a number with an optional unit (k, kb, kib... 1024-based). */
export function parseShmSize(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtpb]?)(?:i?b)?$/i.exec(value.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new UsageError('bad-flag', `invalid argument "${value}" for "--shm-size" flag: expected a size such as 64m or 1g`);
  }
  return bytes;
}

/** docker's `NAME=SOFT[:HARD]` (HARD defaults to SOFT). */
export function parseUlimit(value: string): { name: string; soft: number; hard: number } {
  const bad = (why: string): never => {
    throw new UsageError('bad-flag', `invalid argument "${value}" for "--ulimit" flag: ${why}`);
  };
  const eq = value.indexOf('=');
  if (eq <= 0) bad('expected NAME=SOFT[:HARD]');
  const name = value.slice(0, eq);
  if (!ULIMIT_NAMES.has(name)) bad(`unknown ulimit "${name}" (one of ${[...ULIMIT_NAMES].join(', ')})`);
  const limits = value.slice(eq + 1).split(':');
  if (limits.length > 2 || !limits.every((l) => /^-?\d+$/.test(l))) bad('limits must be integers: SOFT or SOFT:HARD');
  const soft = Number(limits[0]);
  const hard = limits.length === 2 ? Number(limits[1]) : soft;
  if (!Number.isSafeInteger(soft) || !Number.isSafeInteger(hard)) bad('limits are too large');
  if (soft > hard && hard !== -1) bad(`soft limit ${soft} is above the hard limit ${hard}`);
  return { name, soft, hard };
}

/** The converter's settings from the flags; undefined when none was given. */
export function execDefaults(flags: ExecFlags): BuildExecDefaults | undefined {
  const out: BuildExecDefaults = {};
  if (flags.pull === true) out.pull = true;
  if (flags.addHost !== undefined) out.extraHosts = flags.addHost.map(parseAddHost);
  if (flags.shmSize !== undefined) out.shmSize = parseShmSize(flags.shmSize);
  if (flags.ulimit !== undefined) out.ulimits = flags.ulimit.map(parseUlimit);
  if (Array.isArray(flags.cacheFilter)) {
    const stages = flags.cacheFilter.flatMap((v) => v.split(',')).map((s) => s.trim()).filter((s) => s !== '');
    if (stages.length === 0) throw new UsageError('bad-flag', '"--no-cache-filter" needs a stage name');
    out.noCacheFilter = stages;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
