// `--platform os/arch[/variant][,...]`, read as buildx reads it (containerd's normalization:
// `x86_64` is amd64, `aarch64` and `arm64/v8` are arm64, `armhf` is arm/v7, `local` is the
// daemon's own). One platform per build: an image of several (an index) needs an exporter
// that writes one, which dockerd's image store is not (buildx says the same for its docker
// driver), so more than one is refused, saying so.
import type { Platform } from '../contracts.js';
import { UsageError } from '../errors.js';

/** What BuildKit builds for when no platform is asked for (this daemon's own). */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

const ARCH: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', armhf: 'arm', armel: 'arm', i386: '386', i686: '386' };

export function formatPlatform(p: Platform): string {
  return p.variant === undefined ? `${p.os}/${p.architecture}` : `${p.os}/${p.architecture}/${p.variant}`;
}

function bad(value: string, why: string): never {
  throw new UsageError('invalid-platform', `invalid argument "${value}" for "--platform" flag: ${why}`);
}

/** One platform; undefined for `local` (the daemon's own). */
export function parsePlatform(value: string, spec: string): Platform | undefined {
  const s = spec.trim().toLowerCase();
  if (s === 'local') return undefined;
  const parts = s.split('/');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-z0-9_.-]+$/.test(p))) bad(value, `"${spec}" is not os/arch[/variant]`);
  const [os, rawArch, rawVariant] = parts as [string, string, string | undefined];
  const architecture = ARCH[rawArch] ?? rawArch;
  let variant = rawVariant;
  if (rawArch === 'armhf') variant ??= 'v7';
  if (rawArch === 'armel') variant ??= 'v6';
  if (architecture === 'arm64' && variant === 'v8') variant = undefined;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return variant === undefined ? { os, architecture } : { os, architecture, variant };
}

/** The platform of the build (undefined: the daemon's own), from every `--platform` value. */
export function parsePlatformFlags(values: readonly string[]): Platform | undefined {
  const out: (Platform | undefined)[] = [];
  for (const value of values) {
    for (const spec of value.split(',')) {
      const p = parsePlatform(value, spec);
      if (!out.some((q) => (q === undefined ? p === undefined : p !== undefined && formatPlatform(q) === formatPlatform(p)))) out.push(p);
    }
  }
  if (out.length > 1) {
    const names = out.map((p) => (p === undefined ? 'local' : formatPlatform(p))).join(', ');
    throw new UsageError(
      'multi-platform-not-supported',
      `--platform ${names}: a multi-platform image (an image index) is not supported: dockerd's image store holds one platform per image (buildx says "Multi-platform build is not supported for the docker driver"); build each platform with its own --platform and -t`,
    );
  }
  return out[0];
}
