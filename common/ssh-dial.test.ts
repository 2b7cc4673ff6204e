// The ssh:// DOCKER_HOST as the docker client reads and dials it: the address forms, how it
// is named in messages, and the ssh command line (cli/connhelper's). The dial itself is
// tested against a real sshd in test/integration/docker-host-ssh.test.ts.
import { describe, expect, it } from 'vitest';
import { UnsupportedAddressError, describeTarget, dockerHostTarget, parseSshAddress } from './docker-host.js';
import { SshDialError, sshDialArgs } from './ssh-dial.js';

describe('parseSshAddress', () => {
  it('reads ssh://[user@]host[:port]', () => {
    expect(parseSshAddress('ssh://root@127.0.0.1:2222')).toEqual({ kind: 'ssh', user: 'root', host: '127.0.0.1', port: 2222 });
    expect(parseSshAddress('ssh://builder')).toEqual({ kind: 'ssh', host: 'builder' });
    expect(parseSshAddress('ssh://[::1]:22')).toEqual({ kind: 'ssh', host: '::1', port: 22 });
    expect(dockerHostTarget({ DOCKER_HOST: 'ssh://me@h' })).toEqual({ kind: 'ssh', user: 'me', host: 'h' });
  });
  it('refuses a password, a path, a query', () => {
    for (const a of ['ssh://me:secret@h', 'ssh://h/var/run/docker.sock', 'ssh://h?x=1', 'ssh://']) {
      expect(() => parseSshAddress(a)).toThrow(UnsupportedAddressError);
    }
  });
});

describe('describeTarget', () => {
  it('names an ssh target as the user wrote it', () => {
    expect(describeTarget({ kind: 'ssh', user: 'root', host: '127.0.0.1', port: 2222 })).toBe('ssh://root@127.0.0.1:2222');
    expect(describeTarget({ kind: 'ssh', host: '::1' })).toBe('ssh://[::1]');
  });
});

describe('sshDialArgs', () => {
  it('is the docker client command line: a connect timeout, no tty, user and port as flags, then dial-stdio', () => {
    expect(sshDialArgs({ kind: 'ssh', user: 'root', host: '127.0.0.1', port: 2222 })).toEqual([
      '-o', 'ConnectTimeout=30', '-T', '-l', 'root', '-p', '2222', '--', '127.0.0.1', 'docker', 'system', 'dial-stdio',
    ]);
    // a host that looks like an option stays a host: it comes after `--`
    expect(sshDialArgs({ kind: 'ssh', host: '-oProxyCommand=x' }).slice(-5)).toEqual(['--', '-oProxyCommand=x', 'docker', 'system', 'dial-stdio']);
  });
});

describe('SshDialError', () => {
  it('names the address and keeps the last lines ssh said', () => {
    const err = new SshDialError('ssh://root@127.0.0.1:1', 255, 'debug\nssh: connect to host 127.0.0.1 port 1: Connection refused\n');
    expect(err.code).toBe('ESSHDIAL');
    expect(err.message).toBe('ssh to ssh://root@127.0.0.1:1 failed (exit 255): debug; ssh: connect to host 127.0.0.1 port 1: Connection refused');
  });
});
