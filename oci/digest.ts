import { createHash } from 'node:crypto';

export type DigestAlgorithm = 'sha256' | 'sha512';

export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

export function algorithmOf(digest: string): DigestAlgorithm | undefined {
  const alg = digest.slice(0, digest.indexOf(':'));
  return alg === 'sha256' || alg === 'sha512' ? alg : undefined;
}

/** True when `data` hashes to `digest` (false for an algorithm this client does not know). */
export function matchesDigest(data: Uint8Array, digest: string): boolean {
  const alg = algorithmOf(digest);
  return alg !== undefined && digestOf(data, alg) === digest;
}
