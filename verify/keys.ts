// The public keys a verification trusts: each key file loaded once, by key id.
import type { KeyObject } from 'node:crypto';
import { resolve } from 'node:path';

export interface TrustedKey {
  id: string;
  key: KeyObject;
  path: string;
}

/** The public key files as trusted keys (each once, by key id). */
export async function loadTrustedKeys(keyFiles: readonly string[], cwd: string): Promise<TrustedKey[]> {
  const attest = await import('../attest/index.js');
  const trusted: TrustedKey[] = [];
  for (const path of keyFiles) {
    const key = await attest.loadPublicKey(resolve(cwd, path));
    const id = attest.keyId(key);
    if (!trusted.some((k) => k.id === id)) trusted.push({ id, key, path });
  }
  return trusted;
}

