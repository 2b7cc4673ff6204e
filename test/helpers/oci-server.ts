// A small in-memory registry implementing the part of the OCI distribution spec 1.1 that
// `docker push`, tracebuild's attach and verify need, *with* the referrers API (which the
// Debian registry lacks): docs/ARCHITECTURE.md: a fake only for such a protocol path.
//
//   GET  /v2/                                       200 (no auth)
//   HEAD/GET  /v2/<name>/blobs/<digest>             Content-Length, Docker-Content-Digest
//   POST /v2/<name>/blobs/uploads/[?digest=|?mount=&from=]
//   PATCH/PUT/GET/DELETE /v2/<name>/blobs/uploads/<id>[?digest=]   (chunked or monolithic)
//   HEAD/GET/PUT/DELETE /v2/<name>/manifests/<tag|digest>
//       PUT of a manifest with `subject` answers `OCI-Subject: <subject digest>` and indexes it
//   GET  /v2/<name>/referrers/<digest>[?artifactType=T]   image index; with the filter,
//       `OCI-Filters-Applied: artifactType`
//   GET  /v2/<name>/tags/list
//
// Every request is logged (method, path, query) so tests can see which path was taken.
// Blobs are content-addressed and shared between repositories (so cross-repo mounts work).

import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoggedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
}

interface StoredManifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

interface Repository {
  manifests: Map<string, StoredManifest>;
  tags: Map<string, string>;
  /** subject digest -> referrer manifest digests, in push order. */
  referrers: Map<string, string[]>;
  blobs: Set<string>;
}

const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';

function sha256(b: Uint8Array): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

export interface OciTestRegistryOptions {
  /** false: behave like a registry without the referrers API (404, no OCI-Subject). Default true. */
  referrersApi?: boolean;
}

export class OciTestRegistry {
  readonly log: LoggedRequest[] = [];
  private readonly referrersApi: boolean;
  private readonly blobs = new Map<string, Buffer>();
  private readonly uploads = new Map<string, { repo: string; data: Buffer }>();
  private readonly repos = new Map<string, Repository>();
  private server: Server | undefined;
  /** `127.0.0.1:<port>` once started. */
  host = '';

  constructor(options: OciTestRegistryOptions = {}) {
    this.referrersApi = options.referrersApi ?? true;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) this.error(res, 500, 'UNKNOWN', String(err));
        else res.destroy();
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    this.host = `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.host;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
    this.server = undefined;
  }

  /** Tags written in a repository (to see that no `sha256-<hex>` fallback tag was made). */
  tagsOf(repo: string): string[] {
    return [...(this.repos.get(repo)?.tags.keys() ?? [])];
  }

  private repo(name: string): Repository {
    let r = this.repos.get(name);
    if (r === undefined) {
      r = { manifests: new Map(), tags: new Map(), referrers: new Map(), blobs: new Set() };
      this.repos.set(name, r);
    }
    return r;
  }

  private send(res: ServerResponse, status: number, body: Buffer | string | undefined, headers: Record<string, string> = {}): void {
    const bytes = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
    res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', 'content-length': String(bytes.length), ...headers });
    res.end(bytes);
  }

  private error(res: ServerResponse, status: number, code: string, message: string): void {
    this.send(res, status, JSON.stringify({ errors: [{ code, message }] }), { 'content-type': 'application/json' });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://registry');
    const method = req.method ?? 'GET';
    const query = Object.fromEntries(url.searchParams.entries());
    this.log.push({ method, path: url.pathname, query });
    const body = await readBody(req);
    const path = url.pathname;
    if (path === '/v2/' || path === '/v2') return this.send(res, 200, '{}', { 'content-type': 'application/json' });

    let m = /^\/v2\/(.+)\/blobs\/uploads\/([^/]*)$/.exec(path);
    if (m) return this.upload(req, res, method, m[1] as string, m[2] as string, url, body);
    m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(path);
    if (m) return this.blob(res, method, m[1] as string, m[2] as string);
    m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (m) return this.manifest(req, res, method, m[1] as string, m[2] as string, body);
    m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(path);
    if (m && method === 'GET' && this.referrersApi) return this.referrers(res, m[1] as string, m[2] as string, url.searchParams.get('artifactType'));
    m = /^\/v2\/(.+)\/tags\/list$/.exec(path);
    if (m && method === 'GET') {
      return this.send(res, 200, JSON.stringify({ name: m[1], tags: this.tagsOf(m[1] as string) }), { 'content-type': 'application/json' });
    }
    return this.error(res, 404, 'NAME_UNKNOWN', `no route for ${method} ${path}`);
  }

  private blob(res: ServerResponse, method: string, name: string, digest: string): void {
    const data = this.blobs.get(digest);
    if (data === undefined || !this.repo(name).blobs.has(digest)) return this.error(res, 404, 'BLOB_UNKNOWN', `blob ${digest} unknown`);
    if (method === 'HEAD') {
      res.writeHead(200, { 'content-length': String(data.length), 'docker-content-digest': digest, 'content-type': 'application/octet-stream' });
      res.end();
      return;
    }
    if (method === 'GET') return this.send(res, 200, data, { 'docker-content-digest': digest, 'content-type': 'application/octet-stream' });
    if (method === 'DELETE') {
      this.repo(name).blobs.delete(digest);
      return this.send(res, 202, undefined);
    }
    return this.error(res, 405, 'UNSUPPORTED', method);
  }

  private commitBlob(res: ServerResponse, name: string, data: Buffer, digest: string): void {
    const actual = sha256(data);
    if (actual !== digest) return this.error(res, 400, 'DIGEST_INVALID', `content is ${actual}, not ${digest}`);
    this.blobs.set(digest, data);
    this.repo(name).blobs.add(digest);
    this.send(res, 201, undefined, { location: `/v2/${name}/blobs/${digest}`, 'docker-content-digest': digest });
  }

  private upload(req: IncomingMessage, res: ServerResponse, method: string, name: string, id: string, url: URL, body: Buffer): void {
    if (method === 'POST' && id === '') {
      const mount = url.searchParams.get('mount');
      if (mount !== null && this.blobs.has(mount)) {
        this.repo(name).blobs.add(mount);
        return this.send(res, 201, undefined, { location: `/v2/${name}/blobs/${mount}`, 'docker-content-digest': mount });
      }
      const digest = url.searchParams.get('digest');
      if (digest !== null) return this.commitBlob(res, name, body, digest);
      const uuid = randomUUID();
      this.uploads.set(uuid, { repo: name, data: Buffer.alloc(0) });
      return this.send(res, 202, undefined, {
        location: `/v2/${name}/blobs/uploads/${uuid}`,
        range: '0-0',
        'docker-upload-uuid': uuid,
      });
    }
    const upload = this.uploads.get(id);
    if (upload === undefined || upload.repo !== name) return this.error(res, 404, 'BLOB_UPLOAD_UNKNOWN', `upload ${id} unknown`);
    const rangeHeader = (): Record<string, string> => ({
      location: `/v2/${name}/blobs/uploads/${id}`,
      range: `0-${Math.max(0, upload.data.length - 1)}`,
      'docker-upload-uuid': id,
    });
    if (method === 'PATCH') {
      const contentRange = req.headers['content-range'];
      if (typeof contentRange === 'string') {
        const start = Number(/^(\d+)-/.exec(contentRange)?.[1] ?? NaN);
        if (start !== upload.data.length) return this.error(res, 416, 'BLOB_UPLOAD_INVALID', `range starts at ${start}, have ${upload.data.length}`);
      }
      upload.data = Buffer.concat([upload.data, body]);
      return this.send(res, 202, undefined, rangeHeader());
    }
    if (method === 'GET') return this.send(res, 204, undefined, rangeHeader());
    if (method === 'DELETE') {
      this.uploads.delete(id);
      return this.send(res, 204, undefined);
    }
    if (method === 'PUT') {
      const digest = url.searchParams.get('digest');
      if (digest === null) return this.error(res, 400, 'DIGEST_INVALID', 'digest parameter missing');
      this.uploads.delete(id);
      return this.commitBlob(res, name, Buffer.concat([upload.data, body]), digest);
    }
    return this.error(res, 405, 'UNSUPPORTED', method);
  }

  private lookup(name: string, reference: string): StoredManifest | undefined {
    const repo = this.repo(name);
    const digest = reference.includes(':') ? reference : repo.tags.get(reference);
    return digest === undefined ? undefined : repo.manifests.get(digest);
  }

  private manifest(req: IncomingMessage, res: ServerResponse, method: string, name: string, reference: string, body: Buffer): void {
    const repo = this.repo(name);
    if (method === 'GET' || method === 'HEAD') {
      const stored = this.lookup(name, reference);
      if (stored === undefined) return this.error(res, 404, 'MANIFEST_UNKNOWN', `manifest ${reference} unknown`);
      const headers = { 'content-type': stored.mediaType, 'docker-content-digest': stored.digest, 'content-length': String(stored.bytes.length) };
      if (method === 'HEAD') {
        res.writeHead(200, headers);
        res.end();
        return;
      }
      return this.send(res, 200, stored.bytes, headers);
    }
    if (method === 'DELETE') {
      const stored = this.lookup(name, reference);
      if (stored === undefined) return this.error(res, 404, 'MANIFEST_UNKNOWN', `manifest ${reference} unknown`);
      repo.manifests.delete(stored.digest);
      for (const [tag, d] of repo.tags) if (d === stored.digest) repo.tags.delete(tag);
      for (const list of repo.referrers.values()) {
        const i = list.indexOf(stored.digest);
        if (i !== -1) list.splice(i, 1);
      }
      return this.send(res, 202, undefined);
    }
    if (method !== 'PUT') return this.error(res, 405, 'UNSUPPORTED', method);

    const digest = sha256(body);
    if (reference.includes(':') && reference !== digest) return this.error(res, 400, 'DIGEST_INVALID', `manifest is ${digest}, not ${reference}`);
    let doc: { mediaType?: unknown; subject?: { digest?: unknown }; layers?: { digest?: unknown }[]; config?: { digest?: unknown } };
    try {
      doc = JSON.parse(body.toString('utf8')) as typeof doc;
    } catch {
      return this.error(res, 400, 'MANIFEST_INVALID', 'not JSON');
    }
    for (const d of [doc.config, ...(doc.layers ?? [])]) {
      if (d !== undefined && typeof d.digest === 'string' && !repo.blobs.has(d.digest)) {
        return this.error(res, 400, 'MANIFEST_BLOB_UNKNOWN', `blob ${d.digest} unknown to ${name}`);
      }
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
    const mediaType = contentType || (typeof doc.mediaType === 'string' ? doc.mediaType : 'application/vnd.oci.image.manifest.v1+json');
    repo.manifests.set(digest, { bytes: body, mediaType, digest });
    if (!reference.includes(':')) repo.tags.set(reference, digest);
    const headers: Record<string, string> = { location: `/v2/${name}/manifests/${digest}`, 'docker-content-digest': digest };
    const subject = doc.subject?.digest;
    if (typeof subject === 'string' && this.referrersApi) {
      const list = repo.referrers.get(subject) ?? [];
      if (!list.includes(digest)) list.push(digest);
      repo.referrers.set(subject, list);
      headers['oci-subject'] = subject;
    }
    return this.send(res, 201, undefined, headers);
  }

  private referrers(res: ServerResponse, name: string, digest: string, artifactType: string | null): void {
    const repo = this.repo(name);
    const manifests: Record<string, unknown>[] = [];
    for (const d of repo.referrers.get(digest) ?? []) {
      const stored = repo.manifests.get(d);
      if (stored === undefined) continue;
      const doc = JSON.parse(stored.bytes.toString('utf8')) as { artifactType?: string; config?: { mediaType?: string }; annotations?: Record<string, string> };
      const type = doc.artifactType ?? doc.config?.mediaType;
      if (artifactType !== null && type !== artifactType) continue;
      manifests.push({
        mediaType: stored.mediaType,
        digest: stored.digest,
        size: stored.bytes.length,
        ...(type === undefined ? {} : { artifactType: type }),
        ...(doc.annotations === undefined ? {} : { annotations: doc.annotations }),
      });
    }
    const headers: Record<string, string> = { 'content-type': INDEX_MEDIA_TYPE };
    if (artifactType !== null) headers['oci-filters-applied'] = 'artifactType';
    this.send(res, 200, JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests }), headers);
  }
}
