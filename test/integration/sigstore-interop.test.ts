// Attestations the Sigstore ecosystem reads, against the real registry on 127.0.0.1:5000
// (CNCF distribution: the tag-schema fallback), with the real third-party clients:
//
//   cosign 2.5   verify-attestation (key mode) passes on what tracebuild pushed, for both
//                predicate types; `cosign attest` on our image is listed by `tracebuild
//                referrers` and verified by `tracebuild verify --key cosign.pub --type`;
//                cosign's own key file signs `tracebuild build`;
//   oras 1.2     discover lists our referrers;
//   keyless      `build --keyless` through @sigstore/mock's Fulcio, Rekor and TSA served on
//                127.0.0.1; `verify --certificate-identity --certificate-oidc-issuer
//                --trusted-root` checks the identity, the log entry and the timestamp, and
//                refuses another identity;
//   PKI          an openssl CA, a short-lived SPIFFE leaf (`--cert --key`), a TSA timestamp:
//                verification after the leaf expired passes with the timestamp, fails
//                without one.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE, plainReferrers, sha256Hex, tracebuild, writeFiles } from '../helpers/attest.js';
import { identityToken, startSigstoreServices, type SigstoreServices } from '../helpers/sigstore-services.js';
import { ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId } from '../helpers/index.js';

const gate = await integrationGate();
const REGISTRY = '127.0.0.1:5000';
const PASSWORD = 'interop-password';
const COSIGN_PASSWORD = 'cosign-password';
const EMPTY_ROOT = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] };
const ISSUER = 'https://token.ci.example.com';
const WHO = 'https://example.com/ci/builder@refs/heads/main';
const SPIFFE = 'spiffe://example.org/ci/builder';

describe.skipIf(gate.skip)('Sigstore interop: cosign, oras, keyless, enterprise PKI', () => {
  let work = '';
  let services: SigstoreServices | undefined;
  const base = `tracebuild-test/interop-${runId}`;
  const repos = { key: `${base}-key`, cosignKey: `${base}-cosign-key`, keyless: `${base}-keyless`, pkiTsa: `${base}-pki-tsa`, pkiPlain: `${base}-pki-plain` };
  const image = (repo: string): string => `${REGISTRY}/${repo}:v1`;
  const digests: Record<string, string> = {};
  const f = (name: string): string => path.join(work, name);

  const cosign = (args: readonly string[], env: Record<string, string | undefined> = {}) => run('cosign', args, { cwd: work, env: { COSIGN_PASSWORD, ...env }, timeoutMs: 120_000 });
  const build = async (repo: string, signing: readonly string[], env: Record<string, string | undefined> = { TRACEBUILD_KEY_PASSWORD: PASSWORD }, context = 'ctx', extra: readonly string[] = []) => {
    const r = await tracebuild(['build', '--network', 'host', '--progress', 'plain', '-t', image(repo), '--push', ...signing, ...extra, f(context)], { env });
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).toBe(0);
    const digest = /^Pushed \S+ as \S+@(sha256:[0-9a-f]{64})$/m.exec(r.stdout)?.[1];
    expect(digest, shown).toBeDefined();
    digests[repo] = digest ?? '';
    return r;
  };
  const verifyCosign = (repo: string, type: string, key: string) =>
    cosign(['verify-attestation', '--new-bundle-format', '--key', key, '--trusted-root', f('empty-root.json'), '--insecure-ignore-tlog', '--allow-http-registry', '--type', type, `${REGISTRY}/${repo}@${digests[repo] ?? ''}`]);

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-interop-'));
    writeFiles(work, {
      'ctx/Dockerfile': 'FROM busybox:local\nRUN echo interop > /interop.txt\n',
      'same/Dockerfile': 'FROM busybox:local\n',
      'empty-root.json': JSON.stringify(EMPTY_ROOT),
      'predicate.json': JSON.stringify({ scanner: 'example', runId }),
    });
    const k = await tracebuild(['keygen', '--out', f('signer')], { env: { TRACEBUILD_KEY_PASSWORD: PASSWORD } });
    expect(k.exitCode, k.stderr).toBe(0);
    const g = await cosign(['generate-key-pair']);
    expect(g.exitCode, g.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const repo of Object.values(repos)) await removeImage(image(repo));
    await services?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('cosign verify-attestation passes on our image for both predicate types; oras discover lists both referrers', async () => {
    await build(repos.key, ['--key', f('signer.key')]);
    for (const type of [RUNTIME_TRACE_PREDICATE, SLSA_PREDICATE]) {
      const v = await verifyCosign(repos.key, type, f('signer.pub'));
      expect(v.exitCode, `${v.command}\n${v.stderr}`).toBe(0);
      expect(v.stderr).toContain('Verification for');
      const payload = JSON.parse(Buffer.from((JSON.parse(v.stdout.trim().split('\n')[0] ?? '{}') as { payload: string }).payload, 'base64').toString('utf8')) as { predicateType: string };
      expect(payload.predicateType).toBe(type);
    }
    // and with another key cosign refuses: the check is real
    const wrong = await verifyCosign(repos.key, SLSA_PREDICATE, f('cosign.pub'));
    expect(wrong.exitCode).not.toBe(0);

    const listed = await plainReferrers(REGISTRY, repos.key, digests[repos.key] ?? '', false);
    const o = await run('oras', ['discover', '--plain-http', '--format', 'json', `${REGISTRY}/${repos.key}@${digests[repos.key] ?? ''}`]);
    expect(o.exitCode, o.stderr).toBe(0);
    const discovered = (JSON.parse(o.stdout) as { manifests?: { digest: string; artifactType: string }[]; referrers?: { digest: string; artifactType: string }[] });
    const found = (discovered.manifests ?? discovered.referrers ?? []).map((m) => m.digest).sort();
    expect(found).toEqual(listed.map((d) => d.digest).sort());
    expect(found).toHaveLength(2);
  });

  test("cosign attest on our image: tracebuild referrers lists it, verify --key cosign.pub --type verifies it, and our own verify is not broken by it", async () => {
    const at = `${REGISTRY}/${repos.key}@${digests[repos.key] ?? ''}`;
    const a = await cosign(['attest', '--new-bundle-format', '--key', f('cosign.key'), '--tlog-upload=false', '--allow-http-registry', '--type', 'https://example.com/scan/v1', '--predicate', f('predicate.json'), '-y', at]);
    expect(a.exitCode, a.stderr).toBe(0);

    const r = await tracebuild(['referrers', image(repos.key)]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout).toContain('predicate type: https://example.com/scan/v1');
    // cosign's key hint: the base64 of the sha256 of its public key's DER
    const der = execFileSync('openssl', ['pkey', '-pubin', '-in', f('cosign.pub'), '-outform', 'DER']);
    expect(r.stdout).toContain(`signing key:    ${Buffer.from(sha256Hex(der), 'hex').toString('base64')}`);

    const byCosignKey = await tracebuild(['verify', image(repos.key), '--key', f('cosign.pub'), '--type', 'https://example.com/scan/v1']);
    expect(byCosignKey.exitCode, byCosignKey.stdout + byCosignKey.stderr).toBe(0);
    expect(byCosignKey.stdout).toMatch(/OK {11}sha256:[0-9a-f]{64} {2}https:\/\/example.com\/scan\/v1, signed by key [0-9a-f]{64}/);
    expect(byCosignKey.stdout).toMatch(/NOT CHECKED {2}sha256:[0-9a-f]{64} {2}runtime-trace: predicate type/);

    // Our verification sees cosign's attestation and does not fail on it (cosign also
    // rewrote our index entries' artifactType: nothing depends on it).
    const ours = await tracebuild(['verify', image(repos.key), '--key', f('signer.pub')]);
    expect(ours.exitCode, ours.stdout + ours.stderr).toBe(0);
    expect(ours.stdout).toContain('1 runtime-trace, 1 provenance (1 referrer(s) not checked)');
    const strict = await tracebuild(['verify', image(repos.key), '--key', f('signer.pub'), '--require-all']);
    expect(strict.exitCode).toBe(1);
    expect(strict.stderr).toContain('--require-all: 1 attestation(s)');
  });

  test("cosign's key file signs the build (COSIGN_PASSWORD), and cosign verifies the result", async () => {
    const r = await build(repos.cosignKey, ['--key', f('cosign.key')], { COSIGN_PASSWORD, TRACEBUILD_KEY_PASSWORD: undefined });
    expect(r.stdout + r.stderr).not.toContain(COSIGN_PASSWORD);
    const ours = await tracebuild(['verify', image(repos.cosignKey), '--key', f('cosign.pub')]);
    expect(ours.exitCode, ours.stdout + ours.stderr).toBe(0);
    const theirs = await verifyCosign(repos.cosignKey, RUNTIME_TRACE_PREDICATE, f('cosign.pub'));
    expect(theirs.exitCode, theirs.stderr).toBe(0);
    const wrong = await tracebuild(['build', '--network', 'host', '-t', image(repos.cosignKey), '--push', '--key', f('cosign.key'), f('ctx')], { env: { COSIGN_PASSWORD: 'wrong', TRACEBUILD_KEY_PASSWORD: undefined } });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toContain('wrong password');
  });

  test('keyless: build --keyless through Fulcio, Rekor and a TSA; verify checks identity, log entry and timestamp, and refuses another identity', async () => {
    services = await startSigstoreServices();
    const token = identityToken({ iss: ISSUER, sub: WHO });
    writeFileSync(f('token.jwt'), token);
    writeFileSync(f('trusted-root.json'), JSON.stringify(services.trustedRoot));
    const r = await build(
      repos.keyless,
      ['--keyless', '--identity-token', f('token.jwt'), '--fulcio-url', services.url, '--rekor-url', services.url, '--tsa-url', services.url, '--attest-out', f('keyless-bundles')],
      { TRACEBUILD_KEY_PASSWORD: undefined },
    );
    expect(r.stdout).toContain(`signed by certificate for ${WHO}, logged in Rekor, timestamped`);
    expect(services.requests.filter((p) => p === 'POST /api/v2/signingCert')).toHaveLength(2);
    expect(services.requests.filter((p) => p === 'POST /api/v1/log/entries')).toHaveLength(2);
    // The token is a secret: not in the output, not in the bundles.
    const bundles = readdirSync(f('keyless-bundles')).map((n) => readFileSync(path.join(f('keyless-bundles'), n), 'utf8'));
    expect(bundles).toHaveLength(2);
    for (const text of [r.stdout, r.stderr, ...bundles]) expect(text).not.toContain(token.split('.')[1]);

    const identity = ['--certificate-identity', WHO, '--certificate-oidc-issuer', ISSUER, '--trusted-root', f('trusted-root.json')];
    const v = await tracebuild(['verify', image(repos.keyless), ...identity]);
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain(`signed by certificate for ${WHO} (issuer ${ISSUER}), Fulcio-issued`);
    expect(v.stdout).toContain('1 transparency-log entry checked');
    expect(v.stdout).toMatch(/signing time \S+ \((RFC 3161 timestamp|transparency log)\)/);
    const json = await tracebuild(['verify', image(repos.keyless), ...identity, '--json']);
    const report = JSON.parse(json.stdout) as { attestations: { tlog: unknown; timestamps: unknown; times: { source: string }[] }[] };
    for (const a of report.attestations) {
      expect(a.tlog).toEqual({ entries: 1, checked: true });
      expect(a.timestamps).toEqual({ count: 1, checked: true });
      expect(a.times.map((t) => t.source).sort()).toEqual(['timestamp-authority', 'transparency-log']);
    }

    const other = await tracebuild(['verify', image(repos.keyless), '--certificate-identity', 'https://example.com/ci/other@refs/heads/main', '--certificate-oidc-issuer', ISSUER, '--trusted-root', f('trusted-root.json')]);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain('no attestation of');
    expect(other.stderr).toContain(`the certificate is for ${WHO}, not https://example.com/ci/other@refs/heads/main`);
    const regexp = await tracebuild(['verify', image(repos.keyless), '--certificate-identity-regexp', '^https://example\\.com/ci/builder@', '--certificate-oidc-issuer-regexp', 'ci\\.example\\.com$', '--trusted-root', f('trusted-root.json')]);
    expect(regexp.exitCode, regexp.stdout + regexp.stderr).toBe(0);
    const noIssuer = await tracebuild(['verify', image(repos.keyless), '--certificate-identity', WHO, '--trusted-root', f('trusted-root.json')]);
    expect(noIssuer.exitCode).toBe(2);
    expect(noIssuer.stderr).toContain('give --certificate-oidc-issuer (or -regexp) too');
  });

  test('enterprise PKI: a SPIFFE leaf from an openssl CA; after it expired, verification passes with a TSA timestamp and fails without one', async () => {
    services ??= await startSigstoreServices();
    writeFileSync(f('tsa-chain.pem'), services.tsaChainPem);
    const notAfter = makePki(work, SPIFFE, 80);
    const pki = ['--key', f('pki/leaf.key'), '--cert', f('pki/chain.pem')];
    await build(repos.pkiTsa, [...pki, '--tsa-url', services.url], {}, 'same', ['--no-trace']);
    await build(repos.pkiPlain, pki, {}, 'same', ['--no-trace']);
    const trust = ['--certificate-identity', SPIFFE, '--ca-roots', f('pki/root.pem'), '--ca-intermediates', f('pki/intermediate.pem'), '--type', 'provenance'];
    const verify = (repo: string, extra: readonly string[] = []) => tracebuild(['verify', image(repo), ...trust, '--timestamp-certificate-chain', f('tsa-chain.pem'), ...extra]);

    for (const repo of [repos.pkiTsa, repos.pkiPlain]) {
      const before = await verify(repo);
      expect(before.exitCode, `${repo}: ${before.stdout}${before.stderr}`).toBe(0);
      expect(before.stdout).toContain(`signed by certificate for ${SPIFFE}, CA-issued`);
    }
    const stranger = await tracebuild(['verify', image(repos.pkiTsa), '--certificate-identity', 'spiffe://example.org/ci/other', '--ca-roots', f('pki/root.pem'), '--ca-intermediates', f('pki/intermediate.pem'), '--type', 'provenance']);
    expect(stranger.exitCode).toBe(1);
    expect(stranger.stderr).toContain(`the certificate is for ${SPIFFE}, not spiffe://example.org/ci/other`);
    const noIntermediate = await tracebuild(['verify', image(repos.pkiTsa), '--certificate-identity', SPIFFE, '--ca-roots', f('pki/root.pem'), '--type', 'provenance']);
    expect(noIntermediate.exitCode).toBe(1);
    expect(noIntermediate.stderr).toContain('does not chain to a trusted certificate authority');

    // Wait for the leaf to expire.
    const wait = notAfter.getTime() + 1500 - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));

    const withTimestamp = await verify(repos.pkiTsa);
    expect(withTimestamp.exitCode, withTimestamp.stdout + withTimestamp.stderr).toBe(0);
    expect(withTimestamp.stdout).toMatch(/signing time \S+ \(RFC 3161 timestamp\)/);
    const withoutTimestamp = await verify(repos.pkiPlain);
    expect(withoutTimestamp.exitCode).toBe(1);
    expect(withoutTimestamp.stdout).toContain('[certificate-expired]');
    expect(withoutTimestamp.stderr).toContain('no trusted timestamp says when it signed');
    // The timestamp counts only when its authority is trusted.
    const untrustedTsa = await tracebuild(['verify', image(repos.pkiTsa), ...trust]);
    expect(untrustedTsa.exitCode).toBe(1);
    expect(untrustedTsa.stdout).toContain('[certificate-expired]');
  });
});

/** openssl: a root CA, an intermediate, and a P-256 leaf for `uri` valid from a minute ago for `seconds`. Returns its notAfter. */
function makePki(work: string, uri: string, seconds: number): Date {
  const dir = path.join(work, 'pki');
  const sh = (args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const asn1 = (d: Date): string => d.toISOString().replace(/[-:T]/g, '').slice(2, 14) + 'Z';
  writeFiles(dir, {
    'index.txt': '',
    'serial': '1000\n',
    'newcerts/.keep': '',
    'ca.cnf': [
      '[ ca ]', 'default_ca = ca_default',
      '[ ca_default ]', `dir = ${dir}`, 'database = $dir/index.txt', 'new_certs_dir = $dir/newcerts', 'serial = $dir/serial',
      'default_md = sha256', 'policy = policy_any', 'unique_subject = no', 'copy_extensions = none',
      '[ policy_any ]', 'commonName = supplied',
      '[ intermediate_ext ]', 'basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
      '[ leaf_ext ]', 'basicConstraints = critical,CA:FALSE', 'keyUsage = critical,digitalSignature', 'extendedKeyUsage = codeSigning', `subjectAltName = URI:${uri}`, 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid',
      '',
    ].join('\n'),
  });
  const now = Date.now();
  sh(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'root.key', '-out', 'root.pem', '-subj', '/CN=tracebuild test root', '-days', '2',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign', '-addext', 'subjectKeyIdentifier=hash']);
  sh(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'intermediate.key', '-out', 'intermediate.csr', '-subj', '/CN=tracebuild test intermediate']);
  sh(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'root.pem', '-keyfile', 'root.key', '-in', 'intermediate.csr', '-out', 'intermediate.pem', '-days', '2', '-extensions', 'intermediate_ext', '-notext']);
  sh(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'leaf.key']);
  sh(['req', '-new', '-key', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=ci builder']);
  const notAfter = new Date(Math.floor((now + seconds * 1000) / 1000) * 1000);
  sh(['ca', '-batch', '-config', 'ca.cnf', '-cert', 'intermediate.pem', '-keyfile', 'intermediate.key', '-in', 'leaf.csr', '-out', 'leaf.pem',
    '-startdate', asn1(new Date(now - 60_000)), '-enddate', asn1(notAfter), '-extensions', 'leaf_ext', '-notext']);
  writeFileSync(path.join(dir, 'chain.pem'), readFileSync(path.join(dir, 'leaf.pem'), 'utf8') + readFileSync(path.join(dir, 'intermediate.pem'), 'utf8'));
  return notAfter;
}
