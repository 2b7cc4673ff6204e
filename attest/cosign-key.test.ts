// cosign's formats, read with files the real cosign made (testdata/cosign/README.md): its
// encrypted private key, and a bundle `cosign attest-blob --new-bundle-format` wrote.
import { createHash, createPublicKey, sign, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  decryptCosignKey,
  isAttestationError,
  isCosignKeyPem,
  keyId,
  keyIdOfHint,
  loadPrivateKey,
  parsePrivateKeyPem,
  signStatement,
  verifyBundle,
} from './index.js';

const dir = join(import.meta.dirname, '..', 'testdata', 'cosign');
const read = (name: string): string => readFileSync(join(dir, name), 'utf8');
const ARTIFACT_DIGEST = `sha256:${createHash('sha256').update(readFileSync(join(dir, 'artifact.txt'))).digest('hex')}`;

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isAttestationError(err) ? err.code : `not an AttestationError: ${String(err)}`;
  }
}

/** The private key signs what cosign.pub verifies: it is the key cosign generated. */
function pairs(privatePem: string, publicPem: string, password: string): boolean {
  const key = parsePrivateKeyPem(privatePem, password, 'cosign.key');
  const data = Buffer.from('tracebuild');
  return verify('sha256', data, createPublicKey(publicPem), sign('sha256', data, key));
}

describe("cosign's encrypted private key", () => {
  it('is recognised, and decrypts with COSIGN_PASSWORD to the key of cosign.pub', () => {
    expect(isCosignKeyPem(read('cosign.key'))).toBe(true);
    expect(isCosignKeyPem(read('cosign.pub'))).toBe(false);
    expect(pairs(read('cosign.key'), read('cosign.pub'), 'tracebuild-test')).toBe(true);
  });

  it('an empty password is a password (cosign encrypts with it)', () => {
    expect(pairs(read('empty-password.key'), read('empty-password.pub'), '')).toBe(true);
    // Absent is not empty: the caller must ask.
    expect(codeOf(() => parsePrivateKeyPem(read('empty-password.key'), undefined))).toBe('password-required');
  });

  it('a wrong password, or a damaged file, is named as such', async () => {
    expect(codeOf(() => decryptCosignKey(read('cosign.key'), 'not the password'))).toBe('wrong-password');
    expect(codeOf(() => parsePrivateKeyPem(read('cosign.key'), ''))).toBe('wrong-password');
    const pem = read('cosign.key');
    const body = pem.split('\n').filter((l) => !l.startsWith('-----')).join('');
    const doc = JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as { kdf: { params: { N: number } } };
    doc.kdf.params.N = 3; // not a power of two
    const bad = `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${Buffer.from(JSON.stringify(doc)).toString('base64')}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`;
    expect(codeOf(() => decryptCosignKey(bad, 'tracebuild-test'))).toBe('malformed-key');
    await expect(loadPrivateKey(join(dir, 'cosign.key'), 'tracebuild-test')).resolves.toMatchObject({ asymmetricKeyType: 'ec' });
  });
});

describe("cosign's bundles", () => {
  const cosignPub = read('cosign.pub');
  const bundle = read('attest-blob.sigstore.json');

  it("cosign's key hint (base64 of the SPKI sha256) names the same key as our hex key id", () => {
    const hint = (JSON.parse(bundle) as { verificationMaterial: { publicKey: { hint: string } } }).verificationMaterial.publicKey.hint;
    const id = keyId(cosignPub);
    expect(keyIdOfHint(hint, [id])).toBe(id);
    expect(keyIdOfHint(id, [id])).toBe(id);
    expect(keyIdOfHint(hint, ['0'.repeat(64)])).toBeUndefined();
  });

  it('a bundle cosign attest-blob wrote (Statement v0.1, no DSSE keyid) verifies with cosign.pub', () => {
    const verified = verifyBundle(bundle, { publicKeys: [cosignPub], expectedSubjectDigest: ARTIFACT_DIGEST, predicateTypes: 'any' });
    expect(verified.predicateType).toBe('https://example.com/cosign-test/v1');
    expect(verified.statement._type).toBe('https://in-toto.io/Statement/v0.1');
    expect(verified.signer).toEqual({ kind: 'key', keyId: keyId(cosignPub) });
    expect(codeOf(() => verifyBundle(bundle, { publicKeys: [read('empty-password.pub')], expectedSubjectDigest: ARTIFACT_DIGEST, predicateTypes: 'any' }))).toBe('unknown-key');
  });

  it('what we sign with cosign.key has the hint where the bundle format puts it and no DSSE keyid', async () => {
    const privateKey = parsePrivateKeyPem(read('cosign.key'), 'tracebuild-test');
    const signed = await signStatement(
      { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'artifact.txt', digest: { sha256: ARTIFACT_DIGEST.slice(7) } }], predicateType: 'https://example.com/p/v1', predicate: {} },
      { privateKey },
    );
    expect(signed.verificationMaterial.publicKey?.hint).toBe(keyId(cosignPub));
    expect(signed.dsseEnvelope?.signatures[0]?.keyid ?? '').toBe('');
  });
});
