import { createPublicKey, generateKeyPairSync, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  AttestationError,
  buildRuntimeTraceStatement,
  buildSlsaProvenanceStatement,
  exportPublicKeyPem,
  generateKeyPair,
  keyId,
  preAuthEncoding,
  signPayload,
  signStatement,
  verifyBundle,
  type AttestationErrorCode,
  type SerializedBundle,
  type Statement,
} from './index.js';
import { normalizeTrace } from '../model/index.js';

const DIGEST = 'sha256:' + '0a'.repeat(32);
const OTHER_DIGEST = 'sha256:' + '0b'.repeat(32);
const IMAGE = { name: '127.0.0.1:5000/hello', digest: DIGEST };

const trusted = generateKeyPair();
const stranger = generateKeyPair();

function traceStatement(): Statement {
  return buildRuntimeTraceStatement({
    image: IMAGE,
    trace: normalizeTrace({
      monitor: { name: 'tracebuild-probe' },
      lostEvents: 0,
      buildSteps: [
        {
          instruction: 'RUN echo hi',
          line: 2,
          stage: 0,
          vertex: 'sha256:' + '22'.repeat(32),
          cached: false,
          startedOn: '2025-01-01T00:00:00Z',
          finishedOn: '2025-01-01T00:00:01Z',
          processes: [{ pid: 1, ppid: 0, argv: ['/bin/sh', '-c', 'echo hi'], exe: '/bin/sh', exeSha256: 'ab'.repeat(32), exitCode: 0, startedOn: '2025-01-01T00:00:00Z', finishedOn: '2025-01-01T00:00:01Z' }],
          files: { created: ['/é'], modified: [], deleted: [], renamed: [] },
          network: [],
          resources: { wallMs: 1000, cpuUserMs: 1, cpuSystemMs: 1, maxRssKb: 100 },
          lostEvents: 0,
        },
      ],
    }),
    monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/test', event: 'inv-1' },
    timestamps: { buildStartedOn: '2025-01-01T00:00:00Z', buildFinishedOn: '2025-01-01T00:00:02Z' },
  });
}

function provenanceStatement(): Statement {
  return buildSlsaProvenanceStatement({
    image: IMAGE,
    dockerfile: { path: 'Dockerfile', sha256: 'dd'.repeat(32) },
    context: '.',
    invocationId: 'inv-1',
    startedOn: '2025-01-01T00:00:00Z',
    finishedOn: '2025-01-01T00:00:02Z',
  });
}

function codeOf(fn: () => unknown): AttestationErrorCode | string {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof AttestationError)) throw err;
    return err.code;
  }
  return 'no error';
}

const clone = (b: SerializedBundle): SerializedBundle => JSON.parse(JSON.stringify(b)) as SerializedBundle;
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');
const options = { publicKeys: [trusted.publicKey], expectedSubjectDigest: DIGEST };

describe('signStatement', () => {
  it('produces a Sigstore v0.3 bundle with a DSSE in-toto envelope and a key hint', async () => {
    const statement = traceStatement();
    const bundle = await signStatement(statement, { privateKey: trusted.privateKey });
    const id = keyId(trusted.publicKey);
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json');
    expect(bundle.verificationMaterial.publicKey).toEqual({ hint: id });
    // Offline: no transparency-log entries and no timestamps (protobuf JSON omits empty lists).
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([]);
    expect(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps ?? []).toEqual([]);
    expect(bundle.dsseEnvelope?.payloadType).toBe('application/vnd.in-toto+json');
    expect(bundle.dsseEnvelope?.signatures).toHaveLength(1);
    // The key hint is in verificationMaterial only: cosign's DSSE verifier skips a signature
    // whose keyid is not its own (empty), so the keyid stays empty (and JSON omits it).
    expect(bundle.dsseEnvelope?.signatures[0]?.keyid ?? '').toBe('');
    expect(Buffer.from(bundle.dsseEnvelope!.payload, 'base64').toString('utf8')).toBe(JSON.stringify(statement));
    expect(Object.keys(bundle).sort()).toEqual(['dsseEnvelope', 'mediaType', 'verificationMaterial']);
  });

  it('pins the bundle layout (signature, key id and payload elided)', async () => {
    const bundle = clone(await signPayload(Buffer.from('{}'), 'application/vnd.in-toto+json', { privateKey: trusted.privateKey }));
    bundle.verificationMaterial.publicKey = { hint: '<keyId>' };
    bundle.dsseEnvelope!.signatures = bundle.dsseEnvelope!.signatures.map((s) => ({ ...s, sig: '<sig>' }));
    expect(bundle).toMatchInlineSnapshot(`
      {
        "dsseEnvelope": {
          "payload": "e30=",
          "payloadType": "application/vnd.in-toto+json",
          "signatures": [
            {
              "sig": "<sig>",
            },
          ],
        },
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {
          "publicKey": {
            "hint": "<keyId>",
          },
          "timestampVerificationData": {},
        },
      }
    `);
  });

  it('refuses something that is not a Statement v1', async () => {
    const bad = { ...traceStatement(), _type: 'https://in-toto.io/Statement/v0.1' } as unknown as Statement;
    await expect(signStatement(bad, { privateKey: trusted.privateKey })).rejects.toMatchObject({ code: 'invalid-argument' });
    await expect(signStatement(traceStatement(), { privateKey: trusted.publicKey })).rejects.toMatchObject({ code: 'invalid-argument' });
  });
});

describe('independent DSSE check (node:crypto, not @sigstore/verify)', () => {
  it('PAE matches the DSSE spec example', () => {
    expect(preAuthEncoding('http://example.com/HelloWorld', 'hello world').toString('utf8')).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world',
    );
    // Lengths are byte lengths, not character counts.
    expect(preAuthEncoding('t/é', Buffer.from('€')).toString('utf8')).toBe('DSSEv1 4 t/é 3 €');
    expect(preAuthEncoding('', '').toString('utf8')).toBe('DSSEv1 0  0 ');
  });

  it('the bundle signature verifies over our own PAE with the public key', async () => {
    const bundle = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
    const env = bundle.dsseEnvelope!;
    const payload = Buffer.from(env.payload, 'base64');
    const sig = Buffer.from(env.signatures[0]!.sig, 'base64');
    const pae = preAuthEncoding(env.payloadType, payload);
    expect(cryptoVerify('sha256', pae, trusted.publicKey, sig)).toBe(true);
    // And not over anything else.
    expect(cryptoVerify('sha256', payload, trusted.publicKey, sig)).toBe(false);
    expect(cryptoVerify('sha256', pae, stranger.publicKey, sig)).toBe(false);
    expect(cryptoVerify('sha256', preAuthEncoding('text/plain', payload), trusted.publicKey, sig)).toBe(false);
  });

  it('a bundle signed by hand over our PAE is accepted by verifyBundle', async () => {
    const good = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
    const handmade = clone(good);
    const payload = Buffer.from(good.dsseEnvelope!.payload, 'base64');
    handmade.dsseEnvelope!.signatures[0]!.sig = b64(cryptoSign('sha256', preAuthEncoding('application/vnd.in-toto+json', payload), trusted.privateKey));
    expect(verifyBundle(handmade, options).statement).toEqual(traceStatement());
  });
});

describe('verifyBundle', () => {
  it.each([
    ['runtime trace', traceStatement],
    ['SLSA provenance', provenanceStatement],
  ])('round trip: %s', async (_name, make) => {
    const statement = make();
    const bundle = await signStatement(statement, { privateKey: trusted.privateKey });
    const result = verifyBundle(JSON.stringify(bundle), options);
    expect(result.statement).toEqual(statement);
    expect(result.keyId).toBe(keyId(trusted.publicKey));
    expect(result.predicateType).toBe(statement.predicateType);
  });

  it('accepts bytes, parsed objects, PEM keys and several trusted keys', async () => {
    const bundle = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
    const pemKeys = [exportPublicKeyPem(stranger.publicKey), exportPublicKeyPem(trusted.publicKey)];
    expect(verifyBundle(Buffer.from(JSON.stringify(bundle)), { ...options, publicKeys: pemKeys }).statement).toEqual(traceStatement());
    expect(verifyBundle(bundle, { ...options, publicKeys: [trusted.privateKey] }).keyId).toBe(keyId(trusted.publicKey));
    // Bare hex for the expected digest too.
    expect(verifyBundle(bundle, { ...options, expectedSubjectDigest: DIGEST.slice(7) }).statement.subject[0]?.name).toBe(IMAGE.name);
  });

  describe('tampering', () => {
    it('truncated or non-JSON bundle -> malformed-bundle', async () => {
      const text = JSON.stringify(await signStatement(traceStatement(), { privateKey: trusted.privateKey }));
      expect(codeOf(() => verifyBundle(text.slice(0, text.length - 10), options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle(text.slice(0, 40), options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle('not json', options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle('', options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle('[]', options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle(null, options))).toBe('malformed-bundle');
      expect(codeOf(() => verifyBundle({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }, options))).toBe('malformed-bundle');
    });

    it('structurally broken bundle -> malformed-bundle', async () => {
      const good = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
      const noSig = clone(good);
      noSig.dsseEnvelope!.signatures = [];
      expect(codeOf(() => verifyBundle(noSig, options))).toBe('malformed-bundle');
      const twoSigs = clone(good);
      twoSigs.dsseEnvelope!.signatures.push(twoSigs.dsseEnvelope!.signatures[0]!);
      expect(codeOf(() => verifyBundle(twoSigs, options))).toBe('malformed-bundle');
      const badMedia = clone(good);
      badMedia.mediaType = 'application/json';
      expect(codeOf(() => verifyBundle(badMedia, options))).toBe('malformed-bundle');
    });

    it('older bundle version -> unsupported-bundle', async () => {
      const old = clone(await signStatement(traceStatement(), { privateKey: trusted.privateKey }));
      old.mediaType = 'application/vnd.dev.sigstore.bundle+json;version=0.2';
      expect(codeOf(() => verifyBundle(old, options))).toBe('unsupported-bundle');
    });

    it('altered payload -> signature-invalid', async () => {
      const good = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
      const altered = clone(good);
      const statement = JSON.parse(Buffer.from(good.dsseEnvelope!.payload, 'base64').toString('utf8')) as Statement<{ lostEvents: number }>;
      statement.predicate.lostEvents = 1;
      altered.dsseEnvelope!.payload = b64(JSON.stringify(statement));
      expect(codeOf(() => verifyBundle(altered, options))).toBe('signature-invalid');

      const flipped = clone(good);
      const bytes = Buffer.from(good.dsseEnvelope!.payload, 'base64');
      bytes[bytes.length - 2] = bytes[bytes.length - 2]! ^ 1;
      flipped.dsseEnvelope!.payload = bytes.toString('base64');
      expect(codeOf(() => verifyBundle(flipped, options))).toBe('signature-invalid');
    });

    it('altered payloadType or signature -> signature-invalid', async () => {
      const good = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
      const type = clone(good);
      type.dsseEnvelope!.payloadType = 'application/vnd.in-toto+jsom';
      expect(codeOf(() => verifyBundle(type, options))).toBe('signature-invalid');
      const sig = clone(good);
      const raw = Buffer.from(good.dsseEnvelope!.signatures[0]!.sig, 'base64');
      raw[raw.length - 1] = raw[raw.length - 1]! ^ 0x55;
      sig.dsseEnvelope!.signatures[0]!.sig = raw.toString('base64');
      expect(codeOf(() => verifyBundle(sig, options))).toBe('signature-invalid');
    });

    it('signed by a key that is not trusted -> unknown-key', async () => {
      const bundle = await signStatement(traceStatement(), { privateKey: stranger.privateKey });
      expect(codeOf(() => verifyBundle(bundle, options))).toBe('unknown-key');
      expect(codeOf(() => verifyBundle(bundle, { ...options, publicKeys: [] }))).toBe('unknown-key');
    });

    it('signed by another key but claiming the trusted key id -> signature-invalid', async () => {
      const forged = clone(await signStatement(traceStatement(), { privateKey: stranger.privateKey }));
      forged.verificationMaterial.publicKey = { hint: keyId(trusted.publicKey) };
      expect(codeOf(() => verifyBundle(forged, options))).toBe('signature-invalid');
    });

    it('statement about another image -> subject-mismatch', async () => {
      const bundle = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
      expect(codeOf(() => verifyBundle(bundle, { ...options, expectedSubjectDigest: OTHER_DIGEST }))).toBe('subject-mismatch');
    });

    it('validly signed but not in-toto -> payload-type', async () => {
      const bundle = await signPayload(Buffer.from(JSON.stringify(traceStatement())), 'application/json', { privateKey: trusted.privateKey });
      expect(codeOf(() => verifyBundle(bundle, options))).toBe('payload-type');
    });

    it('validly signed in-toto with an unknown predicate -> unsupported-predicate', async () => {
      const statement = { ...traceStatement(), predicateType: 'https://example.com/other/v1' };
      const bundle = await signStatement(statement, { privateKey: trusted.privateKey });
      expect(codeOf(() => verifyBundle(bundle, options))).toBe('unsupported-predicate');
      // Accepted when the caller says so.
      expect(verifyBundle(bundle, { ...options, predicateTypes: ['https://example.com/other/v1'] }).predicateType).toBe('https://example.com/other/v1');
    });

    it('validly signed payloads that are not in-toto Statements -> statement-type / malformed-statement; v0.1 (cosign\'s) is read', async () => {
      const sign = (body: string) => signPayload(Buffer.from(body), 'application/vnd.in-toto+json', { privateKey: trusted.privateKey });
      const v01 = await sign(JSON.stringify({ ...traceStatement(), _type: 'https://in-toto.io/Statement/v0.1' }));
      expect(verifyBundle(v01, options).statement._type).toBe('https://in-toto.io/Statement/v0.1');
      const v02 = await sign(JSON.stringify({ ...traceStatement(), _type: 'https://in-toto.io/Statement/v0.2' }));
      expect(codeOf(() => verifyBundle(v02, options))).toBe('statement-type');
      const notJson = await sign('not json');
      expect(codeOf(() => verifyBundle(notJson, options))).toBe('malformed-statement');
      const array = await sign('[1]');
      expect(codeOf(() => verifyBundle(array, options))).toBe('malformed-statement');
      const noSubject = await sign(JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', predicateType: 'x' }));
      expect(codeOf(() => verifyBundle(noSubject, options))).toBe('malformed-statement');
    });
  });

  it('rejects bad trust input and a bad expected digest', async () => {
    const bundle = await signStatement(traceStatement(), { privateKey: trusted.privateKey });
    expect(codeOf(() => verifyBundle(bundle, { ...options, publicKeys: ['not a key'] }))).toBe('malformed-key');
    const reparsed = createPublicKey(exportPublicKeyPem(trusted.publicKey));
    expect(verifyBundle(bundle, { ...options, publicKeys: [reparsed] }).keyId).toBe(keyId(trusted.publicKey));
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey;
    expect(codeOf(() => verifyBundle(bundle, { ...options, publicKeys: [p384, trusted.publicKey] }))).toBe('unsupported-key');
    expect(codeOf(() => verifyBundle(bundle, { ...options, expectedSubjectDigest: 'latest' }))).toBe('invalid-argument');
  });
});

describe('module boundaries', () => {
  const importsOf = async (file: string): Promise<string[]> =>
    [...(await readFile(new URL(file, import.meta.url), 'utf8')).matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]!);

  it('sign.ts does not import verify.ts, and verify.ts neither sign.ts nor keys.ts (no I/O)', async () => {
    expect(await importsOf('./sign.ts')).not.toContain('./verify.js');
    const verifyImports = await importsOf('./verify.ts');
    expect(verifyImports).not.toContain('./sign.js');
    expect(verifyImports).not.toContain('./keys.js');
    expect(verifyImports.filter((m) => m.startsWith('node:'))).toEqual(['node:crypto']);
  });

});
