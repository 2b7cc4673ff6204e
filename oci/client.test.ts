/**
 * The client against in-test HTTP servers on 127.0.0.1: a small in-memory registry that
 * each case configures (auth, failures, referrers API or not), and a token server.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { StaticCredentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { MediaType, type Descriptor, type ImageManifest } from './media-types.js';
import { parseReference } from './reference.js';
import { referrersTag } from './referrers.js';

const sha256 = (b: Uint8Array | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const json = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));

interface Logged {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

type Hook = (req: Logged, res: ServerResponse) => boolean | Promise<boolean>;

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); })));
});

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const bytes = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': String(bytes.length), ...headers });
  res.end(bytes);
}

function errorBody(code: string, message: string): unknown {
  return { errors: [{ code, message }] };
}

/** A registry that keeps everything in memory and does what each case needs. */
class FakeRegistry {
  host = '';
  log: Logged[] = [];
  blobs = new Map<string, Buffer>();
  manifests = new Map<string, { type: string; bytes: Buffer }>(); // by digest
  tags = new Map<string, string>(); // repo:tag -> digest
  uploads = new Map<string, Buffer>();
  hooks: Hook[] = [];
  referrersApi = false;
  ociSubjectHeader = false;
  pageSize = Infinity;
  applyFilter = false;
  mountable = new Set<string>();
  private uploadSeq = 0;

  async start(): Promise<this> {
    this.host = await listen((req, res) => {
      void this.handle(req, res).catch((e: unknown) => {
        res.writeHead(500);
        res.end(String(e));
      });
    });
    return this;
  }

  requests(method: string, pathPart = ''): Logged[] {
    return this.log.filter((r) => r.method === method && r.path.includes(pathPart));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.host}`);
    const logged: Logged = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: await readBody(req) };
    this.log.push(logged);
    for (const hook of this.hooks) if (await hook(logged, res)) return;
    const m = /^\/v2\/(.+?)\/(manifests|blobs\/uploads|blobs|referrers|tags)\/?(.*)$/.exec(url.pathname);
    if (url.pathname === '/v2/') return sendJson(res, 200, {});
    if (!m) return sendJson(res, 404, errorBody('NAME_UNKNOWN', 'no route'));
    const [, repo, kind, rest] = m as unknown as [string, string, string, string];
    const method = logged.method;
    if (kind === 'blobs' && (method === 'GET' || method === 'HEAD')) {
      const blob = this.blobs.get(rest);
      if (!blob) return sendJson(res, 404, errorBody('BLOB_UNKNOWN', 'blob unknown to registry'));
      res.writeHead(200, { 'content-length': String(blob.length), 'docker-content-digest': rest, 'content-type': 'application/octet-stream' });
      return void res.end(method === 'HEAD' ? undefined : blob);
    }
    if (kind === 'blobs/uploads' && method === 'POST') {
      const mount = url.searchParams.get('mount');
      if (mount && this.mountable.has(mount)) {
        this.blobs.set(mount, Buffer.from('mounted'));
        res.writeHead(201, { location: `/v2/${repo}/blobs/${mount}`, 'docker-content-digest': mount, 'content-length': '0' });
        return void res.end();
      }
      const id = `u${++this.uploadSeq}`;
      this.uploads.set(id, Buffer.alloc(0));
      res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=${id}`, range: '0-0', 'content-length': '0' });
      return void res.end();
    }
    if (kind === 'blobs/uploads') {
      const id = rest;
      const have = this.uploads.get(id);
      if (!have) return sendJson(res, 404, errorBody('BLOB_UPLOAD_UNKNOWN', 'upload unknown'));
      if (method === 'GET') {
        res.writeHead(204, { location: `/v2/${repo}/blobs/uploads/${id}`, range: `0-${have.length - 1}` });
        return void res.end();
      }
      if (method === 'PATCH') {
        const range = /^(\d+)-(\d+)$/.exec(String(req.headers['content-range'] ?? ''));
        if (range && Number(range[1]) !== have.length) return sendJson(res, 416, errorBody('BLOB_UPLOAD_INVALID', 'bad range'));
        const next = Buffer.concat([have, logged.body]);
        this.uploads.set(id, next);
        res.writeHead(202, { location: `/v2/${repo}/blobs/uploads/${id}?_state=${next.length}`, range: `0-${next.length - 1}`, 'content-length': '0' });
        return void res.end();
      }
      if (method === 'PUT') {
        const data = Buffer.concat([have, logged.body]);
        const digest = url.searchParams.get('digest') ?? '';
        if (sha256(data) !== digest) return sendJson(res, 400, errorBody('DIGEST_INVALID', 'provided digest did not match uploaded content'));
        this.uploads.delete(id);
        this.blobs.set(digest, data);
        res.writeHead(201, { location: `/v2/${repo}/blobs/${digest}`, 'docker-content-digest': digest, 'content-length': '0' });
        return void res.end();
      }
    }
    if (kind === 'manifests') {
      const digest = rest.startsWith('sha256:') ? rest : this.tags.get(`${repo}:${rest}`);
      if (method === 'GET' || method === 'HEAD') {
        const mf = digest ? this.manifests.get(digest) : undefined;
        if (!mf || !digest) return sendJson(res, 404, errorBody('MANIFEST_UNKNOWN', 'manifest unknown'));
        res.writeHead(200, { 'content-type': mf.type, 'content-length': String(mf.bytes.length), 'docker-content-digest': digest });
        return void res.end(method === 'HEAD' ? undefined : mf.bytes);
      }
      if (method === 'PUT') {
        const d = sha256(logged.body);
        if (rest.startsWith('sha256:') && rest !== d) return sendJson(res, 400, errorBody('DIGEST_INVALID', 'digest does not match'));
        this.manifests.set(d, { type: String(req.headers['content-type']), bytes: logged.body });
        if (!rest.startsWith('sha256:')) this.tags.set(`${repo}:${rest}`, d);
        const headers: Record<string, string> = { 'docker-content-digest': d, location: `/v2/${repo}/manifests/${d}`, 'content-length': '0' };
        const subject = (JSON.parse(logged.body.toString()) as { subject?: { digest?: string } }).subject?.digest;
        if (this.ociSubjectHeader && subject) headers['oci-subject'] = subject;
        res.writeHead(201, headers);
        return void res.end();
      }
    }
    if (kind === 'referrers' && this.referrersApi) {
      const all: Descriptor[] = [];
      for (const [d, mf] of this.manifests) {
        const doc = JSON.parse(mf.bytes.toString()) as { subject?: { digest?: string }; artifactType?: string; config?: { mediaType?: string } };
        if (doc.subject?.digest !== rest) continue;
        all.push({ mediaType: mf.type, digest: d, size: mf.bytes.length, artifactType: doc.artifactType ?? doc.config?.mediaType ?? '' });
      }
      all.sort((a, b) => a.digest.localeCompare(b.digest));
      const wanted = url.searchParams.get('artifactType');
      const list = this.applyFilter && wanted ? all.filter((d) => d.artifactType === wanted) : all;
      const start = Number(url.searchParams.get('start') ?? 0);
      const page = list.slice(start, start + this.pageSize);
      const headers: Record<string, string> = { 'content-type': MediaType.OciIndex };
      if (this.applyFilter && wanted) headers['oci-filters-applied'] = 'artifactType';
      if (start + this.pageSize < list.length) {
        const next = new URL(url.pathname, `http://${this.host}`);
        if (wanted) next.searchParams.set('artifactType', wanted);
        next.searchParams.set('start', String(start + this.pageSize));
        headers.link = `<${next.pathname}${next.search}>; rel="next"`;
      }
      return sendJson(res, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: page }, headers);
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  }
}

const fast: RegistryClientOptions = { retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 } };

async function fixture(options: RegistryClientOptions = {}): Promise<{ reg: FakeRegistry; client: RegistryClient; repo: ReturnType<typeof parseReference> }> {
  const reg = await new FakeRegistry().start();
  const client = new RegistryClient({ ...fast, ...options });
  return { reg, client, repo: parseReference(`${reg.host}/team/app`) };
}

/** Pushes a minimal image and returns its manifest descriptor. */
async function pushImage(client: RegistryClient, repo: ReturnType<typeof parseReference>): Promise<Descriptor> {
  const config = await client.pushBlob(repo, json({ os: 'linux', architecture: 'amd64' }), { mediaType: MediaType.OciConfig });
  const layer = await client.pushBlob(repo, new TextEncoder().encode('layer bytes'), { mediaType: MediaType.OciLayerTarGzip });
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: MediaType.OciManifest, config, layers: [layer] };
  return (await client.putManifest(repo.withTag('v1'), manifest)).descriptor;
}

function artifact(subject: Descriptor, artifactType: string, note: string): ImageManifest {
  return {
    schemaVersion: 2, mediaType: MediaType.OciManifest, artifactType,
    config: { mediaType: MediaType.OciEmpty, digest: sha256('{}'), size: 2 },
    layers: [{ mediaType: 'text/plain', digest: sha256(note), size: note.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
}

describe('authentication', () => {
  it('never sends credentials to a registry that does not ask for them', async () => {
    const { reg, repo } = await fixture();
    const client = new RegistryClient({ ...fast, credentials: new StaticCredentials({ [reg.host]: { username: 'u', password: 'p' } }) });
    await pushImage(client, repo);
    await client.getManifest(repo.withTag('v1'));
    expect(reg.log.length).toBeGreaterThan(4);
    expect(reg.log.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
  });

  it('answers a basic challenge, then sends basic credentials up front', async () => {
    const { reg, repo } = await fixture();
    const good = `Basic ${Buffer.from('alice:s3cret').toString('base64')}`;
    reg.hooks.push((r, res) => {
      if (r.headers.authorization === good) return false;
      sendJson(res, 401, errorBody('UNAUTHORIZED', 'authentication required'), { 'www-authenticate': 'Basic realm="fake"' });
      return true;
    });
    const client = new RegistryClient({ ...fast, credentials: new StaticCredentials({ [reg.host]: { username: 'alice', password: 's3cret' } }) });
    await pushImage(client, repo);
    expect((await client.getManifest(repo.withTag('v1'))).descriptor.mediaType).toBe(MediaType.OciManifest);
    // Only the very first request went without credentials.
    expect(reg.log.filter((r) => r.headers.authorization === undefined)).toHaveLength(1);
    expect(reg.log[0]?.headers.authorization).toBeUndefined();
  });

  it('fails with unauthorized when basic credentials are asked for and missing or wrong', async () => {
    const { reg, client, repo } = await fixture();
    reg.hooks.push((r, res) => {
      if (r.headers.authorization === 'Basic bm86bm8=') return false;
      sendJson(res, 401, errorBody('UNAUTHORIZED', 'authentication required'), { 'www-authenticate': 'Basic realm="fake"' });
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'unauthorized', operation: 'manifest.get', reference: `${reg.host}/team/app:v1` });
    const wrong = new RegistryClient({ ...fast, credentials: new StaticCredentials({ [reg.host]: { username: 'x', password: 'y' } }) });
    const err = await wrong.getManifest(repo.withTag('v1')).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'unauthorized', status: 401, registryMessage: 'authentication required' });
  });

  async function tokenServer(check: (req: IncomingMessage, url: URL) => { status: number; body: unknown }): Promise<{ host: string; calls: URL[]; auth: (string | undefined)[] }> {
    const calls: URL[] = [];
    const auth: (string | undefined)[] = [];
    const host = await listen((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      calls.push(url);
      auth.push(req.headers.authorization);
      const { status, body } = check(req, url);
      sendJson(res, status, body);
    });
    return { host, calls, auth };
  }

  it('gets a bearer token from the challenge realm with basic credentials and caches it per scope', async () => {
    const { reg, repo } = await fixture();
    const basic = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    const tokens = await tokenServer((req, url) => {
      if (req.headers.authorization !== basic) return { status: 401, body: { details: 'bad credentials' } };
      return { status: 200, body: { access_token: `tok:${url.searchParams.getAll('scope').join(' ')}`, expires_in: 300 } };
    });
    reg.hooks.push((r, res) => {
      const want = r.method === 'GET' || r.method === 'HEAD' ? 'pull' : 'pull,push';
      const repoName = /^\/v2\/(.+?)\/(manifests|blobs)/.exec(r.path)?.[1] ?? '';
      const scope = `repository:${repoName}:${want}`;
      if (typeof r.headers.authorization === 'string' && r.headers.authorization.startsWith('Bearer tok:') && r.headers.authorization.includes(scope)) return false;
      sendJson(res, 401, errorBody('UNAUTHORIZED', 'authentication required'), {
        'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="fake-registry",scope="${scope}"`,
      });
      return true;
    });
    const client = new RegistryClient({ ...fast, credentials: new StaticCredentials({ [reg.host]: { username: 'bob', password: 'pw' } }) });
    await pushImage(client, repo);
    await client.getManifest(repo.withTag('v1'));
    await client.getManifest(repo.withTag('v1'));
    const other = parseReference(`${reg.host}/team/other`);
    await expect(client.getManifest(other.withTag('v1'))).rejects.toMatchObject({ code: 'not-found' });

    expect(tokens.auth.every((a) => a === basic)).toBe(true);
    const scopes = tokens.calls.map((u) => u.searchParams.getAll('scope').join(' '));
    expect(tokens.calls.every((u) => u.searchParams.get('service') === 'fake-registry')).toBe(true);
    // One token per scope: push scope for the pushes, pull for team/app, pull for team/other.
    expect(new Set(scopes)).toEqual(new Set(['repository:team/app:pull,push', 'repository:team/app:pull', 'repository:team/other:pull']));
    expect(scopes).toHaveLength(3);
  });

  it('gets an anonymous bearer token (the "token" field) when no credentials exist', async () => {
    const { reg, client, repo } = await fixture();
    const tokens = await tokenServer(() => ({ status: 200, body: { token: 'anon' } }));
    reg.hooks.push((r, res) => {
      if (r.headers.authorization === 'Bearer anon') return false;
      sendJson(res, 401, {}, { 'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="s"` });
      return true;
    });
    await pushImage(client, repo);
    expect(tokens.auth).toEqual([undefined, undefined]); // pull,push then pull scopes; no credentials sent
  });

  it('reports a token server refusal as unauthorized with its message', async () => {
    const { reg, client, repo } = await fixture();
    const tokens = await tokenServer(() => ({ status: 401, body: { details: 'no such user' } }));
    reg.hooks.push((_r, res) => {
      sendJson(res, 401, {}, { 'www-authenticate': `Bearer realm="http://${tokens.host}/token",service="s"` });
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'unauthorized', operation: 'auth.token', registryMessage: 'no such user' });
  });

  it('refuses a plain-http token realm on a non-local host', async () => {
    const { reg, client, repo } = await fixture();
    reg.hooks.push((_r, res) => {
      sendJson(res, 401, {}, { 'www-authenticate': 'Bearer realm="http://auth.example.invalid/token",service="s"' });
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'insecure' });
  });

  it('uses https except for localhost, 127.0.0.1 and the insecure list', () => {
    const client = new RegistryClient({ insecureRegistries: ['registry.lan:5000'] });
    expect(client.baseUrl('127.0.0.1:5000').protocol).toBe('http:');
    expect(client.baseUrl('localhost').protocol).toBe('http:');
    expect(client.baseUrl('registry.lan:5000').protocol).toBe('http:');
    expect(client.baseUrl('registry.lan:6000').protocol).toBe('https:');
    expect(client.baseUrl('ghcr.io').toString()).toBe('https://ghcr.io/');
    expect(client.baseUrl('docker.io').toString()).toBe('https://registry-1.docker.io/');
  });
});

describe('retries', () => {
  it('retries 503 twice, then succeeds', async () => {
    const { reg, client, repo } = await fixture();
    await pushImage(client, repo);
    let failures = 0;
    reg.hooks.push((r, res) => {
      if (r.method !== 'GET' || failures >= 2) return false;
      failures++;
      sendJson(res, 503, errorBody('UNAVAILABLE', 'busy'));
      return true;
    });
    const before = reg.requests('GET').length;
    const got = await client.getManifest(repo.withTag('v1'));
    expect(got.manifest.schemaVersion).toBe(2);
    expect(reg.requests('GET').length - before).toBe(3);
  });

  it('retries a reset connection', async () => {
    const { reg, client, repo } = await fixture();
    await pushImage(client, repo);
    let resets = 0;
    reg.hooks.push((r, res) => {
      if (r.method !== 'GET' || resets >= 1) return false;
      resets++;
      res.socket?.destroy();
      return true;
    });
    expect((await client.getManifest(repo.withTag('v1'))).descriptor.size).toBeGreaterThan(0);
    expect(resets).toBe(1);
  });

  it('gives up after the bounded attempts with server-error', async () => {
    const { reg, client, repo } = await fixture();
    reg.hooks.push((_r, res) => {
      sendJson(res, 503, errorBody('UNAVAILABLE', 'down for maintenance'));
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'server-error', status: 503, registryMessage: 'down for maintenance' });
    expect(reg.log).toHaveLength(4);
  });

  it('retries 429, honouring Retry-After within the cap', async () => {
    const { reg, repo } = await fixture();
    const waits: number[] = [];
    const client = new RegistryClient({ ...fast, sleep: async (ms) => { waits.push(ms); } });
    let n = 0;
    reg.hooks.push((_r, res) => {
      if (n++ > 0) return false;
      sendJson(res, 429, errorBody('TOOMANYREQUESTS', 'slow down'), { 'retry-after': '1' });
      return true;
    });
    await expect(client.blobExists(repo, sha256('x'))).resolves.toBeUndefined();
    expect(waits).toEqual([5]); // 1 s asked, capped at maxDelayMs
  });

  it('does not retry other 4xx', async () => {
    const { reg, client, repo } = await fixture();
    reg.hooks.push((_r, res) => {
      sendJson(res, 403, errorBody('DENIED', 'requested access to the resource is denied'));
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'denied', status: 403 });
    expect(reg.log).toHaveLength(1);
  });

  it('reports a registry that is not there as unreachable', async () => {
    const host = await listen(() => undefined);
    await new Promise<void>((r) => { const s = servers.pop() as Server; s.close(() => r()); });
    const client = new RegistryClient({ retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
    await expect(client.getManifest(`${host}/a:b`)).rejects.toMatchObject({ code: 'unreachable', operation: 'manifest.get', reference: `${host}/a:b` });
  });
});

describe('blobs', () => {
  it('uploads monolithically: POST then PUT ?digest= with the bytes', async () => {
    const { reg, client, repo } = await fixture();
    const data = new TextEncoder().encode('hello blob');
    const d = await client.pushBlob(repo, data, { mediaType: 'text/plain' });
    expect(d).toEqual({ mediaType: 'text/plain', digest: sha256(data), size: data.length });
    expect(reg.requests('POST', '/blobs/uploads/')).toHaveLength(1);
    const put = reg.requests('PUT', '/blobs/uploads/');
    expect(put).toHaveLength(1);
    expect(put[0]?.query.get('digest')).toBe(sha256(data));
    expect(put[0]?.query.get('_state')).toBe('u1'); // the Location's own query kept
    expect(reg.requests('PATCH')).toHaveLength(0);
    expect(Buffer.from(await client.fetchBlob(repo, d.digest)).toString()).toBe('hello blob');
  });

  it('skips the upload when the blob exists', async () => {
    const { reg, client, repo } = await fixture();
    const data = new TextEncoder().encode('once');
    await client.pushBlob(repo, data);
    await client.pushBlob(repo, data);
    expect(reg.requests('POST')).toHaveLength(1);
  });

  it('uploads in chunks with Content-Range, then closes with PUT', async () => {
    const { reg, client, repo } = await fixture();
    const data = new Uint8Array(25).map((_, i) => i);
    await client.pushBlob(repo, data, { chunkSize: 10 });
    const patches = reg.requests('PATCH');
    expect(patches.map((p) => p.headers['content-range'])).toEqual(['0-9', '10-19', '20-24']);
    expect(patches.map((p) => p.body.length)).toEqual([10, 10, 5]);
    expect(patches[1]?.query.get('_state')).toBe('10'); // each PATCH goes to the last Location
    const put = reg.requests('PUT', '/blobs/uploads/');
    expect(put[0]?.body.length).toBe(0);
    expect(reg.blobs.get(sha256(data))?.equals(Buffer.from(data))).toBe(true);
  });

  it('resumes a chunked upload after a dropped PATCH from the registry offset', async () => {
    const { reg, client, repo } = await fixture();
    const data = new Uint8Array(30).map((_, i) => 255 - i);
    let dropped = false;
    reg.hooks.push((r, res) => {
      if (r.method !== 'PATCH' || r.headers['content-range'] !== '10-19' || dropped) return false;
      dropped = true;
      res.socket?.destroy();
      return true;
    });
    await client.pushBlob(repo, data, { chunkSize: 10 });
    expect(reg.requests('GET', '/blobs/uploads/')).toHaveLength(1);
    expect(reg.requests('PATCH').map((p) => p.headers['content-range'])).toEqual(['0-9', '10-19', '10-19', '20-29']);
    expect(reg.blobs.get(sha256(data))?.equals(Buffer.from(data))).toBe(true);
  });

  it('mounts from another repository when the registry can', async () => {
    const { reg, client, repo } = await fixture();
    const data = new TextEncoder().encode('mounted');
    reg.mountable.add(sha256(data));
    await client.pushBlob(repo, data, { mountFrom: 'team/base' });
    const post = reg.requests('POST')[0];
    expect(post?.query.get('mount')).toBe(sha256(data));
    expect(post?.query.get('from')).toBe('team/base');
    expect(reg.requests('PUT')).toHaveLength(0);
  });

  it('detects a blob whose bytes do not match its digest', async () => {
    const { reg, client, repo } = await fixture();
    const digest = sha256('expected');
    reg.blobs.set(digest, Buffer.from('tampered'));
    await expect(client.fetchBlob(repo, digest)).rejects.toMatchObject({ code: 'digest-mismatch', operation: 'blob.get', reference: `${reg.host}/team/app@${digest}` });
  });
});

describe('manifests', () => {
  it('negotiates media types and gets by tag and digest', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    const byTag = await client.getManifest(repo.withTag('v1'));
    const accept = reg.requests('GET', '/manifests/')[0]?.headers.accept ?? '';
    for (const t of [MediaType.OciManifest, MediaType.OciIndex, MediaType.DockerManifest, MediaType.DockerManifestList]) expect(accept).toContain(t);
    expect(byTag.descriptor).toEqual(image);
    expect((await client.getManifest(repo.withDigest(image.digest))).descriptor).toEqual(image);
    expect(await client.resolveManifest(repo.withTag('v1'))).toEqual(image);
  });

  it('detects content that does not match the digest asked for', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    // No Docker-Content-Digest header: only the digest we asked for can catch it.
    reg.hooks.push((r, res) => {
      if (r.method !== 'GET') return false;
      res.writeHead(200, { 'content-type': MediaType.OciManifest });
      res.end('{"schemaVersion":2,"tampered":true}');
      return true;
    });
    await expect(client.getManifest(repo.withDigest(image.digest))).rejects.toMatchObject({ code: 'digest-mismatch', operation: 'manifest.get' });
  });

  it('detects a Docker-Content-Digest that does not match the bytes', async () => {
    const { reg, client, repo } = await fixture();
    await pushImage(client, repo);
    reg.hooks.push((r, res) => {
      if (r.method !== 'GET') return false;
      const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciManifest, config: {}, layers: [] }));
      res.writeHead(200, { 'content-type': MediaType.OciManifest, 'docker-content-digest': sha256('something else') });
      res.end(body);
      return true;
    });
    await expect(client.getManifest(repo.withTag('v1'))).rejects.toMatchObject({ code: 'digest-mismatch', message: expect.stringContaining('Docker-Content-Digest') });
  });

  it('refuses to put bytes under a digest they do not have', async () => {
    const { reg, client, repo } = await fixture();
    await expect(client.putManifest(repo.withDigest(sha256('x')), { schemaVersion: 2, mediaType: MediaType.OciManifest })).rejects.toMatchObject({ code: 'digest-mismatch', operation: 'manifest.put' });
    expect(reg.log).toHaveLength(0);
  });

  it('maps a registry rejection to manifest-invalid with its message', async () => {
    const { reg, client, repo } = await fixture();
    reg.hooks.push((r, res) => {
      if (r.method !== 'PUT') return false;
      sendJson(res, 400, errorBody('MANIFEST_BLOB_UNKNOWN', 'blob unknown to registry'));
      return true;
    });
    await expect(client.putManifest(repo.withTag('x'), { schemaVersion: 2, mediaType: MediaType.OciManifest })).rejects.toMatchObject({
      code: 'manifest-invalid', status: 400, registryCodes: ['MANIFEST_BLOB_UNKNOWN'], registryMessage: 'blob unknown to registry',
    });
  });

  it('names the reference in a bad-reference error', async () => {
    const client = new RegistryClient();
    const err = await client.getManifest('127.0.0.1:5000/Bad:x').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RegistryError);
    expect(err).toMatchObject({ code: 'bad-reference', reference: '127.0.0.1:5000/Bad:x' });
  });
});

describe('referrers', () => {
  const SIG = 'application/vnd.example.signature';
  const SBOM = 'application/vnd.example.sbom';

  async function withReferrers(client: RegistryClient, repo: ReturnType<typeof parseReference>, n: number): Promise<{ image: Descriptor; pushed: Descriptor[] }> {
    const image = await pushImage(client, repo);
    const pushed: Descriptor[] = [];
    for (let i = 0; i < n; i++) {
      const m = artifact(image, i % 2 === 0 ? SIG : SBOM, `note ${i}`);
      const bytes = json(m);
      pushed.push((await client.putManifest(repo.withDigest(sha256(bytes)), bytes, MediaType.OciManifest)).descriptor);
    }
    return { image, pushed };
  }

  it('lists through the referrers API and filters client-side without OCI-Filters-Applied', async () => {
    const { reg, client, repo } = await fixture();
    reg.referrersApi = true;
    const { image } = await withReferrers(client, repo, 4);
    expect(await client.listReferrers(repo.withTag('v1'))).toHaveLength(4);
    const sigs = await client.listReferrers(repo.withDigest(image.digest), { artifactType: SIG });
    expect(sigs.map((d) => d.artifactType)).toEqual([SIG, SIG]);
    expect(reg.requests('GET', '/referrers/').at(-1)?.query.get('artifactType')).toBe(SIG);
    expect(client.referrersCapability(repo)).toBe('supported');
  });

  it('trusts the registry filter when OCI-Filters-Applied says artifactType', async () => {
    const { reg, client, repo } = await fixture();
    reg.referrersApi = true;
    reg.applyFilter = true;
    const { image } = await withReferrers(client, repo, 3);
    // The registry's filter is what counts: make it answer a deliberately wider list.
    reg.hooks.push((r, res) => {
      if (!r.path.includes('/referrers/')) return false;
      sendJson(res, 200, { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [
        { mediaType: MediaType.OciManifest, digest: sha256('a'), size: 1, artifactType: SIG },
        { mediaType: MediaType.OciManifest, digest: sha256('b'), size: 1, artifactType: 'application/vnd.example.sig-v2' },
      ] }, { 'content-type': MediaType.OciIndex, 'oci-filters-applied': 'artifactType' });
      return true;
    });
    expect(await client.listReferrers(repo.withDigest(image.digest), { artifactType: SIG })).toHaveLength(2);
    reg.hooks.pop();
    const filtered = await client.listReferrers(repo.withDigest(image.digest), { artifactType: SBOM });
    expect(filtered.map((d) => d.artifactType)).toEqual([SBOM]);
  });

  it('follows Link pagination', async () => {
    const { reg, client, repo } = await fixture();
    reg.referrersApi = true;
    reg.pageSize = 2;
    const { image, pushed } = await withReferrers(client, repo, 5);
    const listed = await client.listReferrers(repo.withDigest(image.digest));
    expect(listed.map((d) => d.digest).sort()).toEqual(pushed.map((d) => d.digest).sort());
    expect(reg.requests('GET', '/referrers/')).toHaveLength(3);
  });

  it('refuses a Link that points at another origin', async () => {
    const { reg, client, repo } = await fixture();
    reg.referrersApi = true;
    const { image } = await withReferrers(client, repo, 1);
    reg.hooks.push((r, res) => {
      if (!r.path.includes('/referrers/')) return false;
      sendJson(res, 200, { schemaVersion: 2, manifests: [] }, { link: '<http://evil.example/next>; rel="next"' });
      return true;
    });
    await expect(client.listReferrers(repo.withDigest(image.digest))).rejects.toMatchObject({ code: 'bad-response' });
  });

  it('probes once, remembers unsupported, and reads the tag-schema index', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    expect(client.referrersCapability(repo)).toBe('unknown');
    expect(await client.listReferrers(repo.withDigest(image.digest))).toEqual([]);
    expect(client.referrersCapability(repo)).toBe('unsupported');
    const entry: Descriptor = { mediaType: MediaType.OciManifest, digest: sha256('x'), size: 1, artifactType: SIG };
    await client.putManifest(repo.withTag(referrersTag(image.digest)), { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [entry] });
    expect(await client.listReferrers(repo.withDigest(image.digest))).toEqual([entry]);
    expect(await client.listReferrers(repo.withDigest(image.digest), { artifactType: SBOM })).toEqual([]);
    expect(reg.requests('GET', '/referrers/')).toHaveLength(1);
  });

  it('attaches via the tag schema, keeping foreign entries and fields, without duplicates', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    const tag = referrersTag(image.digest);
    const foreign = { mediaType: MediaType.OciManifest, digest: sha256('foreign'), size: 7, artifactType: 'application/vnd.other', annotations: { by: 'other-tool' } };
    await client.putManifest(repo.withTag(tag), { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [foreign], annotations: { 'org.example': 'keep' } });

    const a = await client.attachReferrer(repo.withTag('v1'), artifact(image, SIG, 'a'));
    const b = await client.attachReferrer(repo.withTag('v1'), artifact(image, SBOM, 'b'));
    expect([a.via, b.via]).toEqual(['tag-schema', 'tag-schema']);
    expect(a.descriptor.artifactType).toBe(SIG);
    await client.attachReferrer(repo.withTag('v1'), artifact(image, SIG, 'a')); // again: no new write

    const index = JSON.parse(reg.manifests.get(reg.tags.get(`team/app:${tag}`) ?? '')?.bytes.toString() ?? '{}') as { manifests: Descriptor[]; annotations: unknown; mediaType: string };
    expect(index.mediaType).toBe(MediaType.OciIndex);
    expect(index.annotations).toEqual({ 'org.example': 'keep' });
    expect(index.manifests.map((d) => d.digest)).toEqual([foreign.digest, a.descriptor.digest, b.descriptor.digest]);
    expect(index.manifests[0]).toEqual(foreign);
    expect(reg.requests('PUT', `/manifests/${tag}`)).toHaveLength(3); // the foreign write plus ours
    expect(reg.requests('GET', '/referrers/')).toHaveLength(1); // probed once
  });

  it('sets a missing subject and creates the index when there is none', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    const m = artifact(image, SIG, 'c');
    delete m.subject;
    const res = await client.attachReferrer(repo.withTag('v1'), m);
    expect(res.subject.digest).toBe(image.digest);
    const stored = JSON.parse(reg.manifests.get(res.descriptor.digest)?.bytes.toString() ?? '{}') as ImageManifest;
    expect(stored.subject?.digest).toBe(image.digest);
    expect((await client.listReferrers(repo.withTag('v1'))).map((d) => d.digest)).toEqual([res.descriptor.digest]);
  });

  it('rejects a referrer whose subject is another manifest', async () => {
    const { client, repo } = await fixture();
    const image = await pushImage(client, repo);
    const m = artifact({ ...image, digest: sha256('other') }, SIG, 'x');
    await expect(client.attachReferrer(repo.withDigest(image.digest), m)).rejects.toMatchObject({ code: 'manifest-invalid', operation: 'referrers.attach' });
  });

  it('writes no index when the registry answers OCI-Subject', async () => {
    const { reg, client, repo } = await fixture();
    reg.referrersApi = true;
    reg.ociSubjectHeader = true;
    const image = await pushImage(client, repo);
    const res = await client.attachReferrer(repo.withTag('v1'), artifact(image, SIG, 'd'));
    expect(res.via).toBe('referrers-api');
    expect(client.referrersCapability(repo)).toBe('supported');
    expect(reg.tags.has(`team/app:${referrersTag(image.digest)}`)).toBe(false);
    expect(reg.requests('GET', '/referrers/')).toHaveLength(0);
    expect((await client.listReferrers(repo.withTag('v1'))).map((d) => d.digest)).toEqual([res.descriptor.digest]);
  });

  it('pushes a whole artifact (empty config, layers) with attachArtifact', async () => {
    const { reg, client, repo } = await fixture();
    const image = await pushImage(client, repo);
    const res = await client.attachArtifact(repo.withTag('v1'), { artifactType: SIG, layers: [{ mediaType: 'application/json', data: json({ sig: 1 }) }], annotations: { k: 'v' } });
    expect(reg.blobs.has(sha256('{}'))).toBe(true);
    expect(res.descriptor).toMatchObject({ artifactType: SIG, annotations: { k: 'v' } });
    expect((await client.listReferrers(repo.withDigest(image.digest))).map((d) => d.digest)).toEqual([res.descriptor.digest]);
  });
});
