// `--ssh default|ID[=SOCKET]`, as buildx reads it: ID (default `default`) names the agent a
// RUN --mount=type=ssh[,id=ID] gets; without a path it is the agent of $SSH_AUTH_SOCK. The
// agent is forwarded read-only (frontend/buildkit/ssh-forward.ts). buildx also takes
// private key files there; tracebuild takes agent sockets only and says so.
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { BuildInputError, UsageError } from '../errors.js';

const ID = /^[A-Za-z0-9_.-]+$/;

function bad(value: string, why: string): never {
  throw new UsageError('invalid-ssh', `invalid argument "${value}" for "--ssh" flag: ${why}`);
}

/** Agent sockets by id. */
export function parseSshFlags(values: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const id = eq < 0 ? value : value.slice(0, eq);
    if (!ID.test(id)) bad(value, `invalid id ${JSON.stringify(id)}`);
    if (Object.hasOwn(out, id)) bad(value, `duplicate agent id ${id}`);
    const paths = eq < 0 ? [] : value.slice(eq + 1).split(',').filter((p) => p !== '');
    if (paths.length > 1) bad(value, 'only one agent socket per id');
    const given = paths[0] ?? env.SSH_AUTH_SOCK ?? '';
    if (given === '') bad(value, 'invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set, or pass ID=SOCKET');
    const path = resolve(cwd, given);
    let isSocket: boolean;
    try {
      isSocket = statSync(path).isSocket();
    } catch (err) {
      throw new BuildInputError('ssh-agent-unreadable', `--ssh ${value}: ssh agent socket ${given}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, { cause: err });
    }
    if (!isSocket) {
      throw new BuildInputError('ssh-agent-unreadable', `--ssh ${value}: ${given} is not an ssh agent socket (private key files are not supported: add the key to an agent with ssh-add and pass its socket)`);
    }
    out[id] = path;
  }
  return out;
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
