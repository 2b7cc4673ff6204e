import { createPublicKey, verify } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSessionServer } from './session.js';
import { method, Rpc, type Msg } from './rpc.js';
import { ed25519FromSeed, ed25519PublicKey, naclSign } from './session-auth.js';
import type { RegistryAuthProvider, RegistryTokenRequest } from './types.js';

// The Auth service served over a real gRPC connection and called as BuildKit calls it.
const AUTH = 'moby.filesync.v1.Auth';
let dir: string;
const servers: grpc.Server[] = [];
const clients: Rpc[] = [];
const tokenRequests: RegistryTokenRequest[] = [];

const provider: RegistryAuthProvider = {
  credentials: async (host) => (host === '127.0.0.1:5001' ? { username: 'alice', secret: 'pw-1' } : host === 'id.example' ? { username: '', secret: 'refresh-tok' } : undefined),
  fetchToken: async (req) => {
    tokenRequests.push(req);
    if (req.host === 'bad.example') throw new Error('token server https://bad.example/token refused a token for repository:x:pull');
    return { token: `tok-for-${req.scopes.join(',')}`, expiresIn: 300, issuedAt: 1_700_000_000 };
  },
};

async function serve(registryAuth: RegistryAuthProvider | undefined): Promise<Rpc> {
  const server = createSessionServer({ contextDir: dir, dockerignore: [], ...(registryAuth ? { registryAuth } : {}) });
  const sock = path.join(dir, `s${servers.length}.sock`);
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  servers.push(server);
  const rpc = new Rpc(new grpc.Client(`unix://${sock}`, grpc.credentials.createInsecure()));
  clients.push(rpc);
  return rpc;
}

const call = (rpc: Rpc, name: string, req: Msg): Promise<Msg> => rpc.unary(method(AUTH, name), req);

function rawPublicKey(raw: Uint8Array) {
  // SPKI DER header of an Ed25519 public key, then the 32 raw bytes.
  return createPublicKey({ key: Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]), format: 'der', type: 'spki' });
}

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-session-auth-'));
});

afterAll(() => {
  for (const c of clients) c.client.close();
  for (const s of servers) s.forceShutdown();
  rmSync(dir, { recursive: true, force: true });
});

describe('ed25519 helpers', () => {
  it('derive the RFC 8032 test vector 1 public key from its seed, and sign as NaCl does (signature, then message)', () => {
    const key = ed25519FromSeed(Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex'));
    expect(ed25519PublicKey(key).toString('hex')).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    const signed = naclSign(key, new Uint8Array(0));
    expect(signed.toString('hex')).toBe(
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    );
  });
});

describe('session Auth service with credentials', () => {
  it('answers Credentials per host: username and password, an identity token without a username, nothing for an unknown host', async () => {
    const rpc = await serve(provider);
    expect(await call(rpc, 'Credentials', { Host: '127.0.0.1:5001' })).toEqual({ Username: 'alice', Secret: 'pw-1' });
    const identity = await call(rpc, 'Credentials', { Host: 'id.example' });
    expect([identity.Username ?? '', identity.Secret]).toEqual(['', 'refresh-tok']);
    expect(await call(rpc, 'Credentials', { Host: 'other.example' })).toEqual({});
  });

  it('gives a token authority whose signatures of the daemon payload verify, per salt', async () => {
    const rpc = await serve(provider);
    const salt = Buffer.alloc(32, 7);
    const { PublicKey } = await call(rpc, 'GetTokenAuthority', { Host: '127.0.0.1:5001', Salt: salt });
    expect((PublicKey as Uint8Array).length).toBe(32);
    const payload = Buffer.from('0123456789abcdef0123456789abcdef');
    const { Signed } = await call(rpc, 'VerifyTokenAuthority', { Host: '127.0.0.1:5001', Salt: salt, Payload: payload });
    const signed = Buffer.from(Signed as Uint8Array);
    expect(signed.subarray(64)).toEqual(payload);
    expect(verify(null, payload, rawPublicKey(PublicKey as Uint8Array), signed.subarray(0, 64))).toBe(true);
    // Same session, same salt: the same key (the daemon links its token cache to it).
    expect((await call(rpc, 'GetTokenAuthority', { Host: '127.0.0.1:5001', Salt: salt })).PublicKey).toEqual(PublicKey);
    // Another salt (the daemon restarted): another key.
    expect((await call(rpc, 'GetTokenAuthority', { Host: '127.0.0.1:5001', Salt: Buffer.alloc(32, 8) })).PublicKey).not.toEqual(PublicKey);
  });

  it('keys a host with a secret to this session (random seed), and an anonymous host to the salt alone', async () => {
    const a = await serve(provider);
    const b = await serve(provider);
    const salt = Buffer.alloc(32, 1);
    const key = async (rpc: Rpc, host: string): Promise<unknown> => (await call(rpc, 'GetTokenAuthority', { Host: host, Salt: salt })).PublicKey;
    expect(await key(a, '127.0.0.1:5001')).not.toEqual(await key(b, '127.0.0.1:5001'));
    expect(await key(a, 'anon.example')).toEqual(await key(b, 'anon.example'));
  });

  it('fetches tokens for the daemon with the realm, service and scopes it names', async () => {
    const rpc = await serve(provider);
    const res = await call(rpc, 'FetchToken', {
      ClientID: 'buildkit-client',
      Host: '127.0.0.1:5001',
      Realm: 'http://127.0.0.1:5002/token',
      Service: 'registry',
      Scopes: ['repository:base:pull'],
    });
    expect(res).toEqual({ Token: 'tok-for-repository:base:pull', ExpiresIn: '300', IssuedAt: '1700000000' });
    expect(tokenRequests.at(-1)).toEqual({ host: '127.0.0.1:5001', realm: 'http://127.0.0.1:5002/token', service: 'registry', scopes: ['repository:base:pull'] });
  });

  it("reports a token server's refusal as the call's error", async () => {
    const rpc = await serve(provider);
    await expect(call(rpc, 'FetchToken', { Host: 'bad.example', Realm: 'https://bad.example/token', Scopes: ['repository:x:pull'] })).rejects.toMatchObject({
      code: grpc.status.UNKNOWN,
      details: expect.stringContaining('refused a token') as unknown,
    });
  });
});

describe('session Auth service without credentials', () => {
  it('answers empty credentials and no token authority, so the daemon pulls anonymously', async () => {
    const rpc = await serve(undefined);
    expect(await call(rpc, 'Credentials', { Host: '127.0.0.1:5001' })).toEqual({});
    for (const name of ['GetTokenAuthority', 'VerifyTokenAuthority', 'FetchToken']) {
      await expect(call(rpc, name, { Host: '127.0.0.1:5001' })).rejects.toMatchObject({ code: grpc.status.UNIMPLEMENTED });
    }
  });
});
