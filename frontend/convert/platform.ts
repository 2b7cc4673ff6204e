// Platforms as the Dockerfile names them (`FROM --platform=`, the `BUILDPLATFORM` and
// `TARGETPLATFORM` args): `os[/arch[/variant]]`, normalized as containerd does.
import type { Platform } from './types.js';

export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' };

export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

export function parsePlatform(s: string): Platform | undefined {
  const parts = s.toLowerCase().split('/');
  if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === '')) return undefined;
  if (parts.length === 1) return { os: parts[0] as string, architecture: 'amd64' };
  const p: Platform = { os: parts[0] as string, architecture: normalizeArch(parts[1] as string) };
  if (parts[2]) p.variant = parts[2];
  return p;
}

function normalizeArch(a: string): string {
  if (a === 'x86_64' || a === 'x86-64') return 'amd64';
  if (a === 'aarch64') return 'arm64';
  return a;
}
