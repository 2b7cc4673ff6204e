// cosign's encrypted private key file (`cosign generate-key-pair` writes `cosign.key`), read
// so that `--key cosign.key` signs as cosign would. The format, from cosign's
// pkg/cosign/keys.go and go-securesystemslib's `encrypted` package:
//
//   -----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----      (older cosign: ENCRYPTED COSIGN PRIVATE KEY)
//   base64 of the JSON
//     { "kdf":    { "name": "scrypt", "params": { "N": 65536, "r": 8, "p": 1 }, "salt": b64 },
//       "cipher": { "name": "nacl/secretbox", "nonce": b64 (24 bytes) },
//       "ciphertext": b64 }
//   -----END ENCRYPTED SIGSTORE PRIVATE KEY-----
//
// key = scrypt(password, salt, N, r, p, 32 bytes); plaintext = secretbox-open(ciphertext,
// nonce, key) (XSalsa20-Poly1305) = the PKCS#8 DER of the private key. The password may be
// empty: cosign encrypts with an empty password when COSIGN_PASSWORD is empty.

import { createPrivateKey, scryptSync, type KeyObject } from 'node:crypto';
import { secretbox } from '@noble/ciphers/salsa.js';
import { AttestationError } from './errors.js';

const LABELS = ['ENCRYPTED SIGSTORE PRIVATE KEY', 'ENCRYPTED COSIGN PRIVATE KEY'];
/** Refuse scrypt costs that would take minutes or gigabytes (cosign writes N = 2^15 or 2^16). */
const MAX_SCRYPT_N = 1 << 20;

/** True when the PEM text is cosign's encrypted key format. */
export function isCosignKeyPem(pem: string): boolean {
  return LABELS.some((label) => pem.includes(`-----BEGIN ${label}-----`));
}

interface EncryptedKeyDoc {
  kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
  cipher?: { name?: unknown; nonce?: unknown };
  ciphertext?: unknown;
}

function pemBody(pem: string, source: string): Buffer {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(pem);
  if (m === null || !LABELS.includes(m[1] ?? '')) throw new AttestationError('malformed-key', `${source} is not a cosign private key`);
  return Buffer.from((m[2] ?? '').replace(/\s+/g, ''), 'base64');
}

function b64(value: unknown, what: string, source: string): Buffer {
  if (typeof value !== 'string' || value === '') throw new AttestationError('malformed-key', `${source}: the cosign key has no ${what}`);
  return Buffer.from(value, 'base64');
}

function positiveInt(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** Decrypts cosign's encrypted key format with `password` (which may be empty). */
export function decryptCosignKey(pem: string, password: string, source = 'private key'): KeyObject {
  let doc: EncryptedKeyDoc;
  try {
    doc = JSON.parse(pemBody(pem, source).toString('utf8')) as EncryptedKeyDoc;
  } catch (cause) {
    if (cause instanceof AttestationError) throw cause;
    throw new AttestationError('malformed-key', `${source}: the cosign key is not JSON inside its PEM`, { cause });
  }
  const kdf = doc.kdf ?? {};
  const N = positiveInt(kdf.params?.N);
  const r = positiveInt(kdf.params?.r);
  const p = positiveInt(kdf.params?.p);
  if (kdf.name !== 'scrypt' || N === undefined || r === undefined || p === undefined || (N & (N - 1)) !== 0 || N > MAX_SCRYPT_N || r > 32 || p > 16) {
    throw new AttestationError('malformed-key', `${source}: unsupported key derivation in the cosign key (expected scrypt with sane parameters)`);
  }
  if (doc.cipher?.name !== 'nacl/secretbox') {
    throw new AttestationError('malformed-key', `${source}: unsupported cipher in the cosign key (expected nacl/secretbox)`);
  }
  const salt = b64(kdf.salt, 'salt', source);
  const nonce = b64(doc.cipher.nonce, 'nonce', source);
  const ciphertext = b64(doc.ciphertext, 'ciphertext', source);
  if (nonce.length !== 24) throw new AttestationError('malformed-key', `${source}: the cosign key's nonce is not 24 bytes`);
  const key = scryptSync(Buffer.from(password, 'utf8'), salt, 32, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 });
  let plain: Uint8Array;
  try {
    plain = secretbox(key, nonce).open(ciphertext);
  } catch (cause) {
    throw new AttestationError('wrong-password', `cannot decrypt ${source}: wrong password`, { cause });
  }
  try {
    return createPrivateKey({ key: Buffer.from(plain), format: 'der', type: 'pkcs8' });
  } catch (cause) {
    throw new AttestationError('malformed-key', `${source}: the decrypted cosign key is not a PKCS#8 private key`, { cause });
  }
}
