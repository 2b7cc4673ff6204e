// The parse phase's note on `# syntax=`, the Dockerfile buildx falls back to, and what the
// trace says about the daemon.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveDockerfilePath } from './inputs.js';
import { syntaxNote } from './parse.js';
import { daemonMonitorFields } from './trace.js';

describe('# syntax=', () => {
  it('is noted in one line (tracebuild is the frontend), and nothing is said without it', () => {
    expect(syntaxNote({ directives: { syntax: 'docker/dockerfile:1.7-labs', syntaxLine: 2 }, stages: [] }, 'Dockerfile')).toBe(
      'note: Dockerfile:2: # syntax=docker/dockerfile:1.7-labs is ignored: tracebuild is the Dockerfile frontend\n',
    );
    expect(syntaxNote({ directives: {}, stages: [] }, 'Dockerfile')).toBeUndefined();
    expect(syntaxNote({ stages: [] }, 'Dockerfile')).toBeUndefined();
  });
});

describe('the Dockerfile of a context', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'tb-df-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is Dockerfile, else a lower-case dockerfile; -f wins', () => {
    expect(resolveDockerfilePath(undefined, dir, '/')).toBe(path.join(dir, 'Dockerfile'));
    writeFileSync(path.join(dir, 'dockerfile'), 'FROM scratch\n');
    expect(resolveDockerfilePath(undefined, dir, '/')).toBe(path.join(dir, 'dockerfile'));
    writeFileSync(path.join(dir, 'Dockerfile'), 'FROM scratch\n');
    expect(resolveDockerfilePath(undefined, dir, '/')).toBe(path.join(dir, 'Dockerfile'));
    expect(resolveDockerfilePath('other', dir, '/cwd')).toBe('/cwd/other');
  });
});

describe('trace.monitor', () => {
  it('records the daemon and BuildKit versions the client learned', () => {
    expect(daemonMonitorFields({ engine: 'dockerd', version: '20.10.24', apiVersion: '1.41', description: 'x' })).toEqual({
      daemon: { engine: 'dockerd', version: '20.10.24', apiVersion: '1.41' },
      buildkit: {},
    });
    expect(daemonMonitorFields({ engine: 'buildkitd', buildkitVersion: 'v0.13.2', description: 'x' })).toEqual({
      daemon: { engine: 'buildkitd' },
      buildkit: { version: 'v0.13.2' },
    });
    expect(daemonMonitorFields(undefined)).toEqual({});
  });
});
