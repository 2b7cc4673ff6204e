// Key identity shared by signing and verification (pure).
//
// keyId = lower-case hex sha256 of the public key's DER SubjectPublicKeyInfo. Chosen
// because it is derived from the key alone (no registry, no file name), stable across PEM
// formatting, and the same for a private key and its public half. It is written as the
// bundle's verificationMaterial.publicKey.hint (the DSSE signature's keyid stays empty, as
// cosign's verifier skips signatures whose keyid is not its own, which is empty). cosign
// writes the same sha256 in base64 as its hint; keyIdOfHint reads both.

import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { AttestationError } from './errors.js';

/** Public KeyObject from a KeyObject (public or private) or a PEM string. */
export function toPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') {
    return key.type === 'public' ? key : createPublicKey(key);
  }
  try {
    return createPublicKey(key);
  } catch (cause) {
    throw new AttestationError('malformed-key', 'not a PEM public key', { cause });
  }
}

/** Throws `unsupported-key` unless the key is ECDSA P-256. */
export function assertP256(key: KeyObject): void {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `ec ${key.asymmetricKeyDetails?.namedCurve ?? '?'}` : String(key.asymmetricKeyType);
    throw new AttestationError('unsupported-key', `expected an ECDSA P-256 key, got ${kind}`);
  }
}

/** sha256 hex of the SPKI DER of the (public half of the) key. */
export function keyId(key: KeyObject | string): string {
  const der = toPublicKey(key).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** The key id (of `ids`) a bundle's key hint names: our hex sha256, or cosign's base64 of it. */
export function keyIdOfHint(hint: string, ids: readonly string[]): string | undefined {
  if (hint === '') return undefined;
  if (ids.includes(hint.toLowerCase())) return hint.toLowerCase();
  if (/^[A-Za-z0-9+/]{43}=$/.test(hint)) {
    const hex = Buffer.from(hint, 'base64').toString('hex');
    if (ids.includes(hex)) return hex;
  }
  return undefined;
}
