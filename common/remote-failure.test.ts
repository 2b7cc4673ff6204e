import { describe, expect, it } from 'vitest';
import { remoteFailureKind } from './remote-failure.js';

// Messages as Docker 26's and Docker 20.10's BuildKit, dockerd's push and Node print them.
describe('remoteFailureKind', () => {
  it.each([
    'unexpected status from HEAD request to http://127.0.0.1:5055/v2/x/manifests/1: 401 Unauthorized',
    'pulling from host 127.0.0.1:5055 failed with status code [manifests 1]: 401 Unauthorized',
    'unauthorized: authentication required',
    'pull access denied for private/thing, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed',
    'denied: requested access to the resource is denied',
    'no basic auth credentials',
    'failed to authorize: failed to fetch oauth token: unexpected status: 401 Unauthorized',
    'unexpected status: 403 Forbidden',
  ])('auth: %s', (message) => {
    expect(remoteFailureKind(message)).toBe('auth');
  });

  it.each([
    'failed to do request: Head "http://127.0.0.1:5059/v2/x/manifests/1": dial tcp 127.0.0.1:5059: connect: connection refused',
    'dial tcp: lookup registry.invalid on 127.0.0.53:53: no such host',
    'dial tcp 10.0.0.1:443: i/o timeout',
    'net/http: TLS handshake timeout',
    'dial tcp 10.0.0.1:443: connect: network is unreachable',
    'connect ECONNREFUSED 127.0.0.1:5059',
  ])('unreachable: %s', (message) => {
    expect(remoteFailureKind(message)).toBe('unreachable');
  });

  it.each([
    'process "/bin/sh -c curl http://127.0.0.1:1 || echo unauthorized" did not complete successfully: exit code: 7',
    'executor failed running [/bin/sh -c echo unauthorized connection refused && exit 3]: exit code: 3',
    '127.0.0.1:5000/x:1: not found',
    'failed to compute cache key: "/missing": not found',
    'manifest unknown: manifest unknown',
  ])('neither: %s', (message) => {
    expect(remoteFailureKind(message)).toBeUndefined();
  });
});
