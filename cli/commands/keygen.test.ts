// keygen, and the signing commands and errors through runCli (exit codes and messages).
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttestationError, keyId, loadPrivateKey } from '../../attest/index.js';
import { RegistryError } from '../../oci/index.js';
import { runCli } from '../app.js';
import { describeError } from '../errors.js';
import type { CliIo } from '../io.js';
import { NotAttestedError } from '../build/errors.js';
import { VerificationFailedError } from '../../verify/index.js';
import { EngineError as PushError } from '../../engine/index.js';
import { PassThrough } from 'node:stream';
import type { PasswordTerminal } from '../password.js';
import { runKeygen } from './keygen.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracebuild-keygen-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: { write: (s: string) => void out.push(s) },
    stderr: { write: (s: string) => void err.push(s) },
    env, cwd: dir, clock: { now: () => 0 }, ticker: () => () => undefined,
  };
  const code = await runCli(argv, io, { version: 'test', loadToolchain: async () => ({}) as never });
  return { code, out: out.join(''), err: err.join('') };
}

describe('tracebuild keygen', () => {
  it('writes PREFIX.key (0600) and PREFIX.pub and prints the key id', async () => {
    const r = await cli(['keygen', '--out', 'team']);
    expect(r.code, r.err).toBe(0);
    const pub = readFileSync(join(dir, 'team.pub'), 'utf8');
    expect(r.out).toBe(`${keyId(pub)}\n`);
    expect(statSync(join(dir, 'team.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(join(dir, 'team.key'), 'utf8')).toContain('BEGIN PRIVATE KEY');
    expect(r.err).toContain('NOT encrypted');
  });

  it('defaults to the prefix "tracebuild" and encrypts with TRACEBUILD_KEY_PASSWORD', async () => {
    const r = await cli(['keygen'], { TRACEBUILD_KEY_PASSWORD: 'secret' });
    expect(r.code, r.err).toBe(0);
    expect(readFileSync(join(dir, 'tracebuild.key'), 'utf8')).toContain('BEGIN ENCRYPTED PRIVATE KEY');
    const key = await loadPrivateKey(join(dir, 'tracebuild.key'), 'secret');
    expect(keyId(key)).toBe(r.out.trim());
  });

  it('reads COSIGN_PASSWORD when TRACEBUILD_KEY_PASSWORD is not set (as cosign)', async () => {
    const r = await cli(['keygen', '--out', 'cosignpw'], { COSIGN_PASSWORD: 'from-cosign' });
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('encrypted with COSIGN_PASSWORD');
    expect(r.err + r.out).not.toContain('from-cosign');
    expect(keyId(await loadPrivateKey(join(dir, 'cosignpw.key'), 'from-cosign'))).toBe(r.out.trim());
  });

  it('asks for the password twice on a terminal, without echo, as cosign does', async () => {
    const typed = (answers: string[]): { terminal: PasswordTerminal; shown: string[]; raw: boolean[] } => {
      const input = new PassThrough() as PassThrough & { isTTY: boolean; setRawMode(mode: boolean): void };
      const shown: string[] = [];
      const raw: boolean[] = [];
      input.isTTY = true;
      input.setRawMode = (mode: boolean) => void raw.push(mode);
      const output = {
        write: (text: string) => {
          shown.push(text);
          // answer each prompt as a user would: characters, a typo corrected, Enter
          if (text.startsWith('Enter password')) setImmediate(() => input.write(`${answers.shift() ?? ''}x\u007f\r`));
        },
      };
      return { terminal: { input, output }, shown, raw };
    };
    const io = (): CliIo & { err: string[]; out: string[] } => {
      const out: string[] = [];
      const err: string[] = [];
      return { out, err, stdout: { write: (t: string) => void out.push(t) }, stderr: { write: (t: string) => void err.push(t) }, env: {}, cwd: dir, clock: { now: () => 0 }, ticker: () => () => undefined };
    };
    const t = typed(['hunter22', 'hunter22']);
    const sink = io();
    const result = await runKeygen({ out: 'prompted' }, sink, t.terminal);
    expect(result.encrypted).toBe(true);
    expect(t.shown.filter((l) => l.startsWith('Enter'))).toEqual(['Enter password for private key: ', 'Enter password for private key again: ']);
    expect(t.raw).toEqual([true, false, true, false]);
    expect([...t.shown, ...sink.err, ...sink.out].join('')).not.toContain('hunter22');
    expect(keyId(await loadPrivateKey(join(dir, 'prompted.key'), 'hunter22'))).toBe(result.keyId);

    const mismatch = typed(['one', 'two']);
    await expect(runKeygen({ out: 'mismatch' }, io(), mismatch.terminal)).rejects.toMatchObject({ code: 'password-mismatch', exit: 'input' });
    expect(() => statSync(join(dir, 'mismatch.key'))).toThrow();
  });

  it('refuses to overwrite (exit 1), leaving the files as they were', async () => {
    writeFileSync(join(dir, 'taken.pub'), 'mine');
    const r = await cli(['keygen', '--out', 'taken']);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`error: ${join(dir, 'taken.pub')} already exists; refusing to overwrite it`);
    expect(readFileSync(join(dir, 'taken.pub'), 'utf8')).toBe('mine');
    expect(() => statSync(join(dir, 'taken.key'))).toThrow();
  });
});

describe('signing commands: usage', () => {
  it('verify needs --key (exit 2)', async () => {
    const r = await cli(['verify', '127.0.0.1:5000/a:b']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('nothing to trust: give --key PUB');
  });
  it('referrers needs IMAGE (exit 2)', async () => {
    expect((await cli(['referrers'])).code).toBe(2);
  });
  it('an invalid IMAGE is a usage error (exit 2)', async () => {
    const r = await cli(['referrers', 'upper/Case']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('error: referrers: invalid image reference "upper/Case"');
  });
  it('build --push without -t is a usage error (exit 2) before anything is built', async () => {
    writeFileSync(join(dir, 'Dockerfile'), 'FROM busybox:local\n');
    const r = await cli(['build', '--push', '.']);
    expect(r.code).toBe(2);
    expect(r.err).toBe('error: --push needs at least one -t NAME to push to\n');
  });
});

describe('exit codes of the signing errors', () => {
  it.each([
    [new PushError('push-failed', 'r:1', 'pushing r:1 failed: denied'), 'remote', 'error: pushing r:1 failed: denied'],
    [new NotAttestedError(['r@sha256:1'], 'image pushed as r@sha256:1 but not attested: x'), 'remote', 'error: image pushed as r@sha256:1 but not attested: x'],
    [new VerificationFailedError('r:1', ['unknown-key'], 'r:1: attestation x: it is signed by key k'), 'verify', 'error: r:1: attestation x: it is signed by key k'],
    [new RegistryError('cannot get manifest', { code: 'not-found', operation: 'manifest.get', reference: 'r:1', status: 404 }), 'remote', 'error: manifest.get r:1: cannot get manifest (HTTP 404)'],
    [new AttestationError('wrong-password', 'cannot decrypt k.key: wrong password'), 'input', 'error: cannot decrypt k.key: wrong password'],
    [new AttestationError('key-exists', 'k.key already exists'), 'input', 'error: k.key already exists'],
    [new AttestationError('signing-failed', 'signing failed: x'), 'internal', 'error: signing failed: x'],
  ])('%s -> %s', (err, kind, message) => {
    expect(describeError(err)).toEqual({ kind, exitCode: 1, message });
  });
});
