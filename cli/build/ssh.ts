// `--ssh default|ID[=SOCKET|KEYFILE[,KEYFILE]]`, as buildx reads it: ID (default `default`)
// names the agent a RUN --mount=type=ssh[,id=ID] gets; without a path it is the agent of
// $SSH_AUTH_SOCK; one path that is a socket is an agent; otherwise the paths are private key
// files, given to a private agent for the build (ssh-key-agent.ts). The agent is forwarded
// read-only (frontend/buildkit/ssh-forward.ts).
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BuildInputError, UsageError } from '../errors.js';

const ID = /^[A-Za-z0-9_.-]+$/;

function bad(value: string, why: string): never {
  throw new UsageError('invalid-ssh', `invalid argument "${value}" for "--ssh" flag: ${why}`);
}

/** Where an id's agent comes from: a running agent's socket, or key files for one of ours. */
export type SshSource = { kind: 'socket'; path: string } | { kind: 'keys'; paths: string[] };

/** The agent of each id. */
export function parseSshFlags(values: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Record<string, SshSource> {
  const out: Record<string, SshSource> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const id = eq < 0 ? value : value.slice(0, eq);
    if (!ID.test(id)) bad(value, `invalid id ${JSON.stringify(id)}`);
    if (Object.hasOwn(out, id)) bad(value, `duplicate agent id ${id}`);
    const paths = eq < 0 ? [] : value.slice(eq + 1).split(',').filter((p) => p !== '');
    if (paths.length === 0) {
      const given = env.SSH_AUTH_SOCK ?? '';
      if (given === '') bad(value, 'invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set, or pass ID=SOCKET');
      out[id] = { kind: 'socket', path: socketPath(value, resolve(cwd, given), given) };
      continue;
    }
    const resolved = paths.map((p) => resolve(cwd, p));
    const kinds = resolved.map((p, i) => kindOf(value, p, paths[i]!));
    if (kinds.length === 1 && kinds[0] === 'socket') {
      out[id] = { kind: 'socket', path: resolved[0]! };
    } else {
      if (kinds.includes('socket')) bad(value, 'an agent socket cannot be given with other paths: one socket, or key files');
      out[id] = { kind: 'keys', paths: resolved };
    }
  }
  return out;
}

function kindOf(value: string, path: string, given: string): 'socket' | 'file' {
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    throw new BuildInputError('ssh-agent-unreadable', `--ssh ${value}: ${given}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
  }
  if (st.isSocket()) return 'socket';
  if (st.isFile()) return 'file';
  throw new BuildInputError('ssh-agent-unreadable', `--ssh ${value}: ${given} is neither an ssh agent socket nor a private key file`);
}

function socketPath(value: string, path: string, given: string): string {
  if (kindOf(value, path, given) !== 'socket') {
    throw new BuildInputError('ssh-agent-unreadable', `--ssh ${value}: ${given} (SSH_AUTH_SOCK) is not an ssh agent socket`);
  }
  return path;
}

/** A required SSH mount whose agent `--ssh` did not give: named with its line before
 * anything runs (an optional one is left out by the daemon). */
export function checkSshProvided(
  wanted: readonly { id: string; required: boolean; line: number }[] | undefined,
  given: Readonly<Record<string, string>>,
  dockerfileName: string,
): void {
  const missing = (wanted ?? []).find((s) => s.required && !Object.hasOwn(given, s.id));
  if (missing === undefined) return;
  throw new BuildInputError(
    'ssh-not-provided',
    `${dockerfileName}:${missing.line}: ssh agent ${missing.id} is required but not provided: pass --ssh ${missing.id === 'default' ? 'default' : `${missing.id}=SOCKET`}`,
    { file: dockerfileName, line: missing.line },
  );
}
