// Keyless signing through @sigstore/sign (Fulcio signer, Rekor and TSA witnesses) against the
// @sigstore/mock services on 127.0.0.1, and verification with their trusted root: the
// identity, the transparency-log entry and the RFC 3161 timestamp.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityToken, startSigstoreServices, type SigstoreServices } from '../test/helpers/sigstore-services.js';
import { buildBundleTrust, isAttestationError, signStatement, verifyBundle, type Statement } from './index.js';

const DIGEST = `sha256:${createHash('sha256').update('image').digest('hex')}`;
const ISSUER = 'https://token.actions.example.com';
const WHO = 'https://example.com/ci/builder@refs/heads/main';
const statement: Statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: '127.0.0.1:5000/app', digest: { sha256: DIGEST.slice(7) } }],
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: { buildDefinition: { buildType: 'x', externalParameters: {} }, runDetails: { builder: { id: 'x' } } },
};

function codeOf(fn: () => unknown): string {
  try {
    fn();
    return 'no error';
  } catch (err) {
    return isAttestationError(err) ? `${err.code}: ${err.message}` : `not an AttestationError: ${String(err)}`;
  }
}

describe('keyless signing with @sigstore/mock services', () => {
  let services: SigstoreServices;
  beforeAll(async () => {
    services = await startSigstoreServices();
  });
  afterAll(async () => {
    await services.close();
  });

  async function signed(token = identityToken({ iss: ISSUER, sub: WHO })) {
    return signStatement(statement, {
      method: { kind: 'keyless', fulcioUrl: services.url, identityToken: token },
      rekorUrl: services.url,
      tsaUrl: services.url,
    });
  }

  it('gets a Fulcio certificate, a Rekor entry and a timestamp, and verifies with the trusted root and the identity', async () => {
    const bundle = await signed();
    expect(bundle.verificationMaterial.certificate?.rawBytes).toBeDefined();
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps).toHaveLength(1);
    expect(services.requests).toEqual(expect.arrayContaining(['POST /api/v2/signingCert', 'POST /api/v1/log/entries', 'POST /api/v1/timestamp']));
    const trust = buildBundleTrust({ trustedRoot: JSON.stringify(services.trustedRoot), identity: { subject: WHO, issuer: ISSUER } });
    const verified = verifyBundle(bundle, { trust, expectedSubjectDigest: DIGEST });
    expect(verified.signer).toMatchObject({ kind: 'certificate', authority: 'sigstore', subjectAlternativeNames: [WHO], issuer: ISSUER });
    expect(verified.tlog).toEqual({ entries: 1, checked: true });
    expect(verified.timestamps).toEqual({ count: 1, checked: true });
    expect(verified.times.map((t) => t.source).sort()).toEqual(['timestamp-authority', 'transparency-log']);
    // The log stored what Rekor stores for a DSSE entry: hashes and the signature.
    expect(JSON.parse(services.logged.at(-1) ?? '{}')).toMatchObject({ kind: 'dsse', spec: { payloadHash: { algorithm: 'sha256' } } });
  });

  it('refuses another identity, another issuer, a regexp that does not match; accepts one that does', async () => {
    const bundle = await signed();
    const root = JSON.stringify(services.trustedRoot);
    const check = (identity: Parameters<typeof buildBundleTrust>[0]['identity']) => codeOf(() => verifyBundle(bundle, { trust: buildBundleTrust({ trustedRoot: root, identity }), expectedSubjectDigest: DIGEST }));
    expect(check({ subject: 'https://example.com/ci/other@refs/heads/main', issuer: ISSUER })).toMatch(/^untrusted-identity: the certificate is for https:\/\/example.com\/ci\/builder@refs\/heads\/main, not https:\/\/example.com\/ci\/other/);
    expect(check({ subject: WHO, issuer: 'https://accounts.example.com' })).toMatch(/^untrusted-identity: the certificate's OIDC issuer is https:\/\/token.actions.example.com, not/);
    expect(check({ subjectRegExp: /^https:\/\/example\.com\/ci\/other/, issuer: ISSUER })).toMatch(/^untrusted-identity/);
    expect(check({ subjectRegExp: /\/ci\/builder@refs\/heads\//, issuerRegExp: /^https:\/\/token\.actions\./ })).toBe('no error');
    // a Fulcio certificate needs an issuer policy, as cosign requires
    expect(check({ subject: WHO })).toMatch(/^untrusted-identity: .*needs --certificate-oidc-issuer/);
  });

  it('without the log in the trust, a Fulcio certificate fails (no verified log entry) unless --insecure-ignore-tlog', async () => {
    const bundle = await signed();
    const noLogs = { ...services.trustedRoot, tlogs: [] };
    const identity = { subject: WHO, issuer: ISSUER };
    expect(codeOf(() => verifyBundle(bundle, { trust: buildBundleTrust({ trustedRoot: JSON.stringify(noLogs), identity }), expectedSubjectDigest: DIGEST }))).toMatch(/^tlog-failed/);
    // with the log ignored, the timestamp still says when it signed
    const ignored = verifyBundle(bundle, { trust: buildBundleTrust({ trustedRoot: JSON.stringify(noLogs), identity, ignoreTlog: true }), expectedSubjectDigest: DIGEST });
    expect(ignored.tlog).toEqual({ entries: 1, checked: false });
    expect(ignored.times.map((t) => t.source)).toEqual(['timestamp-authority']);
  });

  it('a bundle whose log entry was altered fails', async () => {
    const bundle = await signed();
    const entry = bundle.verificationMaterial.tlogEntries[0];
    if (entry === undefined) throw new Error('no entry');
    entry.integratedTime = String(Number(entry.integratedTime) + 60); // still inside the certificate's 10 minutes
    const trust = buildBundleTrust({ trustedRoot: JSON.stringify(services.trustedRoot), identity: { subject: WHO, issuer: ISSUER } });
    expect(codeOf(() => verifyBundle(bundle, { trust, expectedSubjectDigest: DIGEST }))).toMatch(/^tlog-failed/);
  });

  it('never puts the identity token in an error message', async () => {
    const secret = 'not-a-jwt-but-a-secret-value';
    const err = await signed(secret).catch((e: unknown) => e);
    expect(isAttestationError(err, 'identity-token')).toBe(true);
    expect((err as Error).message).not.toContain(secret);
    expect((err as Error).message).toContain('[identity token]');
  });
});
