// Key identity shared by signing and verification (pure).
//
// keyId = lower-case hex sha256 of the public key's DER SubjectPublicKeyInfo. Chosen
// because it is derived from the key alone (no registry, no file name), stable across PEM
// formatting, and the same for a private key and its public half. It is written as the
// bundle's verificationMaterial.publicKey.hint and the DSSE signature's keyid, and the
// verifier looks the signing key up by it.

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
