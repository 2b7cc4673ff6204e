import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerConfigRegistryAuth, sessionCredentials } from './registry-auth.js';

// The build session's credentials from a real Docker config file, and tokens fetched from a
// real token server on 127.0.0.1 that checks them.
let dir: string;
let server: Server;
let realm: string;
const seen: { authorization: string | undefined; url: string }[] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-registry-auth-'));
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      auths: {
        '127.0.0.1:5001': { auth: Buffer.from('alice:pa:ss').toString('base64') },
        'https://index.docker.io/v1/': { identitytoken: 'hub-refresh' },
        'static.example': { registrytoken: 'static-bearer' },
      },
    }),
  );
  server = createServer((req: IncomingMessage, res) => {
    seen.push({ authorization: req.headers.authorization, url: req.url ?? '' });
    if (req.headers.authorization !== `Basic ${Buffer.from('alice:pa:ss').toString('base64')}`) {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"token":"issued","expires_in":600}');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  realm = `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`;
});

afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('sessionCredentials', () => {
  it('sends an identity token without a username, a password with its user, and nothing without a secret', () => {
    expect(sessionCredentials({ identityToken: 'it', username: 'u', password: 'p' })).toEqual({ username: '', secret: 'it' });
    expect(sessionCredentials({ username: 'u', password: 'p' })).toEqual({ username: 'u', secret: 'p' });
    expect(sessionCredentials({ username: 'u', password: '' })).toBeUndefined();
    expect(sessionCredentials({ registryToken: 'rt' })).toBeUndefined();
    expect(sessionCredentials(undefined)).toBeUndefined();
  });
});

describe('dockerConfigRegistryAuth', () => {
  const auth = (): ReturnType<typeof dockerConfigRegistryAuth> => dockerConfigRegistryAuth({ DOCKER_CONFIG: dir });

  it('reads $DOCKER_CONFIG/config.json by the host BuildKit names (Hub as registry-1.docker.io)', async () => {
    expect(await auth().credentials('127.0.0.1:5001')).toEqual({ username: 'alice', secret: 'pa:ss' });
    expect(await auth().credentials('registry-1.docker.io')).toEqual({ username: '', secret: 'hub-refresh' });
    expect(await auth().credentials('127.0.0.1:5999')).toBeUndefined();
  });

  it('fetches a token from the realm with the basic credentials of the host, with service and scopes', async () => {
    const token = await auth().fetchToken({ host: '127.0.0.1:5001', realm, service: 'reg', scopes: ['repository:base:pull'] });
    expect(token.token).toBe('issued');
    expect(token.expiresIn).toBe(600);
    const last = seen.at(-1);
    expect(last?.url).toContain('service=reg');
    expect(last?.url).toContain('scope=repository%3Abase%3Apull');
  });

  it('asks anonymously for a host without credentials, and reports the refusal naming the token server', async () => {
    await expect(auth().fetchToken({ host: '127.0.0.1:5999', realm, service: 'reg', scopes: ['repository:base:pull'] })).rejects.toThrow(
      /token server http:\/\/127\.0\.0\.1:\d+\/token refused a token for repository:base:pull/,
    );
    expect(seen.at(-1)?.authorization).toBeUndefined();
  });

  it('hands a static registry token over as it is, without asking the token server', async () => {
    const before = seen.length;
    expect(await auth().fetchToken({ host: 'static.example', realm: 'https://static.example/token', service: '', scopes: [] })).toEqual({ token: 'static-bearer' });
    expect(seen.length).toBe(before);
  });

  it('refuses a realm in clear text away from localhost, so no secret travels unencrypted', async () => {
    await expect(auth().fetchToken({ host: '127.0.0.1:5001', realm: 'http://token.example/token', service: '', scopes: [] })).rejects.toThrow(/refusing token realm/);
  });
});
