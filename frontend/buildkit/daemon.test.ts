// The daemon's name and versions: dockerd's GET /_ping (else GET /version) over its socket, and the names
// messages give it.
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeDaemon, dockerdVersion, engineGet, meaningfulBuildKitVersion } from './daemon.js';
import { capabilitiesFromPong } from './gateway.js';

describe('describeDaemon', () => {
  it('names dockerd with its version and the BuildKit line it embeds when BuildKit says nothing', () => {
    expect(describeDaemon({ engine: 'dockerd', version: '20.10.24+dfsg1', description: '' })).toBe("dockerd 20.10.24+dfsg1's BuildKit (v0.8.x)");
    expect(describeDaemon({ engine: 'dockerd', version: '26.1.5', buildkitVersion: 'v0.0.0+unknown', description: '' })).toBe("dockerd 26.1.5's BuildKit (v0.13.x)");
    expect(describeDaemon({ engine: 'dockerd', version: '26.1.5', buildkitVersion: 'v0.13.2', description: '' })).toBe("dockerd 26.1.5's BuildKit (v0.13.2)");
    expect(describeDaemon({ engine: 'dockerd', version: '99.0.0', description: '' })).toBe("dockerd 99.0.0's BuildKit");
    expect(describeDaemon({ engine: 'buildkitd', buildkitVersion: 'v0.13.2', description: '' })).toBe('BuildKit v0.13.2 (buildkitd)');
    expect(describeDaemon({ engine: 'buildkitd', description: '' })).toBe('the buildkitd daemon');
    expect(meaningfulBuildKitVersion('v0.0.0+unknown')).toBeUndefined();
  });
});

describe('capabilitiesFromPong', () => {
  it('keeps the enabled caps (APICap ID, Enabled), sorted, once each', () => {
    const pong = {
      LLBCaps: [{ ID: 'file.base', Enabled: true }, { ID: 'mergeop', DisabledReasonMsg: 'no' }, { ID: 'exec.secretenv', Enabled: true }, { ID: 'file.base', Enabled: true }],
      FrontendAPICaps: [{ ID: 'solve.base', Enabled: true }],
    };
    expect(capabilitiesFromPong(pong)).toEqual({ llb: ['exec.secretenv', 'file.base'], frontend: ['solve.base'] });
    expect(capabilitiesFromPong({})).toEqual({ llb: [], frontend: [] });
  });
});

describe('GET /_ping and GET /version over the socket', () => {
  let dir: string;
  let server: http.Server;
  let socket: string;
  let chunked = false;
  let ping = false;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tb-daemon-'));
    socket = path.join(dir, 'docker.sock');
    server = http.createServer((req, res) => {
      if (req.url === '/_ping') {
        // dockerd sets Server on every answer; a proxy in front of it may not
        res.writeHead(200, ping ? { Server: 'Docker/26.1.5+dfsg1 (linux)', 'Api-Version': '1.45' } : { Server: 'proxy' }).end('OK');
        return;
      }
      if (req.url !== '/version') {
        res.writeHead(404).end('{}');
        return;
      }
      const body = JSON.stringify({ Version: '26.1.5', ApiVersion: '1.45' });
      if (chunked) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.write(body.slice(0, 10));
        res.end(body.slice(10));
      } else {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) }).end(body);
      }
    });
    await new Promise<void>((r) => server.listen(socket, r));
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the version with a length and chunked; anything else is unknown', async () => {
    expect(await dockerdVersion({ kind: 'unix', path: socket })).toEqual({ version: '26.1.5', apiVersion: '1.45' });
    chunked = true;
    expect(await dockerdVersion({ kind: 'unix', path: socket })).toEqual({ version: '26.1.5', apiVersion: '1.45' });
    expect(await engineGet({ kind: 'unix', path: socket }, '/nothing')).toBeUndefined();
    expect(await dockerdVersion({ kind: 'unix', path: path.join(dir, 'none.sock') })).toEqual({});
  });

  it("takes the version from the ping's Server header, without GET /version", async () => {
    ping = true;
    expect(await dockerdVersion({ kind: 'unix', path: socket })).toEqual({ version: '26.1.5+dfsg1', apiVersion: '1.45' });
    ping = false;
  });
});
