// DOCKER_HOST=ssh://[user@]host[:port] as the docker client dials it: the system ssh client
// runs `docker system dial-stdio` on the host, and the Engine API (and the /grpc and
// /session upgrades) is spoken over its stdin and stdout.
//
// The system client rather than an ssh library (docker-modem's ssh2 support): it is what the
// docker client uses, so ~/.ssh/config (ProxyJump, IdentityFile, aliases), known_hosts and the
// user's agent behave as they do for `docker`; ssh2 as docker-modem drives it reads none of
// them and checks no host key.
//
// Callers want a net.Socket (dial.ts's upgrades, node:http's agents), and node has no
// socketpair: a unix socket in a private directory gives the pair, one end is ssh's stdin and
// stdout, the other is returned. This process keeps its own copy of ssh's end until ssh
// exits, so that an ssh that fails (host unreachable, key refused, no docker there) reaches
// the caller as an error carrying ssh's words, not as a bare end of stream.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SshTarget } from './docker-host.js';

/** ssh failed or exited with an error before the connection was done with. */
export class SshDialError extends Error {
  override readonly name = 'SshDialError';
  /** A socket-error-like code, so that callers treat it as "the daemon cannot be reached". */
  readonly code = 'ESSHDIAL';
  constructor(
    readonly address: string,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    const said = stderr.trim().split('\n').filter((l) => l.trim() !== '').slice(-3).join('; ');
    super(`ssh to ${address} failed${exitCode === null ? '' : ` (exit ${exitCode})`}${said === '' ? '' : `: ${said}`}`);
  }
}

/** The ssh command line the docker client uses for ssh:// (cli/connhelper): a connect timeout, no tty. */
export function sshDialArgs(target: SshTarget): string[] {
  const args = ['-o', 'ConnectTimeout=30', '-T'];
  if (target.user !== undefined) args.push('-l', target.user);
  if (target.port !== undefined) args.push('-p', String(target.port));
  args.push('--', target.host, 'docker', 'system', 'dial-stdio');
  return args;
}

/** Kept short: ssh's last lines are what the message needs. */
const MAX_STDERR_BYTES = 16 * 1024;

/** Two connected ends of a unix socket in a fresh 0700 directory, removed at once. */
async function socketPair(): Promise<[net.Socket, net.Socket]> {
  const dir = mkdtempSync(join(tmpdir(), 'tracebuild-ssh-'));
  // paused: this process must never read from ssh's end, whose bytes are ssh's to read
  const server = net.createServer({ pauseOnConnect: true });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(join(dir, 'pair.sock'), () => resolve());
    });
    const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    const ours = net.createConnection({ path: join(dir, 'pair.sock') });
    await new Promise<void>((resolve, reject) => {
      ours.once('connect', resolve);
      ours.once('error', reject);
    });
    return [ours, await accepted];
  } finally {
    server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A socket to dockerd through `ssh ... docker system dial-stdio`. It resolves once ssh is
 * started; a failure of ssh shows as an SshDialError on the socket. Closing the socket ends
 * ssh (its stdin closes; it is killed if it lingers).
 */
export async function dialSsh(target: SshTarget, address: string): Promise<net.Socket> {
  const [ours, theirs] = await socketPair();
  const child = spawn('ssh', sshDialArgs(target), { stdio: [theirs, theirs, 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-MAX_STDERR_BYTES);
  });
  let exited = false;
  const finish = (code: number | null, error?: Error): void => {
    if (exited) return;
    exited = true;
    // Fail our end first, so that the caller sees the cause rather than an end of stream.
    if (error !== undefined || code !== 0) ours.destroy(error ?? new SshDialError(address, code, stderr));
    theirs.destroy();
  };
  child.once('error', (err: NodeJS.ErrnoException) =>
    finish(null, new SshDialError(address, null, err.code === 'ENOENT' ? 'no ssh client found in PATH (install openssh-client)' : err.message)),
  );
  // 'close': stderr has been read to its end
  child.once('close', (code) => finish(code));
  ours.once('close', () => {
    if (!exited) child.kill('SIGTERM');
  });
  return ours;
}
