// --ssh values read as buildx reads them (an agent socket, or private key files for an agent
// of the build's own: ssh-key-agent.ts), and required ssh mounts checked against them.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSshProvided, parseSshFlags } from './ssh.js';

let dir: string;
let server: Server;
let sock: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tb-ssh-flags-'));
  sock = path.join(dir, 'agent.sock');
  server = createServer();
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  writeFileSync(path.join(dir, 'id_ed25519'), 'not a socket');
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('--ssh', () => {
  it('takes default and ID from $SSH_AUTH_SOCK, ID=SOCKET from the path', () => {
    expect(parseSshFlags(['default', 'git=agent.sock'], dir, { SSH_AUTH_SOCK: sock })).toEqual({
      default: { kind: 'socket', path: sock },
      git: { kind: 'socket', path: sock },
    });
  });

  it('takes ID=KEYFILE[,KEYFILE] as key files', () => {
    expect(parseSshFlags(['default=id_ed25519', 'two=id_ed25519,id_ed25519'], dir, {})).toEqual({
      default: { kind: 'keys', paths: [path.join(dir, 'id_ed25519')] },
      two: { kind: 'keys', paths: [path.join(dir, 'id_ed25519'), path.join(dir, 'id_ed25519')] },
    });
  });

  it('names what is wrong', () => {
    expect(() => parseSshFlags(['default'], dir, {})).toThrow('invalid argument "default" for "--ssh" flag: invalid empty ssh agent socket');
    expect(() => parseSshFlags(['a', 'a'], dir, { SSH_AUTH_SOCK: sock })).toThrow('duplicate agent id a');
    expect(() => parseSshFlags(['a b'], dir, { SSH_AUTH_SOCK: sock })).toThrow('invalid id "a b"');
    expect(() => parseSshFlags(['default=agent.sock,id_ed25519'], dir, {})).toThrow('an agent socket cannot be given with other paths: one socket, or key files');
    expect(() => parseSshFlags(['default'], dir, { SSH_AUTH_SOCK: path.join(dir, 'id_ed25519') })).toThrow('(SSH_AUTH_SOCK) is not an ssh agent socket');
    expect(() => parseSshFlags(['default=.'], dir, {})).toThrow('--ssh default=.: . is neither an ssh agent socket nor a private key file');
    expect(() => parseSshFlags(['default=nope.sock'], dir, {})).toThrow('--ssh default=nope.sock: nope.sock: ENOENT');
  });

  it('fails on a required mount without its agent, with its line; optional ones pass', () => {
    expect(() => checkSshProvided([{ id: 'git', required: true, line: 4 }], {}, 'Dockerfile')).toThrow('Dockerfile:4: ssh agent git is required but not provided: pass --ssh git=SOCKET');
    expect(() => checkSshProvided([{ id: 'git', required: false, line: 4 }], {}, 'Dockerfile')).not.toThrow();
    expect(() => checkSshProvided([{ id: 'git', required: true, line: 4 }], { git: sock }, 'Dockerfile')).not.toThrow();
  });
});
