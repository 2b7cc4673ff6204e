import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { guardRequest, parseDuration, pluginSocketPath } from './guard.js';
import { trustArgs, trustOptions } from './trust-flags.js';

const flags = { key: ['a.pub'], policy: 'p.yaml', name: 'tracebuild-guard', pluginDir: '/run/docker/plugins', dockerPlugin: true, cacheTtl: '10m', cacheSize: '1000', timeout: '20s', supervise: true };

describe('tracebuild guard flags', () => {
  it('reads durations the way docker users write them', () => {
    expect(parseDuration('500ms', '--x')).toBe(500);
    expect(parseDuration('20s', '--x')).toBe(20_000);
    expect(parseDuration('1.5m', '--x')).toBe(90_000);
    expect(parseDuration('2h', '--x')).toBe(7_200_000);
    expect(parseDuration('30', '--x')).toBe(30_000);
    expect(() => parseDuration('ten', '--cache-ttl')).toThrow(/--cache-ttl: "ten" is not a duration/);
  });

  it('builds the request, with the socket dockerd looks for', () => {
    const r = guardRequest(flags);
    expect(r).toMatchObject({ keys: ['a.pub'], cacheTtlMs: 600_000, cacheSize: 1000, timeoutMs: 20_000, allowUnattested: false, supervise: true });
    expect(pluginSocketPath(r)).toBe('/run/docker/plugins/tracebuild-guard.sock');
    expect(guardRequest({ ...flags, webhook: '[::1]:8443', tlsCert: 'c.pem', tlsKey: 'k.pem' }).webhook).toEqual({ host: '::1', port: 8443, certFile: 'c.pem', keyFile: 'k.pem' });
  });

  it('refuses incomplete or contradictory flags as usage errors', () => {
    const cases: Array<[Partial<typeof flags> & Record<string, unknown>, RegExp]> = [
      [{ key: undefined }, /--key <PUB>/],
      [{ policy: undefined }, /--policy <FILE>/],
      [{ name: '../x' }, /--name: "..\/x" is not a plugin name/],
      [{ cacheSize: '0' }, /--cache-size/],
      [{ webhook: '127.0.0.1:8443' }, /--webhook needs --tls-cert FILE and --tls-key FILE/],
      [{ webhook: 'nope', tlsCert: 'c', tlsKey: 'k' }, /--webhook: "nope" is not HOST:PORT/],
      [{ tlsCert: 'c' }, /--tls-cert and --tls-key are for --webhook/],
      [{ dockerPlugin: false }, /--no-docker-plugin leaves nothing to serve/],
    ];
    for (const [change, message] of cases) {
      const run = (): unknown => guardRequest({ ...flags, ...change } as typeof flags);
      expect(run).toThrow(UsageError);
      expect(run).toThrow(message);
    }
  });

  it('trusts certificate identities too, and gives its worker the same trust flags', () => {
    const identity = {
      ...flags,
      key: undefined,
      certificateIdentity: 'spiffe://example.org/ci/builder',
      caRoots: 'roots.pem',
      caIntermediates: 'inter.pem',
      timestampCertificateChain: 'tsa.pem',
    };
    const r = guardRequest(identity);
    expect(r.trust).toEqual(trustOptions(identity));
    expect(trustArgs(r.trust)).toEqual([
      '--certificate-identity', 'spiffe://example.org/ci/builder',
      '--ca-roots', 'roots.pem',
      '--ca-intermediates', 'inter.pem',
      '--timestamp-certificate-chain', 'tsa.pem',
    ]);
    expect(trustArgs(guardRequest(flags).trust)).toEqual(['--key', 'a.pub']);
  });
});
