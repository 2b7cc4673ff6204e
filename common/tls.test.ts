import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dockerHostTarget } from './docker-host.js';
import { TlsConfigError, buildkitTlsFromEnv, dockerTlsFromEnv, loadTlsClientMaterial, tlsConnectOptions } from './tls.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tb-tls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function certDir(name: string, files: string[]): string {
  const d = path.join(dir, name);
  mkdirSync(d, { recursive: true });
  for (const f of files) writeFileSync(path.join(d, f), `-----BEGIN ${f}-----\n`);
  return d;
}

describe('dockerTlsFromEnv', () => {
  it('is off unless DOCKER_TLS_VERIFY or DOCKER_TLS is set (not empty)', () => {
    expect(dockerTlsFromEnv({})).toBeUndefined();
    expect(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '' })).toBeUndefined();
  });
  it('verifies with ca.pem and sends cert.pem/key.pem from DOCKER_CERT_PATH', () => {
    const d = certDir('full', ['ca.pem', 'cert.pem', 'key.pem']);
    expect(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d })).toEqual({
      verify: true,
      caFile: path.join(d, 'ca.pem'),
      certFile: path.join(d, 'cert.pem'),
      keyFile: path.join(d, 'key.pem'),
      source: `DOCKER_CERT_PATH=${d}`,
    });
  });
  it('DOCKER_TLS alone: TLS without verification, the CA only when there is one', () => {
    const d = certDir('noca', []);
    expect(dockerTlsFromEnv({ DOCKER_TLS: '1', DOCKER_CERT_PATH: d })).toEqual({ verify: false, source: `DOCKER_CERT_PATH=${d}` });
  });
  it('defaults to the docker config directory', () => {
    const d = certDir('config', ['ca.pem']);
    expect(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CONFIG: d })?.caFile).toBe(path.join(d, 'ca.pem'));
    expect(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', HOME: '/home/x' })?.caFile).toBe('/home/x/.docker/ca.pem');
  });
});

describe('buildkitTlsFromEnv', () => {
  it('reads BUILDKIT_TLS_DIR like buildctl --tlsdir, and an optional server name', () => {
    expect(buildkitTlsFromEnv({})).toBeUndefined();
    expect(buildkitTlsFromEnv({ BUILDKIT_TLS_DIR: '/t', BUILDKIT_TLS_SERVER_NAME: 'builder' })).toEqual({
      verify: true,
      caFile: '/t/ca.pem',
      certFile: '/t/cert.pem',
      keyFile: '/t/key.pem',
      serverName: 'builder',
      source: 'BUILDKIT_TLS_DIR=/t',
    });
  });
});

describe('loadTlsClientMaterial', () => {
  it('reads the files', () => {
    const d = certDir('read', ['ca.pem', 'cert.pem', 'key.pem']);
    const m = loadTlsClientMaterial(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d })!);
    expect(m.ca?.toString()).toBe('-----BEGIN ca.pem-----\n');
    expect(m.cert?.toString()).toBe('-----BEGIN cert.pem-----\n');
    expect(m.key?.toString()).toBe('-----BEGIN key.pem-----\n');
    expect(tlsConnectOptions(m, '127.0.0.1')).toMatchObject({ host: '127.0.0.1', rejectUnauthorized: true });
    expect(tlsConnectOptions(m, '127.0.0.1').servername).toBeUndefined();
    expect(tlsConnectOptions(m, 'builder.example').servername).toBe('builder.example');
  });
  it('names the missing file and the setting it came from', () => {
    const d = certDir('nocert', ['ca.pem', 'cert.pem']);
    const err = (() => {
      try {
        loadTlsClientMaterial(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d })!);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(TlsConfigError);
    expect((err as TlsConfigError).code).toBe('tls-file-missing');
    expect((err as Error).message).toBe(`the TLS client key ${path.join(d, 'key.pem')} (DOCKER_CERT_PATH=${d}): no such file; a client certificate needs both cert.pem and key.pem`);
    expect(() => loadTlsClientMaterial({ verify: true, caFile: '/nonexistent/ca.pem', source: 'BUILDKIT_TLS_DIR=/nonexistent' })).toThrow(
      'the TLS CA certificate /nonexistent/ca.pem (BUILDKIT_TLS_DIR=/nonexistent): no such file',
    );
  });
});

describe('dockerHostTarget', () => {
  it('dials tcp:// with TLS on 2376 by default, unix:// without', () => {
    const d = certDir('target', ['ca.pem', 'cert.pem', 'key.pem']);
    const t = dockerHostTarget({ DOCKER_HOST: 'tcp://127.0.0.1', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d });
    expect(t).toMatchObject({ kind: 'tcp', host: '127.0.0.1', port: 2376 });
    expect(t.kind === 'tcp' && t.tls?.verify).toBe(true);
    expect(dockerHostTarget({ DOCKER_HOST: 'tcp://127.0.0.1' })).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 2375 });
    expect(dockerHostTarget({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: d })).toEqual({ kind: 'unix', path: '/var/run/docker.sock' });
  });
});
