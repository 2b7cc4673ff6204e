// `--secret` as docker buildx takes it: `id=ID,src=FILE` or `id=ID,env=VAR` (also
// `type=file|env`, `source=` for `src=`), and `id=ID` alone: the environment variable ID
// when it is set, else the file ID. Values are read here, once, and handed to the
// session's Secrets service; they never enter the LLB, the progress output or a trace.

import { resolve } from 'node:path';
import { USER_FILE_LIMITS, UserFileError, readUserFile } from '../common/index.js';
import { BuildInputError, UsageError } from './errors.js';

export interface SecretSource {
  id: string;
  kind: 'file' | 'env';
  /** The file (absolute) or the environment variable's name. */
  from: string;
}

function invalid(value: string, why: string): UsageError {
  return new UsageError('invalid-secret', `invalid argument "${value}" for "--secret" flag: ${why}`);
}

export function parseSecretFlag(value: string, cwd: string, env: NodeJS.ProcessEnv = {}): SecretSource {
  const fields = new Map<string, string>();
  for (const field of value.split(',')) {
    const eq = field.indexOf('=');
    if (eq <= 0) throw invalid(value, `expected KEY=VALUE, got "${field}"`);
    const key = field.slice(0, eq).toLowerCase();
    if (!['type', 'id', 'src', 'source', 'env'].includes(key)) throw invalid(value, `unexpected key "${key}"`);
    fields.set(key === 'source' ? 'src' : key, field.slice(eq + 1));
  }
  const type = fields.get('type');
  if (type !== undefined && type !== 'file' && type !== 'env') throw invalid(value, `unsupported type "${type}"`);
  const src = fields.get('src');
  const envName = fields.get('env');
  const id = fields.get('id') ?? envName;
  if (id === undefined || id === '') throw invalid(value, 'id is required');
  // `id=X` alone: the variable X when it is set, else the file X (buildx's rule)
  const kind = type ?? (envName !== undefined ? 'env' : src === undefined && env[id] !== undefined ? 'env' : 'file');
  const from = kind === 'env' ? (envName ?? src ?? id) : (src ?? id);
  if (from === '') throw invalid(value, kind === 'env' ? 'env is required' : 'src is required');
  return { id, kind, from: kind === 'file' ? resolve(cwd, from) : from };
}

/** Reads every secret's value; a later flag with the same id wins, as in buildx. */
export function loadSecrets(sources: readonly SecretSource[], env: NodeJS.ProcessEnv): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const source of sources) {
    if (source.kind === 'env') {
      const value = env[source.from];
      if (value === undefined) {
        throw new BuildInputError('secret-unreadable', `secret ${source.id}: environment variable ${source.from} is not set`);
      }
      out[source.id] = new TextEncoder().encode(value);
      continue;
    }
    try {
      // a regular file, no larger than BuildKit takes a secret (common/user-file.ts)
      out[source.id] = readUserFile(source.from, { what: `secret ${source.id}: ${source.from}`, maxBytes: USER_FILE_LIMITS.secret });
    } catch (err) {
      if (err instanceof UserFileError) throw new BuildInputError('secret-unreadable', err.message, { cause: err });
      throw err;
    }
  }
  return out;
}
