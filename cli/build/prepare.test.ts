import { describe, expect, it } from 'vitest';
import { familiarImageReference, formatImageReference, parseImageReferenceWithDefaultTag } from '../../common/index.js';
import { UsageError } from '../errors.js';
import { parseTag } from './prepare.js';

const normalizeTag = (ref: string) => {
  const p = parseTag(ref);
  return { ...p, normalized: formatImageReference(p), familiar: familiarImageReference(p) };
};
const normalizeReference = (ref: string) => {
  const p = parseImageReferenceWithDefaultTag(ref);
  return { ...p, normalized: formatImageReference(p), familiar: familiarImageReference(p) };
};

describe('normalizeTag (docker -t)', () => {
  it.each([
    ['foo', 'docker.io/library/foo:latest', 'foo:latest'],
    ['foo:1.0', 'docker.io/library/foo:1.0', 'foo:1.0'],
    ['user/foo', 'docker.io/user/foo:latest', 'user/foo:latest'],
    ['docker.io/foo', 'docker.io/library/foo:latest', 'foo:latest'],
    ['index.docker.io/user/foo:v2', 'docker.io/user/foo:v2', 'user/foo:v2'],
    ['localhost/foo', 'localhost/foo:latest', 'localhost/foo:latest'],
    ['localhost:5000/foo/bar:dev', 'localhost:5000/foo/bar:dev', 'localhost:5000/foo/bar:dev'],
    ['127.0.0.1:5000/a_b.c-d__e:x.Y-z_1', '127.0.0.1:5000/a_b.c-d__e:x.Y-z_1', '127.0.0.1:5000/a_b.c-d__e:x.Y-z_1'],
    ['registry.example.com/team/app', 'registry.example.com/team/app:latest', 'registry.example.com/team/app:latest'],
    ['[::1]:5000/foo', '[::1]:5000/foo:latest', '[::1]:5000/foo:latest'],
    ['Registry/foo', 'Registry/foo:latest', 'Registry/foo:latest'],
    ['tracebuild-hello:latest', 'docker.io/library/tracebuild-hello:latest', 'tracebuild-hello:latest'],
  ])('%s -> %s', (input, normalized, familiar) => {
    const ref = normalizeTag(input);
    expect(ref.normalized).toBe(normalized);
    expect(ref.familiar).toBe(familiar);
  });

  it.each([
    ['Foo', 'invalid reference format: repository name (library/Foo) must be lowercase'],
    ['user/Foo:tag', 'invalid reference format: repository name (user/Foo) must be lowercase'],
    ['foo:', 'invalid reference format'],
    [':tag', 'invalid reference format'],
    ['foo bar', 'invalid reference format'],
    ['foo/', 'invalid reference format'],
    ['-foo', 'invalid reference format'],
    ['foo:-bad', 'invalid reference format'],
    ['foo:' + 'a'.repeat(129), 'invalid reference format'],
    ['', 'invalid reference format: empty'],
    ['a'.repeat(64).replace(/a/g, 'f'), `invalid repository name (${'f'.repeat(64)}), cannot specify 64-byte hexadecimal strings`],
    ['foo@sha256:' + 'a'.repeat(64), 'invalid reference format: a tag cannot contain a digest'],
    ['x/' + 'a'.repeat(250), 'invalid reference format: repository name must not be more than 255 characters'],
  ])('rejects %j', (input, message) => {
    expect(() => normalizeTag(input)).toThrow(UsageError);
    expect(() => normalizeTag(input)).toThrow(message);
  });

  it('keeps a digest when references may have one', () => {
    const d = 'sha256:' + 'ab'.repeat(32);
    expect(normalizeReference(`busybox@${d}`)).toMatchObject({
      normalized: `docker.io/library/busybox@${d}`,
      familiar: `busybox@${d}`,
      digest: d,
    });
    expect(normalizeReference(`busybox@${d}`).tag).toBeUndefined();
  });
});
