// Local signing keys: ECDSA P-256, private key as PKCS#8 PEM (optionally encrypted with
// a password: PBES2 with aes-256-cbc, as node:crypto/OpenSSL writes it), public key as
// SPKI PEM. This file does I/O (key files); pure key helpers live in keyid.ts.

import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import { USER_FILE_LIMITS, UserFileError, readUserFile } from '../common/index.js';
import { decryptCosignKey, isCosignKeyPem } from './cosign-key.js';
import { AttestationError } from './errors.js';
import { assertP256, keyId, toPublicKey } from './keyid.js';

export interface KeyPair {
  privateKey: KeyObject;
  publicKey: KeyObject;
}

export function generateKeyPair(): KeyPair {
  return generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** PKCS#8 PEM; "ENCRYPTED PRIVATE KEY" (aes-256-cbc) when a non-empty password is given. */
export function exportPrivateKeyPem(privateKey: KeyObject, password?: string): string {
  if (privateKey.type !== 'private') throw new AttestationError('invalid-argument', 'not a private key');
  if (password !== undefined && password !== '') {
    return privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: password }) as string;
  }
  return privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
}

/** SPKI PEM of the public half of the key. */
export function exportPublicKeyPem(key: KeyObject): string {
  return toPublicKey(key).export({ type: 'spki', format: 'pem' }) as string;
}

export interface WrittenKeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  keyId: string;
}

/**
 * Writes `<prefix>.key` (created with mode 0600) and `<prefix>.pub` (0644). Refuses to
 * overwrite either (`key-exists`); when it fails, it leaves neither file behind.
 */
export async function writeKeyPair(
  prefix: string,
  options: { password?: string; keyPair?: KeyPair } = {},
): Promise<WrittenKeyPair> {
  const pair = options.keyPair ?? generateKeyPair();
  assertP256(pair.privateKey);
  const privateKeyPath = `${prefix}.key`;
  const publicKeyPath = `${prefix}.pub`;
  const privatePem = exportPrivateKeyPem(pair.privateKey, options.password);
  const publicPem = exportPublicKeyPem(pair.publicKey);

  const created: string[] = [];
  const handles: FileHandle[] = [];
  try {
    // 'wx' = O_CREAT|O_EXCL: never follows an existing file or symlink, never overwrites.
    handles.push(await createExclusive(privateKeyPath, 0o600));
    created.push(privateKeyPath);
    handles.push(await createExclusive(publicKeyPath, 0o644));
    created.push(publicKeyPath);
    await handles[0]?.writeFile(privatePem);
    await handles[1]?.writeFile(publicPem);
  } catch (err) {
    await Promise.all(handles.map((h) => h.close().catch(() => undefined)));
    await Promise.all(created.map((p) => unlink(p).catch(() => undefined)));
    throw err;
  }
  await Promise.all(handles.map((h) => h.close()));
  return { privateKeyPath, publicKeyPath, keyId: keyId(pair.publicKey) };
}

async function createExclusive(path: string, mode: number): Promise<FileHandle> {
  try {
    return await open(path, 'wx', mode);
  } catch (cause) {
    if (errno(cause) === 'EEXIST') throw new AttestationError('key-exists', `${path} already exists; refusing to overwrite it`, { cause });
    throw new AttestationError('key-io', `cannot create ${path}: ${String((cause as Error).message)}`, { cause });
  }
}

/** True when the PEM private key needs a password (PKCS#8 / SEC1 encrypted, or cosign's format). */
export function isEncryptedKeyPem(pem: string): boolean {
  return isCosignKeyPem(pem) || pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
}

/**
 * Parses a private key (pure), checking it is ECDSA P-256: PKCS#8 or SEC1 PEM (encrypted
 * with a non-empty password, or not), or cosign's encrypted `cosign.key` (whose password
 * may be empty, as cosign allows).
 */
export function parsePrivateKeyPem(pem: string, password?: string, source = 'private key'): KeyObject {
  if (isCosignKeyPem(pem)) {
    if (password === undefined) throw new AttestationError('password-required', `${source} is encrypted; a password is required`);
    const key = decryptCosignKey(pem, password, source);
    assertP256(key);
    return key;
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new AttestationError('malformed-key', `${source} is not a PEM private key`);
  }
  const encrypted = pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
  if (encrypted && (password === undefined || password === '')) {
    throw new AttestationError('password-required', `${source} is encrypted; a password is required`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: password } : { key: pem, format: 'pem' });
  } catch (cause) {
    if (encrypted) throw new AttestationError('wrong-password', `cannot decrypt ${source}: wrong password`, { cause });
    throw new AttestationError('malformed-key', `${source} cannot be parsed`, { cause });
  }
  assertP256(key);
  return key;
}

/** Reads and parses a private key file. */
export async function loadPrivateKey(path: string, password?: string): Promise<KeyObject> {
  return parsePrivateKeyPem(await readKeyFile(path), password, path);
}

/** Whether the private key file needs a password (so that the CLI knows to ask for one). */
export async function privateKeyFileIsEncrypted(path: string): Promise<boolean> {
  return isEncryptedKeyPem(await readKeyFile(path));
}

/** Reads a SPKI PEM public key file; checks it is ECDSA P-256. */
export async function loadPublicKey(path: string): Promise<KeyObject> {
  const key = toPublicKey(await readKeyFile(path));
  assertP256(key);
  return key;
}

/** A key, certificate or identity token file: regular, of bounded size (a FIFO or a
 * device is refused, not read for ever; common/user-file.ts). */
async function readKeyFile(path: string): Promise<string> {
  try {
    return readUserFile(path, { what: `key file ${path}`, maxBytes: USER_FILE_LIMITS.key }).toString('utf8');
  } catch (cause) {
    if (cause instanceof UserFileError && cause.code === 'not-found') {
      throw new AttestationError('key-not-found', `key file ${path} does not exist`, { cause });
    }
    const why = cause instanceof UserFileError ? cause.message : `cannot read key file ${path}: ${String((cause as Error).message)}`;
    throw new AttestationError('key-io', why, { cause });
  }
}

function errno(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}
