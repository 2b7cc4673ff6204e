import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildRuntimeTraceStatement,
  exportPublicKeyPem,
  generateKeyPair,
  signStatement,
  type RuntimeTraceStatement,
} from '../attest/index.js';
import { describeSource, IMAGE_NEEDS_KEY, loadTraceInput, TraceInputError, type ImageTraceFetcher } from './trace-input.js';
import { normalizeTrace } from '../model/index.js';

const TRACES = join(import.meta.dirname, '..', 'testdata', 'policies', 'traces');
const CLEAN = join(TRACES, 'clean.json');
const cleanJson = (): Record<string, unknown> => JSON.parse(readFileSync(CLEAN, 'utf8')) as Record<string, unknown>;
const IMAGE = { name: '127.0.0.1:5000/app', digest: `sha256:${'ab'.repeat(32)}` };

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'trace-input-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function write(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

function statement(): RuntimeTraceStatement {
  return buildRuntimeTraceStatement({
    image: IMAGE,
    trace: normalizeTrace(cleanJson()),
    monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/test', event: 'build-1' },
    timestamps: { buildStartedOn: '2025-03-01T10:00:00.000Z', buildFinishedOn: '2025-03-01T10:00:01.500Z' },
  });
}

async function failure(arg: string, options: Parameters<typeof loadTraceInput>[1] = { cwd: dir }): Promise<TraceInputError> {
  const err = await loadTraceInput(arg, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TraceInputError);
  return err as TraceInputError;
}

describe('loadTraceInput: files', () => {
  it('reads a trace file and fills the tracer fields older traces lack', async () => {
    const { trace, source } = await loadTraceInput(CLEAN, { cwd: dir });
    expect(source).toEqual({ kind: 'file', path: CLEAN, format: 'trace', verified: false, subjects: [] });
    expect(trace.buildSteps).toHaveLength(6);
    const run = trace.buildSteps[4];
    expect(run).toMatchObject({ keyword: 'RUN', line: 5, endLine: 5, stage: '0', status: 'done', durationMs: 700, warnings: [] });
    expect(trace.buildSteps[0]).toMatchObject({ cached: true, status: 'cached', durationMs: null, resources: null });
    expect(run?.processes[0]).toMatchObject({ pid: 101, execed: true, exeSha256: '3c26c8e5e75a2132ce9abb95283e5c64be547749decb3106a6a1ed32fe64d43f' });
    expect(run?.network[0]).toMatchObject({ address: '127.0.0.1', port: 8080, attempts: 1, failures: 0, bytesSent: 112 });
    expect(trace.losses).toMatchObject({ attributedToSteps: 0, unattributedToSteps: 0 });
    expect(trace.unattributedEvents).toBe(0);
    expect(trace.metadata).toEqual({ buildStartedOn: null, buildFinishedOn: null });
  });

  it('resolves a relative path against the working directory', async () => {
    const { source } = await loadTraceInput('clean.json', { cwd: TRACES });
    expect(source).toMatchObject({ kind: 'file', path: 'clean.json' });
  });

  it('reads an in-toto statement whose predicate carries buildSteps', async () => {
    const path = write('statement.json', statement());
    const { trace, source } = await loadTraceInput(path, { cwd: dir });
    expect(source).toMatchObject({
      kind: 'file',
      format: 'statement',
      verified: false,
      subjects: [{ name: IMAGE.name, digest: IMAGE.digest }],
      predicateType: 'https://in-toto.io/attestation/runtime-trace/v0.1',
    });
    expect(trace.monitor).toMatchObject({ name: 'tracebuild-probe', kernel: '6.18.0' });
    expect(trace.metadata).toEqual({ buildStartedOn: '2025-03-01T10:00:00.000Z', buildFinishedOn: '2025-03-01T10:00:01.500Z' });
    expect(trace.buildSteps.map((s) => s.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(describeSource(source)).toBe(`${path} (in-toto statement file; not verified: use \`tracebuild verify\`)`);
  });

  it('decodes a Sigstore bundle without verifying it, and says so', async () => {
    const { privateKey } = generateKeyPair();
    const path = write('bundle.json', await signStatement(statement(), { privateKey }));
    const { trace, source } = await loadTraceInput(path, { cwd: dir });
    expect(source).toMatchObject({ kind: 'file', format: 'bundle', verified: false, subjects: [{ name: IMAGE.name }] });
    expect(trace.buildSteps).toHaveLength(6);
    expect(describeSource(source)).toBe(`${path} (Sigstore bundle; not verified: use \`tracebuild verify\`)`);
  });

  it('checks a bundle file signature with --key, and refuses one signed by another key', async () => {
    const signer = generateKeyPair();
    const other = generateKeyPair();
    const path = write('signed.json', await signStatement(statement(), { privateKey: signer.privateKey }));
    const good = write('good.pub', exportPublicKeyPem(signer.publicKey));
    const bad = write('other.pub', exportPublicKeyPem(other.publicKey));
    const { source } = await loadTraceInput(path, { cwd: dir, keyPaths: [good] });
    expect(source).toMatchObject({ format: 'bundle', verified: true });
    expect(source.kind === 'file' && source.keyId).toMatch(/^[0-9a-f]{64}$/);
    const err = await failure(path, { cwd: dir, keyPaths: [bad] });
    expect(err.code).toBe('verification-failed');
    expect(err.message).toMatch(new RegExp(`^${path}: not verified with --key: bundle is signed by key [0-9a-f]+, which is not among the trusted keys$`));
  });

  it('--key means signed: a trace, a statement or an envelope with --key is refused (not-signed, exit kind verify)', async () => {
    const signer = generateKeyPair();
    const good = write('signer.pub', exportPublicKeyPem(signer.publicKey));
    const signed = await signStatement(statement(), { privateKey: signer.privateKey });
    const inputs = {
      trace: write('plain-trace.json', statement().predicate),
      statement: write('plain-statement.json', statement()),
      envelope: write('plain-envelope.json', signed.dsseEnvelope),
    };
    for (const path of Object.values(inputs)) {
      const err = await failure(path, { cwd: dir, keyPaths: [good] });
      expect(err.code, path).toBe('not-signed');
      expect(err.exit).toBe('verify');
      expect(err.message).toContain('not a signed Sigstore bundle: --key asks for a signature');
      // an identity option means signed too
      const byIdentity = await failure(path, { cwd: dir, trust: { certificateIdentity: 'spiffe://example.org/ci/builder', caRoots: 'roots.pem' } });
      expect(byIdentity.code).toBe('not-signed');
      expect(byIdentity.message).toContain('--certificate-identity asks for a signature');
    }
  });

  it('reads a bare DSSE envelope', async () => {
    const payload = Buffer.from(JSON.stringify(statement())).toString('base64');
    const path = write('envelope.json', { payloadType: 'application/vnd.in-toto+json', payload, signatures: [] });
    const { source } = await loadTraceInput(path, { cwd: dir });
    expect(source).toMatchObject({ format: 'envelope', verified: false });
  });
});

describe('loadTraceInput: errors name the file and what is wrong', () => {
  it('a file that is not JSON', async () => {
    const path = write('garbage.json', 'not json {');
    const err = await failure(path);
    expect(err.code).toBe('not-json');
    expect(err.message).toMatch(new RegExp(`^${path}: not JSON: `));
  });

  it('JSON that is not an object', async () => {
    const err = await failure(write('array.json', [1, 2]));
    expect(err.code).toBe('not-a-trace');
    expect(err.message).toBe(`${join(dir, 'array.json')}: not a trace: the JSON is an array, not an object with buildSteps`);
  });

  it('an object without buildSteps', async () => {
    const err = await failure(write('package.json', { name: 'x', version: '1' }));
    expect(err.message).toBe(`${join(dir, 'package.json')}: not a trace: $.buildSteps is missing`);
  });

  it('the JSON path of the first missing required field', async () => {
    const doc = cleanJson() as { buildSteps: { processes: Record<string, unknown>[] }[] };
    delete doc.buildSteps[4]?.processes[1]?.argv;
    const err = await failure(write('no-argv.json', doc));
    expect(err.code).toBe('not-a-trace');
    expect(err.message).toBe(`${join(dir, 'no-argv.json')}: not a trace: $.buildSteps[4].processes[1].argv is missing`);
  });

  it('a field of the wrong type', async () => {
    const doc = cleanJson() as { buildSteps: Record<string, unknown>[] };
    (doc.buildSteps[2] as Record<string, unknown>).line = '3';
    const err = await failure(write('bad-line.json', doc));
    expect(err.message).toBe(`${join(dir, 'bad-line.json')}: not a trace: $.buildSteps[2].line must be a number (got string)`);
  });

  it('a statement of another predicate type', async () => {
    const other = { _type: 'https://in-toto.io/Statement/v1', subject: [], predicateType: 'https://slsa.dev/provenance/v1', predicate: { buildDefinition: {} } };
    const err = await failure(write('provenance.json', other));
    expect(err.code).toBe('not-a-runtime-trace');
    expect(err.message).toBe(
      `${join(dir, 'provenance.json')}: an in-toto Statement of predicateType "https://slsa.dev/provenance/v1" whose predicate has no buildSteps: not a runtime trace`,
    );
  });

  it('a statement whose predicate is broken: the path is inside the predicate', async () => {
    const s = statement() as unknown as { predicate: { buildSteps: Record<string, unknown>[] } };
    delete s.predicate.buildSteps[1]?.vertex;
    const err = await failure(write('broken-statement.json', s));
    expect(err.message).toBe(`${join(dir, 'broken-statement.json')}: not a runtime trace: $.predicate.buildSteps[1].vertex is missing`);
  });

  it('a bundle whose payload is broken', async () => {
    const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', verificationMaterial: {}, dsseEnvelope: { payloadType: 'application/vnd.in-toto+json', payload: Buffer.from('{nope').toString('base64'), signatures: [] } };
    const err = await failure(write('bad-bundle.json', bundle));
    expect(err.code).toBe('bad-envelope');
    expect(err.message).toBe(`${join(dir, 'bad-bundle.json')}: the DSSE payload is not base64-encoded JSON`);
  });

  it('a bundle with another payload type', async () => {
    const bundle = { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json', dsseEnvelope: { payloadType: 'text/plain', payload: '', signatures: [] } };
    const err = await failure(write('text-bundle.json', bundle));
    expect(err.message).toBe(`${join(dir, 'text-bundle.json')}: the DSSE payloadType is "text/plain", not application/vnd.in-toto+json`);
  });

  it('a directory', async () => {
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const err = await failure('sub');
    expect(err.code).toBe('is-directory');
    expect(err.message).toBe('sub: is a directory, not a trace file');
  });

  it('a missing file named like a file', async () => {
    for (const arg of ['./nope', 'missing.json', '/no/such/trace', 'Not A Reference']) {
      const err = await failure(arg);
      expect(err.code).toBe('file-not-found');
      expect(err.message).toBe(`${arg}: no such file`);
    }
  });
});

describe('loadTraceInput: images', () => {
  it('needs --key', async () => {
    const err = await failure('127.0.0.1:5000/app:latest');
    expect(err.code).toBe('image-needs-key');
    expect(err.message).toBe(`127.0.0.1:5000/app:latest: not a file; ${IMAGE_NEEDS_KEY}`);
    expect(IMAGE_NEEDS_KEY).toBe('reading traces from images needs --key PUB or --certificate-identity (the attestation is verified first)');
  });

  it('says so when no attestation fetcher is wired', async () => {
    const err = await failure('app:latest', { cwd: dir, keyPaths: ['k.pub'] });
    expect(err.code).toBe('image-fetch-unavailable');
    expect(err.message).toMatch(/^app:latest: not a file, and reading traces from images is not wired into this build yet/);
  });

  it('reads the verified statement the fetcher returns', async () => {
    const calls: { ref: string; keys: string[] }[] = [];
    const fetchImageTrace: ImageTraceFetcher = async (ref, options) => {
      calls.push({ ref, keys: options.keyPaths });
      return { statement: statement(), image: `${IMAGE.name}@${IMAGE.digest}`, keyId: 'k1' };
    };
    const { trace, source } = await loadTraceInput('127.0.0.1:5000/app:v1', { cwd: dir, keyPaths: ['k.pub'], fetchImageTrace });
    expect(calls).toEqual([{ ref: '127.0.0.1:5000/app:v1', keys: [join(dir, 'k.pub')] }]);
    expect(source).toMatchObject({ kind: 'image', reference: '127.0.0.1:5000/app:v1', image: `${IMAGE.name}@${IMAGE.digest}`, verified: true, keyId: 'k1' });
    expect(trace.buildSteps).toHaveLength(6);
    expect(describeSource(source)).toBe(`image ${IMAGE.name}@${IMAGE.digest}, attestation verified: signed by key k1`);
  });

  it('lets the fetcher errors through', async () => {
    const boom = new Error('signature-invalid');
    const fetchImageTrace: ImageTraceFetcher = async () => {
      throw boom;
    };
    await expect(loadTraceInput('app', { cwd: dir, keyPaths: ['k.pub'], fetchImageTrace })).rejects.toBe(boom);
  });
});
