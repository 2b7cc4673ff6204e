import { describe, expect, it } from 'vitest';
import { endpointFromEnv, endpointTarget, parseAddress } from './endpoint.js';
import { BuildKitConnectionError } from './errors.js';

describe('endpointFromEnv', () => {
  it('prefers BUILDKIT_HOST (standalone buildkitd)', () => {
    expect(endpointFromEnv({ BUILDKIT_HOST: 'tcp://127.0.0.1:1234', DOCKER_HOST: 'unix:///x' })).toEqual({ kind: 'buildkitd', address: 'tcp://127.0.0.1:1234' });
  });
  it('falls back to DOCKER_HOST, then the local docker socket', () => {
    expect(endpointFromEnv({ DOCKER_HOST: 'unix:///run/user/docker.sock' })).toEqual({ kind: 'docker', address: 'unix:///run/user/docker.sock' });
    expect(endpointFromEnv({})).toEqual({ kind: 'docker', address: 'unix:///var/run/docker.sock' });
    expect(endpointFromEnv({ BUILDKIT_HOST: '', DOCKER_HOST: ' ' })).toEqual({ kind: 'docker', address: 'unix:///var/run/docker.sock' });
  });
});

describe('endpointFromEnv with TLS', () => {
  it('carries the TLS settings of a tcp:// address, as the docker client and buildctl read them', () => {
    expect(endpointFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' })).toEqual({
      kind: 'docker',
      address: 'tcp://127.0.0.1:2376',
      tls: { verify: true, caFile: '/certs/ca.pem', source: 'DOCKER_CERT_PATH=/certs' },
    });
    expect(endpointFromEnv({ BUILDKIT_HOST: 'tcp://127.0.0.1:1234', BUILDKIT_TLS_DIR: '/t' })).toMatchObject({ kind: 'buildkitd', tls: { caFile: '/t/ca.pem', certFile: '/t/cert.pem' } });
    // a unix socket never uses TLS
    expect(endpointFromEnv({ DOCKER_HOST: 'unix:///run/d.sock', DOCKER_TLS_VERIFY: '1' })).toEqual({ kind: 'docker', address: 'unix:///run/d.sock' });
  });
  it('endpointTarget reads the files, naming a missing one', () => {
    expect(endpointTarget({ kind: 'docker', address: 'tcp://127.0.0.1' })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(() => endpointTarget(endpointFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/nonexistent' }))).toThrow(
      'the TLS CA certificate /nonexistent/ca.pem (DOCKER_CERT_PATH=/nonexistent): no such file',
    );
  });
});

describe('parseAddress', () => {
  it('understands unix:// and tcp://', () => {
    expect(parseAddress('unix:///var/run/docker.sock')).toEqual({ kind: 'unix', path: '/var/run/docker.sock' });
    expect(parseAddress('unix:/run/buildkit/buildkitd.sock')).toEqual({ kind: 'unix', path: '/run/buildkit/buildkitd.sock' });
    expect(parseAddress('tcp://127.0.0.1:1234')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1234 });
    expect(parseAddress('tcp://[::1]:2375')).toEqual({ kind: 'tcp', host: '::1', port: 2375 });
  });
  it('rejects other schemes with a one-line error naming the address', () => {
    for (const a of ['ssh://host', 'npipe:////./pipe/docker_engine', 'tcp://host', 'unix://relative']) {
      const err = (() => {
        try {
          parseAddress(a);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(err).toBeInstanceOf(BuildKitConnectionError);
      expect((err as BuildKitConnectionError).code).toBe('unsupported-address');
      expect((err as Error).message).toMatch(new RegExp(`^cannot connect to BuildKit at ${a.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: [^\\n]+$`));
    }
  });
});
