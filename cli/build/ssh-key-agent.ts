// `--ssh ID=KEYFILE[,KEYFILE]`: buildx loads private key files into an agent of its own for
// the build. tracebuild does the same with OpenSSH's own tools rather than a key parser of
// ours: a private `ssh-agent` for this build, on a socket in a directory only we can read,
// the keys given to `ssh-add -` on its standard input (read here like any file the user
// names: regular files, bounded size), and the agent gone when the build ends.
//
// The agent runs `ssh-agent -a SOCKET sh -c '...; exec cat'`: the agent checks every 10 s
// that its command lives and exits when it does not, and `cat` ends when our end of its
// standard input closes. So even a CLI killed with SIGKILL leaves no agent holding the keys
// for longer than that; a normal end kills the agent at once (its pid is the command's
// SSH_AGENT_PID, printed first).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readUserFile, UserFileError } from '../../common/index.js';
import { BuildInputError } from '../errors.js';

/** A key file is far smaller than this (an RSA 16384-bit key is ~12 KiB). */
const MAX_KEY_BYTES = 64 << 10;
const START_TIMEOUT_MS = 10_000;

export interface KeyAgent {
  /** The agent's socket, forwarded to the build like any agent's. */
  socket: string;
  /** Ends the agent and waits (up to a few seconds) until it is gone. */
  close(): Promise<void>;
}

const STOP_WAIT_MS = 3_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function keyError(flag: string, why: string, cause?: unknown): BuildInputError {
  return new BuildInputError('ssh-key-unusable', `--ssh ${flag}: ${why}`, cause === undefined ? undefined : { cause });
}

/** Reads each key as a user file; a missing, non-regular or oversized file is refused. */
function readKeys(flag: string, paths: readonly string[]): Buffer[] {
  return paths.map((p) => {
    try {
      return readUserFile(p, { what: `ssh key ${p}`, maxBytes: MAX_KEY_BYTES });
    } catch (err) {
      if (err instanceof UserFileError) throw keyError(flag, err.message, err);
      throw err;
    }
  });
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv, input: Buffer): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['pipe', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stderr }));
    child.stdin.end(input);
  });
}

/** Starts a private agent holding `keyPaths`' keys. `flag`: the --ssh value, for errors. */
export async function startKeyAgent(flag: string, keyPaths: readonly string[]): Promise<KeyAgent> {
  const keys = readKeys(flag, keyPaths);
  const dir = mkdtempSync(join(tmpdir(), 'tracebuild-ssh-'));
  const socket = join(dir, 'agent.sock');
  let child: ChildProcess | undefined;
  let agentPid: number | undefined;
  const close = async (): Promise<void> => {
    const pid = agentPid;
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGTERM');
    child?.stdin?.destroy();
    child?.kill('SIGTERM');
    // The agent is not our child (ssh-agent forks it and becomes the command): poll for it.
    for (let waited = 0; pid !== undefined && alive(pid) && waited < STOP_WAIT_MS; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    child = spawn('ssh-agent', ['-a', socket, 'sh', '-c', 'echo "$SSH_AGENT_PID"; exec cat'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const started = child;
    agentPid = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => reject(keyError(flag, `ssh-agent did not start within ${START_TIMEOUT_MS / 1000} s`)), START_TIMEOUT_MS);
      started.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(keyError(flag, e.code === 'ENOENT' ? 'key files need OpenSSH\'s ssh-agent and ssh-add (openssh-client), which are not installed' : `ssh-agent: ${e.message}`, e));
      });
      started.stderr?.on('data', (b: Buffer) => (err += b.toString('utf8')));
      started.stdout?.on('data', (b: Buffer) => {
        out += b.toString('utf8');
        const line = /^(\d+)\n/.exec(out);
        if (line !== null) {
          clearTimeout(timer);
          resolve(Number(line[1]));
        }
      });
      started.once('close', () => {
        clearTimeout(timer);
        reject(keyError(flag, `ssh-agent ended at once: ${err.trim() || 'no message'}`));
      });
    });
    // Keys on standard input: ssh-add never opens the user's path itself. No passphrase
    // prompt (buildx refuses protected keys too): say so instead.
    const env = { PATH: process.env.PATH, SSH_AUTH_SOCK: socket, SSH_ASKPASS_REQUIRE: 'never', DISPLAY: '' };
    for (const [i, key] of keys.entries()) {
      const added = await run('ssh-add', ['-q', '-'], env, key);
      if (added.code !== 0) {
        const said = /passphrase/i.test(added.stderr)
          ? 'it is protected by a passphrase (add it to an agent with ssh-add, and pass the agent\'s socket)'
          : added.stderr.trim().split('\n').pop() || `ssh-add exited ${added.code}`;
        throw keyError(flag, `ssh key ${keyPaths[i]} cannot be used: ${said}`);
      }
    }
    return { socket, close };
  } catch (err) {
    await close();
    throw err;
  }
}
