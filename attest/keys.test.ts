import { execFileSync } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  exportPrivateKeyPem,
  exportPublicKeyPem,
  generateKeyPair,
  keyId,
  loadPrivateKey,
  loadPublicKey,
  parsePrivateKeyPem,
  writeKeyPair,
  type AttestationErrorCode,
} from './index.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracebuild-keys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<AttestationErrorCode | string> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return (err as { code?: string }).code ?? 'no code';
  }
  return 'no error';
}

// DER of the AES-256-CBC OID 2.16.840.1.101.3.4.1.42
const AES_256_CBC_OID = Buffer.from('060960864801650304012a', 'hex');

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

describe('keys', () => {
  it('generates ECDSA P-256 keys', () => {
    const { privateKey, publicKey } = generateKeyPair();
    expect(privateKey.asymmetricKeyType).toBe('ec');
    expect(privateKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(publicKey.type).toBe('public');
  });

  it('exports PKCS#8 and SPKI PEM', () => {
    const { privateKey, publicKey } = generateKeyPair();
    expect(exportPrivateKeyPem(privateKey)).toMatch(/^-----BEGIN PRIVATE KEY-----\n/);
    expect(exportPublicKeyPem(publicKey)).toMatch(/^-----BEGIN PUBLIC KEY-----\n/);
    expect(exportPublicKeyPem(privateKey)).toBe(exportPublicKeyPem(publicKey));
  });

  it('encrypts the private key with aes-256-cbc when a password is given', () => {
    const pem = exportPrivateKeyPem(generateKeyPair().privateKey, 'pw');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(pemBody(pem).includes(AES_256_CBC_OID)).toBe(true);
  });

  it('keyId is the sha256 hex of the SPKI DER, the same for every form of the key', () => {
    const { privateKey, publicKey } = generateKeyPair();
    const expected = createHash('sha256').update(pemBody(exportPublicKeyPem(publicKey))).digest('hex');
    expect(keyId(publicKey)).toBe(expected);
    expect(keyId(privateKey)).toBe(expected);
    expect(keyId(exportPublicKeyPem(publicKey))).toBe(expected);
    expect(expected).toMatch(/^[0-9a-f]{64}$/);
  });

  it('writes <prefix>.key with mode 0600 and <prefix>.pub, unencrypted round trip', async () => {
    const prefix = join(dir, 'cosign');
    const written = await writeKeyPair(prefix);
    expect(written.privateKeyPath).toBe(`${prefix}.key`);
    expect(written.publicKeyPath).toBe(`${prefix}.pub`);
    expect((await stat(written.privateKeyPath)).mode & 0o777).toBe(0o600);
    expect((await stat(written.publicKeyPath)).mode & 0o777).toBe(0o644);

    const priv = await loadPrivateKey(written.privateKeyPath);
    const pub = await loadPublicKey(written.publicKeyPath);
    expect(keyId(priv)).toBe(written.keyId);
    expect(keyId(pub)).toBe(written.keyId);
    const sig = sign('sha256', Buffer.from('data'), priv);
    expect(verify('sha256', Buffer.from('data'), pub, sig)).toBe(true);
  });

  it('encrypted round trip; wrong and missing password are told apart', async () => {
    const prefix = join(dir, 'enc');
    const pair = generateKeyPair();
    const written = await writeKeyPair(prefix, { password: 'correct horse', keyPair: pair });
    expect(await readFile(written.privateKeyPath, 'utf8')).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    expect((await stat(written.privateKeyPath)).mode & 0o777).toBe(0o600);

    const priv = await loadPrivateKey(written.privateKeyPath, 'correct horse');
    expect(priv.export({ type: 'pkcs8', format: 'der' }).equals(pair.privateKey.export({ type: 'pkcs8', format: 'der' }))).toBe(true);
    expect(await codeOf(loadPrivateKey(written.privateKeyPath, 'wrong'))).toBe('wrong-password');
    expect(await codeOf(loadPrivateKey(written.privateKeyPath))).toBe('password-required');
    expect(await codeOf(loadPrivateKey(written.privateKeyPath, ''))).toBe('password-required');
  });

  it('refuses to overwrite and leaves no partial pair', async () => {
    const prefix = join(dir, 'k');
    await writeKeyPair(prefix);
    const before = await readFile(`${prefix}.key`, 'utf8');
    expect(await codeOf(writeKeyPair(prefix))).toBe('key-exists');
    expect(await readFile(`${prefix}.key`, 'utf8')).toBe(before);

    // Only the .pub exists: the .key must not be left behind either.
    const other = join(dir, 'other');
    await writeFile(`${other}.pub`, 'x');
    expect(await codeOf(writeKeyPair(other))).toBe('key-exists');
    expect(await codeOf(access(`${other}.key`))).toBe('ENOENT');
  });

  it('reports a missing key file', async () => {
    expect(await codeOf(loadPrivateKey(join(dir, 'nope.key')))).toBe('key-not-found');
    expect(await codeOf(loadPublicKey(join(dir, 'nope.pub')))).toBe('key-not-found');
  });

  it('refuses a key "file" that is a FIFO or a device, without reading it', async () => {
    const fifo = join(dir, 'fifo.pub');
    execFileSync('mkfifo', [fifo]);
    await expect(loadPublicKey(fifo)).rejects.toThrow(`key file ${fifo} is a FIFO, not a regular file: refused`);
    await expect(loadPrivateKey('/dev/zero')).rejects.toThrow('key file /dev/zero is a character device, not a regular file: refused');
  });

  it('rejects keys that are not P-256', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    const ed = generateKeyPairSync('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    for (const [name, pair] of [['p384', p384], ['ed25519', ed], ['rsa', rsa]] as const) {
      const path = join(dir, `${name}.key`);
      await writeFile(path, pair.privateKey.export({ type: 'pkcs8', format: 'pem' }));
      expect(await codeOf(loadPrivateKey(path))).toBe('unsupported-key');
      const pubPath = join(dir, `${name}.pub`);
      await writeFile(pubPath, pair.publicKey.export({ type: 'spki', format: 'pem' }));
      expect(await codeOf(loadPublicKey(pubPath))).toBe('unsupported-key');
    }
    expect(await codeOf(writeKeyPair(join(dir, 'bad'), { keyPair: p384 }))).toBe('unsupported-key');
  });

  it('accepts a SEC1 "EC PRIVATE KEY" PEM', () => {
    const { privateKey } = generateKeyPair();
    const sec1 = privateKey.export({ type: 'sec1', format: 'pem' }) as string;
    expect(keyId(parsePrivateKeyPem(sec1))).toBe(keyId(createPublicKey(privateKey)));
  });

  it('rejects text that is not a key', async () => {
    expect(await codeOf(() => parsePrivateKeyPem('hello'))).toBe('malformed-key');
    expect(await codeOf(() => parsePrivateKeyPem('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n'))).toBe('malformed-key');
    const path = join(dir, 'junk.pub');
    await writeFile(path, 'junk');
    expect(await codeOf(loadPublicKey(path))).toBe('malformed-key');
  });
});
