import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseChallenges } from './auth.js';
import { DockerConfigCredentials, StaticCredentials, normalizeServerKey, type HelperRunner } from './credentials.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tracebuild-oci-creds-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(content));
  return path;
}

describe('parseChallenges', () => {
  it('parses a bearer challenge with a quoted scope containing commas', () => {
    expect(parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' } },
    ]);
  });

  it('parses several challenges, unquoted values and escapes', () => {
    expect(parseChallenges('Basic realm="a \\"b\\"", Bearer realm=https://t/x, error="insufficient_scope"')).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"' } },
      { scheme: 'bearer', params: { realm: 'https://t/x', error: 'insufficient_scope' } },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('credentials', () => {
  it('normalizes docker config keys', () => {
    expect(normalizeServerKey('https://index.docker.io/v1/')).toBe('docker.io');
    expect(normalizeServerKey('http://127.0.0.1:5000/v2/')).toBe('127.0.0.1:5000');
    expect(normalizeServerKey('Registry.Example')).toBe('registry.example');
  });

  it('reads auth (base64) and username/password entries', async () => {
    const path = await config('plain.json', {
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hubuser:hub:pass').toString('base64') },
        'http://127.0.0.1:5000': { username: 'u', password: 'p' },
        'tokens.example': { identitytoken: 'refresh-me' },
      },
    });
    const store = new DockerConfigCredentials({ path });
    expect(await store.get('docker.io')).toEqual({ username: 'hubuser', password: 'hub:pass' });
    expect(await store.get('127.0.0.1:5000')).toEqual({ username: 'u', password: 'p' });
    expect(await store.get('tokens.example')).toEqual({ identityToken: 'refresh-me' });
    expect(await store.get('elsewhere.example')).toBeUndefined();
  });

  it('has no credentials when the config file does not exist', async () => {
    expect(await new DockerConfigCredentials({ path: join(dir, 'missing.json') }).get('x.example')).toBeUndefined();
  });

  it('fails with a credentials error on a broken config', async () => {
    const path = join(dir, 'broken.json');
    await writeFile(path, '{nope');
    await expect(new DockerConfigCredentials({ path }).get('x.example')).rejects.toMatchObject({ code: 'credentials', operation: 'credentials.get', reference: 'x.example' });
  });

  it('asks credHelpers before credsStore, with the server URL on stdin', async () => {
    const calls: Array<[string, string]> = [];
    const runHelper: HelperRunner = async (program, serverUrl) => {
      calls.push([program, serverUrl]);
      if (program === 'docker-credential-none') return { stdout: 'credentials not found in native keychain\n', stderr: '', exitCode: 1 };
      if (program === 'docker-credential-tok') return { stdout: JSON.stringify({ ServerURL: serverUrl, Username: '<token>', Secret: 'idt' }), stderr: '', exitCode: 0 };
      return { stdout: JSON.stringify({ ServerURL: serverUrl, Username: 'hu', Secret: 'hs' }), stderr: '', exitCode: 0 };
    };
    const path = await config('helpers.json', { credsStore: 'store', credHelpers: { 'gcr.example': 'tok', 'none.example': 'none' } });
    const store = new DockerConfigCredentials({ path, runHelper });
    expect(await store.get('docker.io')).toEqual({ username: 'hu', password: 'hs' });
    expect(await store.get('gcr.example')).toEqual({ identityToken: 'idt' });
    expect(await store.get('none.example')).toBeUndefined();
    expect(calls).toEqual([
      ['docker-credential-store', 'https://index.docker.io/v1/'],
      ['docker-credential-tok', 'gcr.example'],
      ['docker-credential-none', 'none.example'],
    ]);
  });

  it('runs a real helper program', async () => {
    const helper = join(dir, 'docker-credential-fake');
    await writeFile(helper, '#!/bin/sh\n[ "$1" = get ] || exit 2\nread server\nprintf \'{"ServerURL":"%s","Username":"from-helper","Secret":"s3cret"}\' "$server"\n');
    await chmod(helper, 0o755);
    const path = await config('real-helper.json', { credsStore: 'fake' });
    const store = new DockerConfigCredentials({ path, helperProgram: (name) => join(dir, `docker-credential-${name}`) });
    expect(await store.get('127.0.0.1:5000')).toEqual({ username: 'from-helper', password: 's3cret' });
  });

  it('says clearly when a helper is missing', async () => {
    const path = await config('missing-helper.json', { credsStore: 'does-not-exist' });
    const store = new DockerConfigCredentials({ path, helperProgram: (name) => join(dir, `docker-credential-${name}`) });
    await expect(store.get('r.example')).rejects.toMatchObject({ code: 'credentials', message: expect.stringMatching(/not found on PATH/) });
  });

  it('looks static credentials up by normalized host', async () => {
    const store = new StaticCredentials({ 'https://r.example/v2/': { username: 'a', password: 'b' } });
    expect(await store.get('r.example')).toEqual({ username: 'a', password: 'b' });
  });
});
