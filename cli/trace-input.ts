// Where `show` and `diff` get a trace from. An argument that names an existing file is read
// as one of:
//   - a trace (what `tracebuild build` records; tracer/trace-types.ts),
//   - an in-toto Statement whose predicate carries `buildSteps` (runtime-trace),
//   - a Sigstore bundle (or a bare DSSE envelope) holding such a statement.
// Without trust options a file is not verified: a bundle's payload is decoded without
// checking its signature, and the source says so (`verified: false`). With --key (or a
// certificate identity), the input must be signed: a bundle's signature is checked against
// that trust (its image is still not looked at), and a trace, a bare statement or an
// envelope, which carry no verifiable signature, are refused (`not-signed`, exit 1).
//
// Any other argument is an image reference: its trace comes from its attestation in the
// registry, fetched and verified by the injected `fetchImageTrace` hook (the verify
// command's code). Without --key, or without the hook wired, that is a clear error.

import { statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { TracebuildError, USER_FILE_LIMITS, UserFileError, parseImageReference, readUserFile, type ExitKind } from '../common/index.js';
import type { Trace } from '../model/index.js';
import { isObject, normalizeTrace, TraceShapeError } from '../model/index.js';
import { hasAnyTrust, type TrustOptions } from '../verify/index.js';

export type TraceInputErrorCode =
  /** The argument looks like a file path (or is no valid image reference) and no such file exists. */
  | 'file-not-found'
  | 'is-directory'
  | 'unreadable'
  | 'not-json'
  /** JSON, but not a trace, a runtime-trace statement or a bundle holding one. */
  | 'not-a-trace'
  /** A statement or bundle that is well formed but carries no runtime trace. */
  | 'not-a-runtime-trace'
  /** A bundle/envelope whose payload cannot be decoded. */
  | 'bad-envelope'
  /** An image was named without --key. */
  | 'image-needs-key'
  /** An image was named but this build has no way to fetch attestations. */
  | 'image-fetch-unavailable'
  /** --key was given with a bundle file whose signature does not verify with it. */
  | 'verification-failed'
  /** --key (or an identity) was given with a file that is not a signed bundle. */
  | 'not-signed';

/** A trace argument cannot be used; the message names the argument and what is wrong. */
export class TraceInputError extends TracebuildError<TraceInputErrorCode> {
  override readonly name = 'TraceInputError';
  readonly exit: ExitKind;
  constructor(
    code: TraceInputErrorCode,
    /** The argument as given on the command line. */
    readonly input: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.exit = code === 'verification-failed' || code === 'not-signed' ? 'verify' : 'input';
  }
}

/** What an in-toto statement says it is about. */
export interface TraceSubject {
  name?: string;
  /** `sha256:<hex>` when the subject has a sha256 digest. */
  digest?: string;
}

export type TraceFileFormat = 'trace' | 'statement' | 'bundle' | 'envelope';

export interface TraceFileSource {
  kind: 'file';
  /** As given on the command line. */
  path: string;
  format: TraceFileFormat;
  /** True only when --key was given and the bundle's signature verified with it. */
  verified: boolean;
  /** The key that verified the bundle's signature. */
  keyId?: string;
  /** Who signed, in a few words. */
  signer?: string;
  subjects: TraceSubject[];
  predicateType?: string;
}

export interface TraceImageSource {
  kind: 'image';
  /** As given on the command line. */
  reference: string;
  /** The image the attestation was verified for (`name@sha256:...`), as the fetcher resolved it. */
  image: string;
  verified: true;
  keyId: string;
  signer?: string;
  subjects: TraceSubject[];
  predicateType?: string;
}

export type TraceSource = TraceFileSource | TraceImageSource;

export interface TraceInput {
  trace: Trace;
  source: TraceSource;
}

// ---- the image hook -----------------------------------------------------------------------

export interface ImageTraceFetchOptions {
  /** --key values, resolved against the working directory. */
  keyPaths: string[];
  /** Every trust flag (--key and the certificate ones), as given. */
  trust?: TrustOptions;
  env: NodeJS.ProcessEnv;
  cwd: string;
  signal?: AbortSignal;
}

/** What the fetcher returns once the image's runtime-trace attestation verified. */
export interface FetchedImageTrace {
  /** The verified in-toto Statement (its predicate is the runtime trace). */
  statement: unknown;
  /** The image it was verified for: `name@sha256:...`. */
  image: string;
  /** keyId of the trusted key that signed it. */
  keyId: string;
  /** Who signed, in a few words (a key, or a certificate's identity). */
  signer?: string;
}

/**
 * Fetches an image's runtime-trace attestation from its registry and verifies it with the
 * given keys (throwing the verify command's typed errors when it does not verify). Wired in
 * by the CLI's entry point; absent until the registry side exists.
 */
export type ImageTraceFetcher = (reference: string, options: ImageTraceFetchOptions) => Promise<FetchedImageTrace>;

export interface LoadTraceInputOptions {
  cwd: string;
  env?: NodeJS.ProcessEnv;
  /** --key values as given. */
  keyPaths?: readonly string[];
  /** The certificate trust flags too (verify --trace, show, diff); keyPaths alone when absent. */
  trust?: TrustOptions;
  fetchImageTrace?: ImageTraceFetcher;
  signal?: AbortSignal;
}

export const IMAGE_NEEDS_KEY = 'reading traces from images needs --key PUB or --certificate-identity (the attestation is verified first)';

// ---- documents ----------------------------------------------------------------------------

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const BUNDLE_MEDIA_TYPE_PREFIX = 'application/vnd.dev.sigstore.bundle';

export interface TraceDocument {
  trace: Trace;
  format: TraceFileFormat;
  subjects: TraceSubject[];
  predicateType?: string;
}

function subjectsOf(statement: Record<string, unknown>): TraceSubject[] {
  if (!Array.isArray(statement.subject)) return [];
  return statement.subject.filter(isObject).map((s) => {
    const out: TraceSubject = {};
    if (typeof s.name === 'string') out.name = s.name;
    const digest = isObject(s.digest) ? s.digest : {};
    if (typeof digest.sha256 === 'string') out.digest = `sha256:${digest.sha256}`;
    return out;
  });
}

function isStatement(doc: Record<string, unknown>): boolean {
  return typeof doc._type === 'string' && (doc._type.startsWith('https://in-toto.io/Statement/') || 'predicate' in doc);
}

function shapeMessage(err: unknown, what: string): string | undefined {
  return err instanceof TraceShapeError ? `${what}: ${err.message}` : undefined;
}

/** A statement's predicate as a trace: the predicate is the trace, its monitor under `details`. */
function traceFromStatement(statement: Record<string, unknown>, label: string, where: string): TraceDocument {
  const predicateType = typeof statement.predicateType === 'string' ? statement.predicateType : undefined;
  const predicate = statement.predicate;
  if (!isObject(predicate) || predicate.buildSteps === undefined) {
    throw new TraceInputError(
      'not-a-runtime-trace',
      label,
      `${label}: ${where}an in-toto Statement${predicateType === undefined ? '' : ` of predicateType ${JSON.stringify(predicateType)}`} whose predicate has no buildSteps: not a runtime trace`,
    );
  }
  const monitor = isObject(predicate.monitor) && isObject(predicate.monitor.details) ? predicate.monitor.details : predicate.monitor;
  let trace: Trace;
  try {
    trace = normalizeTrace({ ...predicate, monitor }, '$.predicate');
  } catch (err) {
    const message = shapeMessage(err, `${label}: ${where}not a runtime trace`);
    if (message === undefined) throw err;
    throw new TraceInputError('not-a-trace', label, message, { cause: err });
  }
  return { trace, format: 'statement', subjects: subjectsOf(statement), ...(predicateType === undefined ? {} : { predicateType }) };
}

/** The statement inside a DSSE envelope, decoded without checking any signature. */
function traceFromEnvelope(envelope: unknown, label: string, format: 'bundle' | 'envelope'): TraceDocument {
  if (!isObject(envelope) || typeof envelope.payload !== 'string' || typeof envelope.payloadType !== 'string') {
    throw new TraceInputError('bad-envelope', label, `${label}: the DSSE envelope has no payload or payloadType`);
  }
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new TraceInputError(
      'not-a-runtime-trace',
      label,
      `${label}: the DSSE payloadType is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`,
    );
  }
  let statement: unknown;
  try {
    statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
  } catch (cause) {
    throw new TraceInputError('bad-envelope', label, `${label}: the DSSE payload is not base64-encoded JSON`, { cause });
  }
  if (!isObject(statement) || !isStatement(statement)) {
    throw new TraceInputError('not-a-runtime-trace', label, `${label}: the DSSE payload is not an in-toto Statement`);
  }
  return { ...traceFromStatement(statement, label, 'DSSE payload: '), format };
}

/**
 * Reads a parsed JSON document as a trace, a statement or a bundle. `label` (the file name)
 * starts every error message. Nothing is verified.
 */
export function parseTraceDocument(doc: unknown, label: string): TraceDocument {
  if (!isObject(doc)) {
    throw new TraceInputError(
      'not-a-trace',
      label,
      `${label}: not a trace: the JSON is ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : `a ${typeof doc}`}, not an object with buildSteps`,
    );
  }
  if ((typeof doc.mediaType === 'string' && doc.mediaType.startsWith(BUNDLE_MEDIA_TYPE_PREFIX)) || 'verificationMaterial' in doc) {
    if (doc.dsseEnvelope === undefined) {
      throw new TraceInputError('not-a-runtime-trace', label, `${label}: a Sigstore bundle without a DSSE envelope: it holds no statement`);
    }
    return traceFromEnvelope(doc.dsseEnvelope, label, 'bundle');
  }
  if (typeof doc.payloadType === 'string' && 'payload' in doc && 'signatures' in doc) return traceFromEnvelope(doc, label, 'envelope');
  if (isStatement(doc)) return traceFromStatement(doc, label, '');
  try {
    return { trace: normalizeTrace(doc), format: 'trace', subjects: [] };
  } catch (err) {
    const message = shapeMessage(err, `${label}: not a trace`);
    if (message === undefined) throw err;
    throw new TraceInputError('not-a-trace', label, message, { cause: err });
  }
}

// ---- loading ------------------------------------------------------------------------------

/** Arguments that can only mean a file: a path form, or a name ending in .json. */
function looksLikePath(arg: string): boolean {
  if (/^(\.{1,2}|~)?[/\\]/.test(arg) || arg === '.' || arg === '..' || /\.json$/i.test(arg)) return true;
  try {
    parseImageReference(arg);
    return false;
  } catch {
    return true;
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function readDocument(arg: string, path: string): unknown {
  let text: string;
  try {
    // a regular file of bounded size: not a FIFO that blocks, nor /dev/zero (common/user-file.ts)
    text = readUserFile(path, { what: arg, maxBytes: USER_FILE_LIMITS.trace }).toString('utf8');
  } catch (cause) {
    if (cause instanceof UserFileError && cause.code === 'not-regular' && statSync(path).isDirectory()) {
      throw new TraceInputError('is-directory', arg, `${arg}: is a directory, not a trace file`, { cause });
    }
    const why = cause instanceof UserFileError ? cause.message : `${arg}: cannot be read: ${(cause as Error).message}`;
    throw new TraceInputError('unreadable', arg, why, { cause });
  }
  try {
    return JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (cause) {
    throw new TraceInputError('not-json', arg, `${arg}: not JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Checks a bundle file's signature with the trust given (its subject is taken as it is). */
async function verifyBundleFile(arg: string, bundle: unknown, doc: TraceDocument, trust: TrustOptions, cwd: string): Promise<{ keyId: string; signer: string }> {
  const [{ verifyBundle, describeSigner }, { loadTrust }] = await Promise.all([import('../attest/index.js'), import('../verify/index.js')]);
  const loaded = await loadTrust(trust, cwd);
  const digest = doc.subjects.find((s) => s.digest !== undefined)?.digest;
  if (digest === undefined) throw new TraceInputError('verification-failed', arg, `${arg}: the statement has no sha256 subject`);
  try {
    const verified = verifyBundle(bundle, {
      publicKeys: loaded.keys.map((k) => k.key),
      trust: loaded.bundle,
      expectedSubjectDigest: digest,
      ...(doc.predicateType === undefined ? {} : { predicateTypes: [doc.predicateType] }),
    });
    return { keyId: verified.keyId, signer: describeSigner(verified.signer) };
  } catch (cause) {
    throw new TraceInputError('verification-failed', arg, `${arg}: not verified with ${describeTrust(trust)}: ${(cause as Error).message}`, { cause });
  }
}

function describeTrust(trust: TrustOptions): string {
  return (trust.keyFiles?.length ?? 0) > 0 ? '--key' : '--certificate-identity';
}

/** Reads a trace from a file (see the top of this file) or from an image's attestation. */
export async function loadTraceInput(arg: string, options: LoadTraceInputOptions): Promise<TraceInput> {
  const path = resolve(options.cwd, arg);
  const keyPaths = (options.keyPaths ?? []).map((k) => resolve(options.cwd, k));
  const trust: TrustOptions = options.trust ?? { keyFiles: options.keyPaths ?? [] };
  const trusted = hasAnyTrust(trust);
  const isFile = await stat(path).then(
    () => true,
    (err: unknown) => {
      if (errno(err) === 'ENOENT' || errno(err) === 'ENOTDIR') return false;
      throw new TraceInputError('unreadable', arg, `${arg}: cannot be read: ${(err as Error).message}`, { cause: err });
    },
  );

  if (isFile) {
    const raw = readDocument(arg, path);
    const doc = parseTraceDocument(raw, arg);
    const source: TraceFileSource = {
      kind: 'file',
      path: arg,
      format: doc.format,
      verified: false,
      subjects: doc.subjects,
      ...(doc.predicateType === undefined ? {} : { predicateType: doc.predicateType }),
    };
    if (trusted) {
      if (doc.format !== 'bundle') {
        const what = doc.format === 'trace' ? 'a trace file' : doc.format === 'statement' ? 'a bare in-toto statement' : 'a DSSE envelope without its verification material';
        throw new TraceInputError(
          'not-signed',
          arg,
          `${arg}: ${what}, not a signed Sigstore bundle: ${describeTrust(trust)} asks for a signature, and this file has none that can be checked`,
        );
      }
      const checked = await verifyBundleFile(arg, raw, doc, trust, options.cwd);
      source.keyId = checked.keyId;
      source.signer = checked.signer;
      source.verified = true;
    }
    return { trace: doc.trace, source };
  }

  if (looksLikePath(arg)) throw new TraceInputError('file-not-found', arg, `${arg}: no such file`);
  if (!trusted) throw new TraceInputError('image-needs-key', arg, `${arg}: not a file; ${IMAGE_NEEDS_KEY}`);
  if (options.fetchImageTrace === undefined) {
    throw new TraceInputError(
      'image-fetch-unavailable',
      arg,
      `${arg}: not a file, and reading traces from images is not wired into this build yet (no attestation fetcher); give a trace, statement or bundle file`,
    );
  }
  const fetched = await options.fetchImageTrace(arg, {
    keyPaths,
    trust,
    env: options.env ?? {},
    cwd: options.cwd,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  });
  const label = `${arg} (attestation of ${fetched.image})`;
  if (!isObject(fetched.statement) || !isStatement(fetched.statement)) {
    throw new TraceInputError('not-a-runtime-trace', arg, `${label}: not an in-toto Statement`);
  }
  const doc = traceFromStatement(fetched.statement, label, '');
  return {
    trace: doc.trace,
    source: {
      kind: 'image',
      reference: arg,
      image: fetched.image,
      verified: true,
      keyId: fetched.keyId,
      ...(fetched.signer === undefined ? {} : { signer: fetched.signer }),
      subjects: doc.subjects,
      ...(doc.predicateType === undefined ? {} : { predicateType: doc.predicateType }),
    },
  };
}

/** One line saying where a trace came from and whether anything was verified. */
export function describeSource(source: TraceSource): string {
  if (source.kind === 'image') return `image ${source.image}, attestation verified: signed by ${source.signer ?? `key ${source.keyId}`}`;
  switch (source.format) {
    case 'trace':
      return `${source.path} (trace file, unsigned)`;
    case 'statement':
      return `${source.path} (in-toto statement file; not verified: use \`tracebuild verify\`)`;
    case 'bundle':
    case 'envelope':
      return source.verified
        ? `${source.path} (Sigstore ${source.format}; signature verified: signed by ${source.signer ?? `key ${source.keyId ?? '?'}`}; its image was not checked: use \`tracebuild verify\`)`
        : `${source.path} (Sigstore ${source.format}; not verified: use \`tracebuild verify\`)`;
  }
}
