import { describe, expect, it } from 'vitest';
import { RegistryError, isRegistryError } from './errors.js';
import { parseReference, parseReferenceWithDefaultTag, isLocalHost } from './reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox', undefined, undefined],
    ['busybox:1.36', 'docker.io', 'library/busybox', '1.36', undefined],
    ['user/app', 'docker.io', 'user/app', undefined, undefined],
    ['docker.io/busybox', 'docker.io', 'library/busybox', undefined, undefined],
    ['index.docker.io/user/app:x', 'docker.io', 'user/app', 'x', undefined],
    ['ghcr.io/org/team/app:v1', 'ghcr.io', 'org/team/app', 'v1', undefined],
    ['localhost/app', 'localhost', 'app', undefined, undefined],
    ['localhost:5000/app:dev', 'localhost:5000', 'app', 'dev', undefined],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000', 'a/b', undefined, undefined],
    [`127.0.0.1:5000/a@${D}`, '127.0.0.1:5000', 'a', undefined, D],
    [`reg.example:443/a:t@${D}`, 'reg.example:443', 'a', 't', D],
    ['[::1]:5000/app', '[::1]:5000', 'app', undefined, undefined],
    ['my_reg/app', 'docker.io', 'my_reg/app', undefined, undefined],
  ])('%s', (input, registry, repository, tag, digest) => {
    const ref = parseReference(input);
    expect({ registry: ref.registry, repository: ref.repository, tag: ref.tag, digest: ref.digest }).toEqual({ registry, repository, tag, digest });
  });

  it('round-trips through toString', () => {
    expect(parseReference(`127.0.0.1:5000/a/b:t@${D}`).toString()).toBe(`127.0.0.1:5000/a/b:t@${D}`);
    expect(parseReference('busybox').toString()).toBe('docker.io/library/busybox');
  });

  it('gives a bare name the latest tag on request', () => {
    expect(parseReferenceWithDefaultTag('busybox').tag).toBe('latest');
    expect(parseReferenceWithDefaultTag(`busybox@${D}`).tag).toBeUndefined();
  });

  it.each([
    ['', 'empty'],
    ['upper/Case', 'lowercase'],
    ['app:bad tag', 'whitespace'],
    ['app:-x', 'invalid tag'],
    ['app@sha256:abc', 'lowercase hex'],
    [`app@md5:${'a'.repeat(32)}`, 'unsupported digest algorithm'],
    ['reg.example/', 'missing repository'],
    ['reg.example/a//b', 'invalid repository path component'],
    ['a--/b', 'invalid repository path component'],
  ])('rejects %j with a bad-reference error naming it', (input, why) => {
    let caught: unknown;
    try {
      parseReference(input);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(RegistryError);
    expect(isRegistryError(caught, 'bad-reference')).toBe(true);
    expect((caught as RegistryError).reference).toBe(input);
    expect((caught as RegistryError).operation).toBe('reference.parse');
    expect((caught as Error).message).toContain(why);
  });

  it('knows which hosts are local', () => {
    expect(isLocalHost('localhost:5000')).toBe(true);
    expect(isLocalHost('127.0.0.1')).toBe(true);
    expect(isLocalHost('[::1]:5000')).toBe(true);
    expect(isLocalHost('127.0.0.2:5000')).toBe(false);
    expect(isLocalHost('registry.example')).toBe(false);
  });
});
