import { TracebuildError, type ExitKind } from '../common/index.js';

/**
 * Typed errors of the distribution client. Every failure names the operation, the
 * reference it was about, the HTTP status when there was one, and the registry's own
 * error message when its answer carried the distribution-spec error JSON.
 */

export type RegistryErrorCode =
  | 'bad-reference' // the reference string does not parse
  | 'unauthorized' // 401 after authenticating, or the registry asks for credentials we lack
  | 'denied' // 403
  | 'not-found' // 404 (repository, manifest, blob, tag, upload)
  | 'manifest-invalid' // the registry rejected a manifest, or one we read is not valid JSON/shape
  | 'blob-invalid' // the registry rejected a blob upload (digest, size, range)
  | 'digest-mismatch' // content does not hash to the digest asked for or announced
  | 'unreachable' // connection failures after all retries
  | 'rate-limited' // 429 after all retries
  | 'server-error' // 5xx after all retries
  | 'bad-response' // an answer that breaks the protocol (missing Location, bad JSON...)
  | 'unsupported' // the registry lacks what the operation needs
  | 'credentials' // docker config or credential helper failure
  | 'insecure' // refusing plain http (or an http token realm) for a non-local host
  | 'request-failed'; // any other 4xx

export type RegistryOperation =
  | 'ping'
  | 'auth.token'
  | 'credentials.get'
  | 'reference.parse'
  | 'manifest.get'
  | 'manifest.head'
  | 'manifest.put'
  | 'manifest.delete'
  | 'blob.head'
  | 'blob.get'
  | 'blob.push'
  | 'blob.mount'
  | 'tags.list'
  | 'referrers.list'
  | 'referrers.attach';

export interface RegistryErrorDetails {
  readonly code: RegistryErrorCode;
  readonly operation: RegistryOperation;
  /** The reference (or registry host) the operation was about, as the caller named it. */
  readonly reference: string;
  readonly status?: number;
  /** The `errors[].code` values from the registry's error JSON, e.g. MANIFEST_UNKNOWN. */
  readonly registryCodes?: readonly string[];
  /** The `errors[].message` values from the registry's error JSON, joined by '; '. */
  readonly registryMessage?: string;
  readonly cause?: unknown;
}

const EXIT: Record<RegistryErrorCode, ExitKind> = {
  'bad-reference': 'input',
  unauthorized: 'auth',
  denied: 'auth',
  'not-found': 'remote',
  'manifest-invalid': 'remote',
  'blob-invalid': 'remote',
  'digest-mismatch': 'remote',
  unreachable: 'unreachable',
  'rate-limited': 'remote',
  'server-error': 'remote',
  'bad-response': 'remote',
  unsupported: 'remote',
  credentials: 'auth',
  insecure: 'remote',
  'request-failed': 'remote',
};

export class RegistryError extends TracebuildError<RegistryErrorCode> {
  readonly exit: ExitKind;
  /** What went wrong, without the operation and reference the message starts with. */
  readonly reason: string;
  readonly operation: RegistryOperation;
  readonly reference: string;
  readonly status: number | undefined;
  readonly registryCodes: readonly string[];
  readonly registryMessage: string | undefined;

  constructor(message: string, details: RegistryErrorDetails) {
    const parts = [`${details.operation} ${details.reference}: ${message}`];
    if (details.status !== undefined) parts.push(`(HTTP ${details.status})`);
    if (details.registryMessage) parts.push(`registry says: ${details.registryMessage}`);
    super(details.code, parts.join(' '), details.cause === undefined ? {} : { cause: details.cause });
    this.name = 'RegistryError';
    this.reason = message;
    this.exit = EXIT[details.code];
    this.operation = details.operation;
    this.reference = details.reference;
    this.status = details.status;
    this.registryCodes = details.registryCodes ?? [];
    this.registryMessage = details.registryMessage;
  }
}

export function isRegistryError(err: unknown, code?: RegistryErrorCode): err is RegistryError {
  return err instanceof RegistryError && (code === undefined || err.code === code);
}

/** Parses the distribution-spec error body `{"errors":[{code,message,detail}]}`, if it is one. */
export function parseRegistryErrorBody(body: Uint8Array): { codes: string[]; message?: string } {
  if (body.byteLength === 0 || body.byteLength > 64 * 1024) return { codes: [] };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body).toString('utf8'));
  } catch {
    return { codes: [] };
  }
  if (typeof parsed !== 'object' || parsed === null) return { codes: [] };
  const errors = (parsed as { errors?: unknown }).errors;
  if (!Array.isArray(errors)) return { codes: [] };
  const codes: string[] = [];
  const messages: string[] = [];
  for (const e of errors) {
    if (typeof e !== 'object' || e === null) continue;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string') codes.push(code);
    if (typeof message === 'string' && message !== '') messages.push(message);
  }
  return messages.length > 0 ? { codes, message: messages.join('; ') } : { codes };
}

/** The error code for a final (non-retried) HTTP status. */
export function codeForStatus(status: number, operation: RegistryOperation, registryCodes: readonly string[]): RegistryErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'denied';
  if (status === 404) return 'not-found';
  if (status === 429) return 'rate-limited';
  if (status >= 500) return 'server-error';
  if (registryCodes.includes('DIGEST_INVALID')) {
    return operation.startsWith('manifest') ? 'manifest-invalid' : 'blob-invalid';
  }
  if (registryCodes.some((c) => c.startsWith('MANIFEST_')) || (operation === 'manifest.put' && status === 400)) {
    return 'manifest-invalid';
  }
  if (operation === 'blob.push' && (status === 400 || status === 416)) return 'blob-invalid';
  if (registryCodes.includes('UNSUPPORTED') || status === 405) return 'unsupported';
  return 'request-failed';
}
