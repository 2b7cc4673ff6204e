/**
 * The distribution client: manifests, blobs, tags and referrers over the OCI
 * distribution API, with challenge-first authentication and bounded retries.
 */
import { Authenticator } from './auth.js';
import { anonymous, type CredentialStore } from './credentials.js';
import { algorithmOf, digestOf, matchesDigest } from './digest.js';
import { RegistryError, codeForStatus, parseRegistryErrorBody, type RegistryOperation } from './errors.js';
import {
  EMPTY_JSON, EMPTY_JSON_DIGEST, INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MediaType,
  type Descriptor, type ImageManifest,
} from './media-types.js';
import { DOCKER_HUB, DOCKER_HUB_API_HOST, Reference, hostWithoutPort, isLocalHost, parseReference, parseReferenceWithDefaultTag } from './reference.js';
import {
  artifactTypeFilterApplied, artifactTypeOf, emptyReferrersIndex, filterByArtifactType, indexDescriptors, mergeReferrer,
  nextLink, referrersTag, type ReferrerLister, type ReferrersCapability,
} from './referrers.js';
import { DEFAULT_RETRY, isRetryableStatus, send, type HttpRequest, type HttpResponse, type RetryPolicy, type TransportOptions } from './transport.js';

export interface RegistryClientOptions {
  credentials?: CredentialStore;
  /** Registry hosts (`host` or `host:port`) spoken to over plain http; localhost and 127.0.0.1 always are. */
  insecureRegistries?: readonly string[];
  retry?: Partial<RetryPolicy>;
  /** Per-request timeout; default 120 s. */
  timeoutMs?: number;
  userAgent?: string;
  /** Blobs larger than this are uploaded in PATCH chunks of this size; default 8 MiB. */
  chunkSize?: number;
  /** For tests: how to wait between retries. */
  sleep?: (ms: number) => Promise<void>;
}

export type RefLike = Reference | string;

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Uint8Array;
  /** The parsed JSON document. */
  manifest: Record<string, unknown>;
}

export interface PushedManifest {
  descriptor: Descriptor;
  /** The `OCI-Subject` response header: the registry processed the manifest's subject. */
  subjectProcessed: string | undefined;
}

export interface PushBlobOptions {
  mediaType?: string;
  /** Try a cross-repository mount from this repository (same registry) first. */
  mountFrom?: string;
  /** Overrides the client's chunk size for this blob; 0 or Infinity forces monolithic. */
  chunkSize?: number;
}

export interface AttachResult {
  /** The pushed referrer manifest, as listed in referrers answers. */
  descriptor: Descriptor;
  subject: Descriptor;
  /** How the referrer is discoverable: the registry indexed it, or we wrote the tag-schema index. */
  via: 'referrers-api' | 'tag-schema';
}

export interface ArtifactLayer {
  mediaType: string;
  data: Uint8Array;
  annotations?: Record<string, string>;
}

export interface ManifestStore {
  getManifest(ref: RefLike, options?: { accept?: readonly string[] }): Promise<FetchedManifest>;
  resolveManifest(ref: RefLike): Promise<Descriptor>;
  putManifest(ref: RefLike, content: Uint8Array | object, mediaType?: string): Promise<PushedManifest>;
}

export interface BlobStore {
  blobExists(repo: RefLike, digest: string): Promise<Descriptor | undefined>;
  fetchBlob(repo: RefLike, digest: string): Promise<Uint8Array>;
  pushBlob(repo: RefLike, data: Uint8Array, options?: PushBlobOptions): Promise<Descriptor>;
}

export interface ReferrerAttacher {
  attachReferrer(subject: RefLike, manifest: ImageManifest | Uint8Array): Promise<AttachResult>;
}

const DEFAULT_CHUNK_SIZE = 8 * 1024 * 1024;
const MAX_MANIFEST_BYTES = 16 * 1024 * 1024;
const MAX_PAGES = 1000;
const INDEX_WRITE_ATTEMPTS = 3;

function toRef(ref: RefLike): Reference {
  return typeof ref === 'string' ? parseReferenceWithDefaultTag(ref) : ref;
}

function toRepo(ref: RefLike): Reference {
  return typeof ref === 'string' ? parseReference(ref) : ref;
}

function mediaTypeOf(headers: Headers): string | undefined {
  const ct = headers.get('content-type');
  if (!ct) return undefined;
  return ct.split(';')[0]?.trim().toLowerCase() || undefined;
}

function jsonBytes(v: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(v));
}

export class RegistryClient implements ManifestStore, BlobStore, ReferrerAttacher {
  private readonly transport: TransportOptions;
  private readonly auth: Authenticator;
  private readonly insecure: Set<string>;
  private readonly chunkSize: number;
  private readonly capabilities = new Map<string, ReferrersCapability>();

  constructor(options: RegistryClientOptions = {}) {
    this.transport = {
      retry: { ...DEFAULT_RETRY, ...options.retry },
      timeoutMs: options.timeoutMs ?? 120_000,
      userAgent: options.userAgent ?? 'tracebuild',
      ...(options.sleep ? { sleep: options.sleep } : {}),
    };
    this.insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()));
    this.chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    this.auth = new Authenticator({
      credentials: options.credentials ?? anonymous,
      transport: this.transport,
      isInsecureHost: (h) => this.insecure.has(h.toLowerCase()),
      clientId: this.transport.userAgent,
    });
  }

  // ---------------------------------------------------------------- plumbing

  /** `http://` for localhost, 127.0.0.1 and the insecure list; `https://` for everything else. */
  baseUrl(registry: string): URL {
    const host = registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
    const h = host.toLowerCase();
    const plain = isLocalHost(h) || this.insecure.has(h) || this.insecure.has(hostWithoutPort(h));
    return new URL(`${plain ? 'http' : 'https'}://${host}/`);
  }

  private url(ref: Reference, path: string): URL {
    return new URL(`/v2/${ref.repository}/${path}`, this.baseUrl(ref.registry));
  }

  private async request(
    operation: RegistryOperation,
    ref: Reference,
    display: string,
    req: HttpRequest,
    access: { push?: boolean; extraScopes?: readonly string[]; scopes?: readonly string[] } = {},
  ): Promise<HttpResponse> {
    const base = this.baseUrl(ref.registry);
    if (req.url.origin !== base.origin) {
      throw new RegistryError(`refusing to follow the registry to another origin (${req.url.origin})`, { code: 'bad-response', operation, reference: display });
    }
    const scopes = access.scopes ?? [`repository:${ref.repository}:${access.push ? 'pull,push' : 'pull'}`, ...(access.extraScopes ?? [])];
    const headers = { ...req.headers };
    const pre = await this.auth.authorization(ref.registry, scopes, operation, display);
    if (pre) headers.authorization = pre;
    let res = await send({ ...req, headers }, this.transport, operation, display);
    if (res.status === 401) {
      headers.authorization = await this.auth.respondToChallenge(ref.registry, res.headers.get('www-authenticate'), scopes, operation, display);
      res = await send({ ...req, headers }, this.transport, operation, display);
    }
    return res;
  }

  private fail(res: HttpResponse, operation: RegistryOperation, display: string, what: string): RegistryError {
    const { codes, message } = parseRegistryErrorBody(res.body);
    return new RegistryError(what, {
      code: codeForStatus(res.status, operation, codes),
      operation, reference: display, status: res.status, registryCodes: codes,
      ...(message ? { registryMessage: message } : {}),
    });
  }

  /** Checks the registry speaks the v2 API (authenticating if it asks). */
  async ping(registry: string): Promise<void> {
    const ref = new Reference(registry, '_');
    const res = await this.request('ping', ref, registry, { method: 'GET', url: new URL('/v2/', this.baseUrl(registry)) }, { scopes: [] });
    if (res.status !== 200) throw this.fail(res, 'ping', registry, 'registry does not answer the v2 API');
  }

  // --------------------------------------------------------------- manifests

  async getManifest(refIn: RefLike, options: { accept?: readonly string[] } = {}): Promise<FetchedManifest> {
    const ref = toRef(refIn);
    const op = 'manifest.get';
    const display = ref.toString();
    const accept = (options.accept ?? MANIFEST_MEDIA_TYPES).join(', ');
    const res = await this.request(op, ref, display, { method: 'GET', url: this.url(ref, `manifests/${ref.manifestReference}`), headers: { accept } });
    if (res.status !== 200) throw this.fail(res, op, display, 'cannot get manifest');
    return this.checkManifest(res, ref, op, display);
  }

  private checkManifest(res: HttpResponse, ref: Reference, op: RegistryOperation, display: string): FetchedManifest {
    const bytes = res.body;
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new RegistryError(`manifest is ${bytes.byteLength} bytes, more than ${MAX_MANIFEST_BYTES}`, { code: 'manifest-invalid', operation: op, reference: display, status: res.status });
    }
    if (ref.digest !== undefined && !matchesDigest(bytes, ref.digest)) {
      throw new RegistryError(`manifest bytes hash to ${digestOf(bytes, algorithmOf(ref.digest) ?? 'sha256')}, not the digest asked for`, { code: 'digest-mismatch', operation: op, reference: display, status: res.status });
    }
    const announced = res.headers.get('docker-content-digest')?.trim();
    if (announced && algorithmOf(announced) !== undefined && !matchesDigest(bytes, announced)) {
      throw new RegistryError(`Docker-Content-Digest ${announced} does not match the manifest bytes (${digestOf(bytes, algorithmOf(announced))})`, { code: 'digest-mismatch', operation: op, reference: display, status: res.status });
    }
    let manifest: unknown;
    try {
      manifest = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch (e) {
      throw new RegistryError('manifest is not JSON', { code: 'manifest-invalid', operation: op, reference: display, status: res.status, cause: e });
    }
    if (typeof manifest !== 'object' || manifest === null || Array.isArray(manifest)) {
      throw new RegistryError('manifest is not a JSON object', { code: 'manifest-invalid', operation: op, reference: display, status: res.status });
    }
    const doc = manifest as Record<string, unknown>;
    const headerType = mediaTypeOf(res.headers);
    const mediaType = headerType && MANIFEST_MEDIA_TYPES.includes(headerType) ? headerType : typeof doc.mediaType === 'string' ? doc.mediaType : headerType ?? MediaType.OciManifest;
    const digest = ref.digest ?? (announced && algorithmOf(announced) ? announced : digestOf(bytes));
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, bytes, manifest: doc };
  }

  async resolveManifest(refIn: RefLike): Promise<Descriptor> {
    const ref = toRef(refIn);
    const op = 'manifest.head';
    const display = ref.toString();
    const res = await this.request(op, ref, display, { method: 'HEAD', url: this.url(ref, `manifests/${ref.manifestReference}`), headers: { accept: MANIFEST_MEDIA_TYPES.join(', ') } });
    if (res.status !== 200) throw this.fail(res, op, display, 'cannot resolve manifest');
    const announced = res.headers.get('docker-content-digest')?.trim();
    const length = Number(res.headers.get('content-length') ?? NaN);
    const mediaType = mediaTypeOf(res.headers);
    if (ref.digest !== undefined && Number.isSafeInteger(length) && mediaType) return { mediaType, digest: ref.digest, size: length };
    if (announced && algorithmOf(announced) && Number.isSafeInteger(length) && mediaType) {
      return { mediaType, digest: announced, size: length };
    }
    // Not enough in the headers: read the manifest and compute.
    return (await this.getManifest(ref)).descriptor;
  }

  async putManifest(refIn: RefLike, content: Uint8Array | object, mediaTypeIn?: string): Promise<PushedManifest> {
    const ref = toRef(refIn);
    const op = 'manifest.put';
    const display = ref.toString();
    const bytes = content instanceof Uint8Array ? content : jsonBytes(content);
    let mediaType = mediaTypeIn;
    if (mediaType === undefined) {
      try {
        const doc = content instanceof Uint8Array ? (JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown }) : (content as { mediaType?: unknown });
        if (typeof doc.mediaType === 'string') mediaType = doc.mediaType;
      } catch (e) {
        throw new RegistryError('manifest is not JSON', { code: 'manifest-invalid', operation: op, reference: display, cause: e });
      }
    }
    if (mediaType === undefined) throw new RegistryError('manifest has no mediaType and none was given', { code: 'manifest-invalid', operation: op, reference: display });
    const digest = ref.digest ? digestOf(bytes, algorithmOf(ref.digest) ?? 'sha256') : digestOf(bytes);
    if (ref.digest !== undefined && digest !== ref.digest) {
      throw new RegistryError(`manifest bytes hash to ${digest}, not the digest in the reference`, { code: 'digest-mismatch', operation: op, reference: display });
    }
    const res = await this.request(op, ref, display, {
      method: 'PUT', url: this.url(ref, `manifests/${ref.manifestReference}`), headers: { 'content-type': mediaType }, body: bytes,
    }, { push: true });
    if (res.status !== 201 && res.status !== 200 && res.status !== 202) throw this.fail(res, op, display, 'cannot put manifest');
    const announced = res.headers.get('docker-content-digest')?.trim();
    if (announced && algorithmOf(announced) === algorithmOf(digest) && announced !== digest) {
      throw new RegistryError(`registry stored the manifest as ${announced}, but its bytes hash to ${digest}`, { code: 'digest-mismatch', operation: op, reference: display, status: res.status });
    }
    const subject = res.headers.get('oci-subject')?.trim() || undefined;
    return { descriptor: { mediaType, digest, size: bytes.byteLength }, subjectProcessed: subject };
  }

  async deleteManifest(refIn: RefLike): Promise<void> {
    const ref = toRef(refIn);
    const op = 'manifest.delete';
    const display = ref.toString();
    const res = await this.request(op, ref, display, { method: 'DELETE', url: this.url(ref, `manifests/${ref.manifestReference}`) }, { push: true });
    if (res.status !== 202 && res.status !== 200 && res.status !== 204) throw this.fail(res, op, display, 'cannot delete manifest');
  }

  async listTags(repoIn: RefLike): Promise<string[]> {
    const ref = toRepo(repoIn);
    const op = 'tags.list';
    const display = ref.name;
    const tags: string[] = [];
    let url: URL | undefined = this.url(ref, 'tags/list');
    for (let page = 0; url && page < MAX_PAGES; page++) {
      const res: HttpResponse = await this.request(op, ref, display, { method: 'GET', url, headers: { accept: 'application/json' } });
      if (res.status !== 200) throw this.fail(res, op, display, 'cannot list tags');
      let doc: { tags?: unknown };
      try {
        doc = JSON.parse(Buffer.from(res.body).toString('utf8')) as { tags?: unknown };
      } catch (e) {
        throw new RegistryError('tag list is not JSON', { code: 'bad-response', operation: op, reference: display, status: res.status, cause: e });
      }
      if (Array.isArray(doc.tags)) tags.push(...doc.tags.filter((t): t is string => typeof t === 'string'));
      url = nextLink(res.headers.get('link'), res.url);
    }
    return tags;
  }

  // ------------------------------------------------------------------- blobs

  async blobExists(repoIn: RefLike, digest: string): Promise<Descriptor | undefined> {
    const ref = toRepo(repoIn).withDigest(digest);
    const op = 'blob.head';
    const display = ref.toString();
    const res = await this.request(op, ref, display, { method: 'HEAD', url: this.url(ref, `blobs/${digest}`) });
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw this.fail(res, op, display, 'cannot check blob');
    const size = Number(res.headers.get('content-length') ?? NaN);
    return { mediaType: mediaTypeOf(res.headers) ?? 'application/octet-stream', digest, size: Number.isSafeInteger(size) ? size : -1 };
  }

  async fetchBlob(repoIn: RefLike, digest: string): Promise<Uint8Array> {
    const ref = toRepo(repoIn).withDigest(digest);
    const op = 'blob.get';
    const display = ref.toString();
    const res = await this.request(op, ref, display, { method: 'GET', url: this.url(ref, `blobs/${digest}`) });
    if (res.status !== 200) throw this.fail(res, op, display, 'cannot get blob');
    if (!matchesDigest(res.body, digest)) {
      throw new RegistryError(`blob bytes hash to ${digestOf(res.body, algorithmOf(digest) ?? 'sha256')}`, { code: 'digest-mismatch', operation: op, reference: display, status: res.status });
    }
    return res.body;
  }

  async pushBlob(repoIn: RefLike, data: Uint8Array, options: PushBlobOptions = {}): Promise<Descriptor> {
    const repo = toRepo(repoIn);
    const digest = digestOf(data);
    const ref = repo.withDigest(digest);
    const display = ref.toString();
    const descriptor: Descriptor = { mediaType: options.mediaType ?? 'application/octet-stream', digest, size: data.byteLength };
    if (await this.blobExists(ref, digest)) return descriptor;

    let start: HttpResponse;
    if (options.mountFrom !== undefined && options.mountFrom !== repo.repository) {
      const from = repo.withRepository(options.mountFrom);
      const url = this.url(ref, 'blobs/uploads/');
      url.searchParams.set('mount', digest);
      url.searchParams.set('from', from.repository);
      start = await this.request('blob.mount', ref, display, { method: 'POST', url, headers: { 'content-length': '0' } }, { push: true, extraScopes: [`repository:${from.repository}:pull`] });
      if (start.status === 201) return descriptor;
      if (start.status !== 202) throw this.fail(start, 'blob.mount', display, `cannot mount blob from ${from.name}`);
    } else {
      start = await this.request('blob.push', ref, display, { method: 'POST', url: this.url(ref, 'blobs/uploads/'), headers: { 'content-length': '0' } }, { push: true });
      if (start.status !== 202) throw this.fail(start, 'blob.push', display, 'cannot start blob upload');
    }
    let location = this.location(start, 'blob.push', display);
    const minChunk = Number(start.headers.get('oci-chunk-min-length') ?? 0);
    let chunkSize = options.chunkSize ?? this.chunkSize;
    if (!(chunkSize > 0)) chunkSize = Number.POSITIVE_INFINITY;
    if (Number.isSafeInteger(minChunk) && minChunk > chunkSize) chunkSize = minChunk;

    let final: HttpResponse;
    if (data.byteLength <= chunkSize) {
      const url = new URL(location);
      url.searchParams.set('digest', digest);
      final = await this.request('blob.push', ref, display, {
        method: 'PUT', url, headers: { 'content-type': 'application/octet-stream', 'content-length': String(data.byteLength) }, body: data,
      }, { push: true });
    } else {
      location = await this.uploadChunks(ref, display, location, data, chunkSize);
      const url = new URL(location);
      url.searchParams.set('digest', digest);
      final = await this.request('blob.push', ref, display, { method: 'PUT', url, headers: { 'content-length': '0' } }, { push: true });
    }
    if (final.status !== 201 && final.status !== 204) throw this.fail(final, 'blob.push', display, 'cannot complete blob upload');
    const announced = final.headers.get('docker-content-digest')?.trim();
    if (announced && algorithmOf(announced) === 'sha256' && announced !== digest) {
      throw new RegistryError(`registry stored the blob as ${announced}`, { code: 'digest-mismatch', operation: 'blob.push', reference: display, status: final.status });
    }
    return descriptor;
  }

  private location(res: HttpResponse, op: RegistryOperation, display: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new RegistryError('upload answer has no Location header', { code: 'bad-response', operation: op, reference: display, status: res.status });
    return new URL(loc, res.url).toString();
  }

  /** The last byte offset the registry holds for an upload (-1 for none). */
  private async uploadOffset(ref: Reference, display: string, location: string): Promise<{ end: number; location: string }> {
    const res = await this.request('blob.push', ref, display, { method: 'GET', url: new URL(location) }, { push: true });
    if (res.status !== 204 && res.status !== 200) throw this.fail(res, 'blob.push', display, 'cannot read upload status');
    const range = /^(?:bytes=)?0-(\d+)$/.exec(res.headers.get('range')?.trim() ?? '');
    return { end: range ? Number(range[1]) : -1, location: res.headers.get('location') ? this.location(res, 'blob.push', display) : location };
  }

  /** PATCHes `data` in chunks; after a dropped chunk, asks the registry where it stands and resumes. */
  private async uploadChunks(ref: Reference, display: string, startLocation: string, data: Uint8Array, chunkSize: number): Promise<string> {
    let location = startLocation;
    let offset = 0;
    let failures = 0;
    while (offset < data.byteLength) {
      const end = Math.min(offset + chunkSize, data.byteLength) - 1;
      const chunk = data.subarray(offset, end + 1);
      let res: HttpResponse | undefined;
      let error: unknown;
      try {
        res = await this.request('blob.push', ref, display, {
          method: 'PATCH', url: new URL(location), retry: false, body: chunk,
          headers: { 'content-type': 'application/octet-stream', 'content-range': `${offset}-${end}`, 'content-length': String(chunk.byteLength) },
        }, { push: true });
      } catch (e) {
        if (!(e instanceof RegistryError && e.code === 'unreachable')) throw e;
        error = e;
      }
      if (res && res.status === 202) {
        location = this.location(res, 'blob.push', display);
        offset = end + 1;
        failures = 0;
        continue;
      }
      if (res && !isRetryableStatus(res.status)) throw this.fail(res, 'blob.push', display, `chunk ${offset}-${end} refused`);
      if (++failures >= this.transport.retry.attempts) {
        if (res) throw this.fail(res, 'blob.push', display, `chunk ${offset}-${end} failed ${failures} times`);
        throw error;
      }
      const status = await this.uploadOffset(ref, display, location);
      location = status.location;
      offset = status.end + 1;
    }
    return location;
  }

  // --------------------------------------------------------------- referrers

  /** What is known of a repository's referrers API. */
  referrersCapability(repo: RefLike): ReferrersCapability {
    return this.capabilities.get(toRepo(repo).name) ?? 'unknown';
  }

  /** Forces the capability (e.g. from configuration) instead of probing. */
  setReferrersCapability(repo: RefLike, capability: ReferrersCapability): void {
    this.capabilities.set(toRepo(repo).name, capability);
  }

  /**
   * Lists referrers of a subject (tag or digest reference): through the referrers API
   * when the registry has it, else from the `sha256-<hex>` tag-schema index.
   */
  async listReferrers(subjectIn: RefLike, options: { artifactType?: string } = {}): Promise<Descriptor[]> {
    const subjectRef = toRef(subjectIn);
    const digest = subjectRef.digest ?? (await this.resolveManifest(subjectRef)).digest;
    const ref = subjectRef.withDigest(digest);
    if (this.referrersCapability(ref) !== 'unsupported') {
      const viaApi = await this.referrersFromApi(ref, digest, options.artifactType);
      if (viaApi) return viaApi;
    }
    const index = await this.readReferrersIndex(ref, digest);
    return filterByArtifactType(indexDescriptors(index?.manifest), options.artifactType);
  }

  /** `ReferrerLister` for one repository. */
  referrerLister(repo: RefLike): ReferrerLister {
    const r = toRepo(repo);
    return { referrers: (subject, options) => this.listReferrers(r.withDigest(subject), options) };
  }

  /**
   * GET /v2/<name>/referrers/<digest>, following Link pagination. Returns undefined (and
   * remembers `unsupported`) when the registry has no referrers API (404).
   */
  private async referrersFromApi(ref: Reference, digest: string, artifactType: string | undefined): Promise<Descriptor[] | undefined> {
    const op = 'referrers.list';
    const display = ref.toString();
    let url: URL | undefined = this.url(ref, `referrers/${digest}`);
    if (artifactType !== undefined) url.searchParams.set('artifactType', artifactType);
    const out: Descriptor[] = [];
    const seen = new Set<string>();
    const visited = new Set<string>();
    for (let page = 0; url; page++) {
      if (page >= MAX_PAGES || visited.has(url.toString())) {
        throw new RegistryError(`referrers pagination does not end (${page} pages)`, { code: 'bad-response', operation: op, reference: display });
      }
      visited.add(url.toString());
      const res: HttpResponse = await this.request(op, ref, display, { method: 'GET', url, headers: { accept: MediaType.OciIndex } });
      if (res.status === 404 && page === 0) {
        this.capabilities.set(ref.name, 'unsupported');
        return undefined;
      }
      if (res.status !== 200) throw this.fail(res, op, display, 'cannot list referrers');
      let doc: unknown;
      try {
        doc = JSON.parse(Buffer.from(res.body).toString('utf8'));
      } catch (e) {
        if (page === 0 && mediaTypeOf(res.headers) !== MediaType.OciIndex) {
          // Something that is not a referrers API answered: treat as absent.
          this.capabilities.set(ref.name, 'unsupported');
          return undefined;
        }
        throw new RegistryError('referrers answer is not JSON', { code: 'bad-response', operation: op, reference: display, status: res.status, cause: e });
      }
      if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { manifests?: unknown }).manifests)) {
        throw new RegistryError('referrers answer is not an image index', { code: 'bad-response', operation: op, reference: display, status: res.status });
      }
      this.capabilities.set(ref.name, 'supported');
      const listed = indexDescriptors(doc);
      const filtered = artifactTypeFilterApplied(res.headers.get('oci-filters-applied')) ? listed : filterByArtifactType(listed, artifactType);
      for (const d of filtered) {
        if (seen.has(d.digest)) continue;
        seen.add(d.digest);
        out.push(d);
      }
      url = nextLink(res.headers.get('link'), res.url);
    }
    return out;
  }

  /** Reads the tag-schema index for a subject digest; undefined when the tag does not exist. */
  async readReferrersIndex(repo: RefLike, subjectDigest: string): Promise<FetchedManifest | undefined> {
    const ref = toRepo(repo).withTag(referrersTag(subjectDigest));
    try {
      return await this.getManifest(ref, { accept: INDEX_MEDIA_TYPES });
    } catch (e) {
      if (e instanceof RegistryError && e.code === 'not-found') return undefined;
      throw e;
    }
  }

  /**
   * Adds a referrer descriptor to the subject's tag-schema index (creating it if needed),
   * keeping every entry already there. Reads the index back after writing and merges
   * again if a concurrent writer replaced it in between.
   */
  async addToReferrersIndex(repo: RefLike, subjectDigest: string, entry: Descriptor): Promise<void> {
    const tagRef = toRepo(repo).withTag(referrersTag(subjectDigest));
    for (let attempt = 1; attempt <= INDEX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.readReferrersIndex(tagRef, subjectDigest);
      const doc = current?.manifest ?? (emptyReferrersIndex() as unknown as Record<string, unknown>);
      const merged = mergeReferrer(doc, entry);
      if (!merged) return;
      if (merged.mediaType !== MediaType.OciIndex) merged.mediaType = MediaType.OciIndex;
      await this.putManifest(tagRef, jsonBytes(merged), MediaType.OciIndex);
      const after = await this.readReferrersIndex(tagRef, subjectDigest);
      if (indexDescriptors(after?.manifest).some((d) => d.digest === entry.digest)) return;
    }
    throw new RegistryError(`the referrers index ${tagRef.toString()} keeps changing under us`, { code: 'bad-response', operation: 'referrers.attach', reference: tagRef.toString() });
  }

  /**
   * Pushes a manifest whose `subject` is the given image (set here if missing) and makes
   * it discoverable: done when the registry says it processed the subject (`OCI-Subject`)
   * or has the referrers API; otherwise merged into the `sha256-<hex>` tag-schema index.
   */
  async attachReferrer(subjectIn: RefLike, manifestIn: ImageManifest | Uint8Array): Promise<AttachResult> {
    const op = 'referrers.attach';
    const subjectRef = toRef(subjectIn);
    const subject = await this.resolveManifest(subjectRef);
    const display = subjectRef.toString();
    let bytes: Uint8Array;
    let doc: Record<string, unknown>;
    if (manifestIn instanceof Uint8Array) {
      bytes = manifestIn;
      try {
        doc = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      } catch (e) {
        throw new RegistryError('referrer manifest is not JSON', { code: 'manifest-invalid', operation: op, reference: display, cause: e });
      }
    } else {
      doc = { ...(manifestIn as unknown as Record<string, unknown>) };
      if (doc.subject === undefined) doc.subject = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
      if (doc.mediaType === undefined) doc = { schemaVersion: 2, mediaType: MediaType.OciManifest, ...doc };
      bytes = jsonBytes(doc);
    }
    const declared = (doc.subject as { digest?: unknown } | undefined)?.digest;
    if (declared !== subject.digest) {
      throw new RegistryError(`referrer manifest's subject is ${String(declared)}, not ${subject.digest}`, { code: 'manifest-invalid', operation: op, reference: display });
    }
    const mediaType = typeof doc.mediaType === 'string' ? doc.mediaType : MediaType.OciManifest;
    if (mediaType !== MediaType.OciManifest && mediaType !== MediaType.OciIndex) {
      throw new RegistryError(`a referrer must be an OCI image manifest or index, not ${mediaType}`, { code: 'manifest-invalid', operation: op, reference: display });
    }
    const repo = subjectRef.withDigest(subject.digest);
    const pushed = await this.putManifest(repo.withDigest(digestOf(bytes)), bytes, mediaType);
    const entry: Descriptor = { ...pushed.descriptor };
    const artifactType = artifactTypeOf(doc);
    if (artifactType !== undefined) entry.artifactType = artifactType;
    if (doc.annotations && typeof doc.annotations === 'object') entry.annotations = doc.annotations as Record<string, string>;

    if (pushed.subjectProcessed === subject.digest) {
      this.capabilities.set(repo.name, 'supported');
      return { descriptor: entry, subject, via: 'referrers-api' };
    }
    if (this.referrersCapability(repo) === 'unknown') await this.referrersFromApi(repo, subject.digest, undefined);
    if (this.referrersCapability(repo) === 'supported') return { descriptor: entry, subject, via: 'referrers-api' };
    await this.addToReferrersIndex(repo, subject.digest, entry);
    return { descriptor: entry, subject, via: 'tag-schema' };
  }

  /**
   * Pushes an artifact (empty `{}` config, the given layers) with `subject` set to the
   * given image, and attaches it (see `attachReferrer`).
   */
  async attachArtifact(subjectIn: RefLike, artifact: { artifactType: string; layers: readonly ArtifactLayer[]; annotations?: Record<string, string> }): Promise<AttachResult> {
    const subjectRef = toRef(subjectIn);
    const subject = await this.resolveManifest(subjectRef);
    const repo = subjectRef.withDigest(subject.digest);
    await this.pushBlob(repo, EMPTY_JSON, { mediaType: MediaType.OciEmpty });
    const layers: Descriptor[] = [];
    for (const layer of artifact.layers) {
      const d = await this.pushBlob(repo, layer.data, { mediaType: layer.mediaType });
      layers.push(layer.annotations ? { ...d, annotations: layer.annotations } : d);
    }
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      artifactType: artifact.artifactType,
      config: { mediaType: MediaType.OciEmpty, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON.byteLength },
      layers,
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      ...(artifact.annotations ? { annotations: artifact.annotations } : {}),
    };
    return this.attachReferrer(repo, manifest);
  }
}
