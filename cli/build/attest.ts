// The signing phases of `tracebuild build (--key FILE [--cert CHAIN] | --keyless) [--push]`:
//
//   signing-check  (right after prepare, before anything is built) flags that cannot work
//                  together are usage errors; the private key is loaded (ours or cosign.key;
//                  password from TRACEBUILD_KEY_PASSWORD, else COSIGN_PASSWORD, else typed on
//                  the terminal), so a wrong password fails before the build; a --cert must be
//                  the key's and valid now; --keyless reads its identity token (never printed)
//                  and signs through Fulcio, logging in Rekor (@sigstore/sign); --rekor-url
//                  and --tsa-url add a log entry and an RFC 3161 timestamp to any of them
//   attest         (after push) per pushed repository and manifest digest: the runtime-trace
//                  statement (from `run.trace`; none with --no-trace, said as a warning) and
//                  the SLSA provenance, signed into Sigstore bundles and attached as OCI
//                  referrers (attest-referrer.ts for the layout) through the referrers API
//                  when the registry has it, else the sha256-<hex> tag schema, merged with
//                  whatever other tools attached
//
// `--key` without `--push`: there is no manifest digest yet, so the statements are about the
// local image id (`docker image inspect`'s Id, the config digest) and the bundles are only
// written to files: `--attest-out DIR`, else the directory of `--trace-out`; with neither
// it is a usage error. `--attest-out` with `--push` writes the attached bundles there too.
//
// Failure after the push is never success: if signing or attaching fails once an image is
// in the registry, the command exits 1 with NotAttestedError naming what was pushed.

import type { KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { ImageRef, SerializedBundle, SignOptions, Statement } from '../../attest/index.js';
import { passwordFromEnv, processTerminal, promptPassword } from '../password.js';
import { EMPTY_JSON, MediaType, parseReference, type AttachResult } from '../../oci/index.js';
import type { DockerfileAstView } from '../contracts.js';
import { UsageError } from '../errors.js';
import { NotAttestedError } from './errors.js';
import { BUNDLE_MEDIA_TYPE, bundleReferrerManifest, registryClient } from '../../verify/index.js';
import { provenanceInput, runtimeTraceInput, type BuildFacts } from './attest-statements.js';
import type { BuildPhase, BuildRun } from './types.js';
import { engineTarget, inspectImage } from '../../engine/index.js';
import { USER_FILE_LIMITS, UserFileError, parseImageReference, readUserFile } from '../../common/index.js';

/** What the signing-check phase prepared for the attest phase. */
export interface SigningSetup {
  /** How to sign, and the witnesses (attest's SignOptions). */
  options: SignOptions;
  /** Who signs, for the summary line: `key 3f2a…`, `certificate for spiffe://…`, `keyless (Fulcio at …)`. */
  label: string;
  /** The key id, when signing with a key (with or without its certificate). */
  keyId?: string;
  startedOn: Date;
}

/** One signed statement, and where it went. */
export interface AttestationRecord {
  kind: 'runtime-trace' | 'provenance';
  predicateType: string;
  subject: ImageRef;
  bundle: SerializedBundle;
  /** Set when attached to the registry. */
  referrer?: AttachResult;
  /** Set when written to a file. */
  file?: string;
}

type AnyRun<Ast extends DockerfileAstView, Def, E> = BuildRun<Ast, Def, E>;

/** Where `--key` writes bundle files: --attest-out, else next to --trace-out, else nowhere. */
function bundleDir(run: AnyRun<DockerfileAstView, unknown, unknown>): string | undefined {
  const { attestOut } = run.request;
  if (attestOut !== undefined && attestOut !== '') return resolve(run.io.cwd, attestOut);
  const { traceOut } = run.request;
  return traceOut === undefined || traceOut === '' ? undefined : dirname(resolve(run.io.cwd, traceOut));
}

/** A key file's text, or '' when it cannot be read as a regular file of bounded size. */
function readTextOrEmpty(path: string): string {
  try {
    return readUserFile(path, { what: `key file ${path}`, maxBytes: USER_FILE_LIMITS.key }).toString('utf8');
  } catch {
    return '';
  }
}

/** `--identity-token`: a file holding the token, or the token itself (as cosign takes it). Never printed. */
async function identityToken(value: string, cwd: string): Promise<string> {
  const path = resolve(cwd, value);
  let text: string | undefined;
  try {
    // regular and bounded (common/user-file.ts): a token is a few KiB
    text = readUserFile(path, { what: '--identity-token', maxBytes: USER_FILE_LIMITS.key }).toString('utf8').trim();
  } catch (err) {
    // not a file (a token given inline is often too long to be a file name): maybe a JWT
    const notAFile = err instanceof UserFileError && (err.code === 'not-found' || (err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENAMETOOLONG');
    if (!notAFile) throw new UsageError('bad-flag', err instanceof UserFileError ? err.message : `--identity-token: ${(err as Error).message}`);
  }
  if (text !== undefined) {
    if (text === '') throw new UsageError('bad-flag', '--identity-token: the file is empty');
    return text;
  }
  if (/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(value)) return value;
  throw new UsageError('bad-flag', '--identity-token: neither a file nor a JWT');
}

function checkUrl(flag: string, value: string | undefined): void {
  if (value === undefined) return;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError('bad-flag', `${flag}: "${value}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new UsageError('bad-flag', `${flag}: "${value}" is not an http(s) URL`);
}

/** The private key of --key, with its password from the environment or the terminal. */
async function signingKey(run: AnyRun<DockerfileAstView, unknown, unknown>, file: string): Promise<KeyObject> {
  const attest = await import('../../attest/index.js');
  const path = resolve(run.io.cwd, file);
  const fromEnv = passwordFromEnv(run.io.env);
  let password: string | undefined = fromEnv?.value;
  if (password === undefined && (await attest.privateKeyFileIsEncrypted(path))) {
    const terminal = processTerminal(run.io.stderr);
    if (terminal === undefined) {
      throw new attest.AttestationError('password-required', `${path} is encrypted: set TRACEBUILD_KEY_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to type it`);
    }
    password = await promptPassword(terminal, { confirm: false });
  }
  // Our PKCS#8 keys: an empty variable means no password (an unencrypted key); cosign's
  // format takes the empty password as a password.
  const pem = readTextOrEmpty(path); // loadPrivateKey says what is wrong with an unreadable file
  const usable = password === '' && !attest.isCosignKeyPem(pem) ? undefined : password;
  return attest.loadPrivateKey(path, usable);
}

export function signingCheckPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'signing-check',
    async run(runIn) {
      const run = runIn as unknown as AnyRun<DockerfileAstView, unknown, unknown>;
      const { push, key, cert, keyless, attestOut, identityToken: token, fulcioUrl, rekorUrl, tsaUrl } = run.request;
      if (push === true && run.tags.length === 0) {
        throw new UsageError('bad-flag', '--push needs at least one -t NAME to push to');
      }
      const signs = key !== undefined || keyless === true;
      if (key !== undefined && keyless === true) throw new UsageError('bad-flag', '--key and --keyless exclude each other: sign with your key, or with a Fulcio certificate');
      if (cert !== undefined && key === undefined) throw new UsageError('bad-flag', '--cert needs --key FILE: the private key of the certificate');
      if ((token !== undefined || fulcioUrl !== undefined) && keyless !== true) throw new UsageError('bad-flag', '--identity-token and --fulcio-url are for --keyless');
      if ((rekorUrl !== undefined || tsaUrl !== undefined) && !signs) throw new UsageError('bad-flag', '--rekor-url and --tsa-url need --key or --keyless');
      if (attestOut !== undefined && !signs) {
        throw new UsageError('bad-flag', '--attest-out needs --key FILE (or --keyless) to sign the attestations with');
      }
      checkUrl('--fulcio-url', fulcioUrl);
      checkUrl('--rekor-url', rekorUrl);
      checkUrl('--tsa-url', tsaUrl);
      if (!signs) {
        if (push === true) run.io.stderr.write('warning: --push without --key: the image is pushed without attestations\n');
        return;
      }
      if (push !== true && bundleDir(run) === undefined) {
        throw new UsageError(
          'bad-flag',
          `${keyless === true ? '--keyless' : '--key'} without --push signs the local image id and needs --attest-out DIR (or --trace-out FILE) to write the bundles to; add --push to attach them to the pushed image`,
        );
      }
      const attest = await import('../../attest/index.js');
      const witnesses = { ...(rekorUrl === undefined ? {} : { rekorUrl }), ...(tsaUrl === undefined ? {} : { tsaUrl }) };
      const startedOn = new Date(run.io.clock.now());
      if (keyless === true) {
        const fulcio = fulcioUrl ?? attest.DEFAULT_FULCIO_URL;
        const tokenValue = token === undefined ? undefined : await identityToken(token, run.io.cwd);
        run.signing = {
          options: { method: { kind: 'keyless', fulcioUrl: fulcio, ...(tokenValue === undefined ? {} : { identityToken: tokenValue }) }, ...witnesses },
          label: `a Fulcio certificate (${fulcio}) for the OIDC identity of ${token === undefined ? 'the ambient CI token' : 'the --identity-token'}`,
          startedOn,
        };
        return;
      }
      const privateKey = await signingKey(run, key ?? '');
      const id = attest.keyId(privateKey);
      if (cert !== undefined) {
        const certPath = resolve(run.io.cwd, cert);
        let chain: string;
        try {
          chain = readUserFile(certPath, { what: `--cert ${cert}`, maxBytes: USER_FILE_LIMITS.key }).toString('utf8');
        } catch (err) {
          throw new UsageError('bad-flag', err instanceof UserFileError ? err.message : `--cert ${cert}: cannot be read: ${(err as Error).message}`);
        }
        const leaf = attest.signingCertificate(chain, privateKey, startedOn, cert);
        const sans = attest.subjectAlternativeNames(leaf.certificate);
        run.signing = {
          options: { method: { kind: 'certificate', privateKey, certificatePem: leaf.pem }, ...witnesses },
          label: `certificate for ${sans.join(', ') || '(no SAN)'} (valid until ${leaf.certificate.notAfter.toISOString()})`,
          keyId: id,
          startedOn,
        };
        return;
      }
      run.signing = { options: { method: { kind: 'key', privateKey }, ...witnesses }, label: `key ${short(id)}…`, keyId: id, startedOn };
    },
  };
}

/**
 * Base images as the conversion resolved them; one that came without a digest (a local
 * image such as busybox:local: the daemon resolves it from its store and reports none) gets
 * the digest dockerd has for it: a manifest digest of the same repository when it knows one,
 * else its image id (named in `localImages`).
 */
export async function resolveBaseImages(
  run: AnyRun<DockerfileAstView, unknown, unknown>,
): Promise<{ baseImages: { ref: string; digest?: string }[]; localImages: string[] }> {
  const listed = run.conversion?.baseImages ?? [];
  const localImages: string[] = [];
  if (listed.every((b) => b.digest !== undefined) || (run.io.env.BUILDKIT_HOST?.trim() ?? '') !== '') {
    return { baseImages: [...listed], localImages };
  }
  let target: ReturnType<typeof engineTarget>;
  try {
    target = engineTarget(run.io.env);
  } catch {
    return { baseImages: [...listed], localImages };
  }
  const out: { ref: string; digest?: string }[] = [];
  for (const b of listed) {
    if (b.digest !== undefined) {
      out.push(b);
      continue;
    }
    try {
      const image = await inspectImage(target, b.ref, run.io.signal);
      if (image === undefined) {
        out.push(b);
        continue;
      }
      const wanted = parseImageReference(b.ref);
      const sameRepo = image.repoDigests.find((rd) => {
        try {
          const n = parseImageReference(rd);
          return n.registry === wanted.registry && n.repository === wanted.repository && n.digest !== undefined;
        } catch {
          return false;
        }
      });
      if (sameRepo !== undefined) {
        out.push({ ref: b.ref, digest: sameRepo.slice(sameRepo.indexOf('@') + 1) });
      } else {
        out.push({ ref: b.ref, digest: image.id });
        localImages.push(b.ref);
      }
    } catch {
      out.push(b);
    }
  }
  return { baseImages: out, localImages };
}

async function gatherFacts(run: AnyRun<DockerfileAstView, unknown, unknown>, setup: SigningSetup): Promise<BuildFacts> {
  const facts = buildFacts(run, setup);
  const resolved = await resolveBaseImages(run);
  facts.baseImages = resolved.baseImages;
  if (resolved.localImages.length > 0) facts.localBaseImages = resolved.localImages;
  return facts;
}

function buildFacts(run: AnyRun<DockerfileAstView, unknown, unknown>, setup: SigningSetup): BuildFacts {
  const inputs = run.inputs;
  if (inputs === undefined) throw new Error('internal: inputs are not ready (phase order)');
  const trace = run.trace;
  return {
    cwd: run.io.cwd,
    contextDir: inputs.contextDir,
    dockerfilePath: inputs.dockerfilePath,
    dockerfileText: inputs.dockerfileText,
    buildArgs: run.buildArgs,
    secrets: run.secrets,
    ...(run.request.target === undefined ? {} : { target: run.request.target }),
    network: run.request.network,
    noCache: run.request.noCache,
    baseImages: run.conversion?.baseImages ?? [],
    ...(run.imageId === undefined ? {} : { imageId: run.imageId }),
    ...(trace === undefined ? {} : { trace }),
    invocationId: randomUUID(),
    hostId: `https://tracebuild.dev/hosts/${encodeURIComponent(hostname())}`,
    startedOn: setup.startedOn,
    finishedOn: new Date(run.io.clock.now()),
  };
}

/** Signs the statements about one image (runtime trace first, when there is a trace). */
async function signFor(facts: BuildFacts, image: ImageRef, setup: SigningSetup): Promise<Omit<AttestationRecord, 'referrer' | 'file'>[]> {
  const attest = await import('../../attest/index.js');
  const statements: { kind: AttestationRecord['kind']; statement: Statement }[] = [];
  const traceInput = runtimeTraceInput(facts, image);
  if (traceInput !== undefined) statements.push({ kind: 'runtime-trace', statement: attest.buildRuntimeTraceStatement(traceInput) });
  statements.push({ kind: 'provenance', statement: attest.buildSlsaProvenanceStatement(provenanceInput(facts, image)) });
  const out: Omit<AttestationRecord, 'referrer' | 'file'>[] = [];
  for (const { kind, statement } of statements) {
    out.push({ kind, predicateType: statement.predicateType, subject: image, bundle: await attest.signStatement(statement, setup.options) });
  }
  return out;
}

function bundleBytes(bundle: SerializedBundle): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(bundle));
}

function fileSafe(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '_');
}

async function writeBundles(dir: string, records: AttestationRecord[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const r of records) {
    const hex = r.subject.digest.replace(/^sha256:/, '').slice(0, 12);
    const file = join(dir, `${fileSafe(r.subject.name)}.sha256-${hex}.${r.kind}.sigstore.json`);
    await writeFile(file, `${JSON.stringify(r.bundle, null, 2)}\n`);
    r.file = file;
  }
}

/** Who signed a bundle we just made: the key (short), or the certificate's identity (keyless: Fulcio's). */
async function signerOf(bundle: SerializedBundle | undefined): Promise<string | undefined> {
  const hint = bundle?.verificationMaterial.publicKey?.hint;
  if (hint !== undefined) return `key ${short(hint)}…`;
  const raw = bundle?.verificationMaterial.certificate?.rawBytes;
  if (raw === undefined) return undefined;
  const attest = await import('../../attest/index.js');
  const pem = `-----BEGIN CERTIFICATE-----\n${raw}\n-----END CERTIFICATE-----\n`;
  const sans = attest.parseCertificates(pem, 'bundle').flatMap((c) => attest.subjectAlternativeNames(c));
  return `certificate for ${sans.join(', ') || '(no SAN)'}`;
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

export function attestPhase<Ast extends DockerfileAstView, Def, E>(): BuildPhase<Ast, Def, E> {
  return {
    name: 'attest',
    async run(runIn) {
      const run = runIn as AnyRun<DockerfileAstView, unknown, unknown>;
      const setup = run.signing;
      if (setup === undefined) return;
      const { io } = run;
      const trace = run.trace;
      if (trace === undefined) {
        io.stderr.write('warning: no runtime trace was recorded (--no-trace, or tracing was unavailable): only the SLSA provenance is signed\n');
      }
      const dir = bundleDir(run);
      const records: AttestationRecord[] = [];

      if (run.request.push !== true) {
        const facts = await gatherFacts(run, setup);
        const imageId = run.imageId;
        if (imageId === undefined) throw new Error('internal: no image id to attest');
        const names = [...new Set(run.tags.map((t) => `${t.registry}/${t.repository}`))];
        for (const name of names.length > 0 ? names : ['image']) {
          records.push(...(await signFor(facts, { name, digest: imageId }, setup)));
        }
        if (dir === undefined) throw new Error('internal: no directory for the bundles');
        await writeBundles(dir, records);
        run.attestations = records;
        if (!run.request.quiet) {
          for (const r of records) io.stdout.write(`Signed ${r.kind} attestation of ${r.subject.name}@${r.subject.digest} (image id): ${r.file ?? ''}\n`);
        }
        return;
      }

      const pushed = run.pushed ?? [];
      const images = new Map<string, ImageRef>();
      for (const p of pushed) images.set(`${p.repository}@${p.digest}`, { name: p.repository, digest: p.digest });
      const pushedRefs = [...images.keys()];
      const client = registryClient(io.env);
      try {
        const facts = await gatherFacts(run, setup);
        for (const image of images.values()) {
          const repo = parseReference(image.name).withDigest(image.digest);
          const subject = await client.resolveManifest(repo);
          const signed = await signFor(facts, image, setup);
          for (const s of signed) {
            const bytes = bundleBytes(s.bundle);
            await client.pushBlob(repo, EMPTY_JSON, { mediaType: MediaType.OciEmpty });
            const layer = await client.pushBlob(repo, bytes, { mediaType: BUNDLE_MEDIA_TYPE });
            const manifest = bundleReferrerManifest({ subject, bundle: layer, predicateType: s.predicateType, created: new Date(io.clock.now()) });
            const referrer = await client.attachReferrer(repo, new TextEncoder().encode(JSON.stringify(manifest)));
            records.push({ ...s, referrer });
          }
        }
      } catch (cause) {
        const what = cause instanceof Error ? cause.message : String(cause);
        throw new NotAttestedError(
          pushedRefs,
          `image pushed as ${pushedRefs.join(', ')} but not attested: ${what}`,
          { cause },
        );
      }
      if (dir !== undefined) await writeBundles(dir, records);
      run.attestations = records;
      if (!run.request.quiet) {
        for (const image of images.values()) {
          const mine = records.filter((r) => r.subject.name === image.name && r.subject.digest === image.digest);
          const parts = mine.map((r) => `${r.kind} ${r.referrer?.descriptor.digest ?? '?'}`);
          const via = mine[0]?.referrer?.via ?? '?';
          const witnessed = [setup.options.rekorUrl === undefined && setup.options.method?.kind !== 'keyless' ? undefined : 'logged in Rekor', setup.options.tsaUrl === undefined ? undefined : 'timestamped'].filter((w) => w !== undefined);
          const signer = (await signerOf(mine[0]?.bundle)) ?? setup.label;
          io.stdout.write(`Attested ${image.name}@${image.digest}: ${parts.join(', ')} (signed by ${signer}${witnessed.length > 0 ? `, ${witnessed.join(', ')}` : ''}, referrers via ${via})\n`);
        }
      }
    },
  };
}
