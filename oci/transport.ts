/**
 * One HTTP exchange with bounded retries: exponential backoff with full jitter on 5xx
 * (except 501/505), 429 and dropped connections. Bodies are buffered, so a connection
 * lost while reading the body is retried like one lost before the headers.
 */
import { RegistryError, type RegistryOperation } from './errors.js';

export interface RetryPolicy {
  /** Total attempts, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 200, maxDelayMs: 10_000 };

export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: URL;
  headers?: Record<string, string>;
  body?: Uint8Array;
  /** False for requests that must not be repeated blindly (a PATCH of an upload chunk). */
  retry?: boolean;
}

export interface HttpResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  /** The final URL (after redirects). */
  url: string;
}

export interface TransportOptions {
  retry: RetryPolicy;
  timeoutMs: number;
  userAgent: string;
  /** For tests: how to wait between attempts. */
  sleep?: (ms: number) => Promise<void>;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** True for connection-level failures worth another attempt. */
export function isTransientNetworkError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') break;
    const { code, name, message } = e as { code?: unknown; name?: unknown; message?: unknown };
    if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return true;
    if (name === 'TimeoutError') return true;
    if (typeof message === 'string' && /^(terminated|other side closed|socket hang up)$/i.test(message)) return true;
  }
  return false;
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501 && status !== 505);
}

/** Delay before attempt `attempt + 1` (attempt counts from 1): full jitter over an exponential cap. */
export function backoffDelay(policy: RetryPolicy, attempt: number, retryAfterMs?: number): number {
  const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  const jittered = cap / 2 + Math.random() * (cap / 2);
  return retryAfterMs === undefined ? jittered : Math.min(policy.maxDelayMs, Math.max(jittered, retryAfterMs));
}

function retryAfter(headers: Headers): number | undefined {
  const v = headers.get('retry-after');
  if (!v) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

function describeNetworkError(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (typeof e !== 'object') break;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof message === 'string' && message && !parts.includes(message)) parts.push(message);
    if (typeof code === 'string' && !parts.includes(code)) parts.push(code);
  }
  return parts.join(': ') || String(err);
}

const defaultSleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Sends a request, retrying per the policy; returns the last response even when it is an
 * error status (the caller maps it to a typed error), throws `unreachable` when every
 * attempt failed at the connection level.
 */
export async function send(req: HttpRequest, options: TransportOptions, operation: RegistryOperation, reference: string): Promise<HttpResponse> {
  const policy = req.retry === false ? { ...options.retry, attempts: 1 } : options.retry;
  const sleep = options.sleep ?? defaultSleep;
  const headers = { 'user-agent': options.userAgent, ...req.headers };
  let lastError: unknown;
  for (let attempt = 1; attempt <= Math.max(1, policy.attempts); attempt++) {
    try {
      const init: RequestInit = { method: req.method, headers, redirect: 'follow', signal: AbortSignal.timeout(options.timeoutMs) };
      if (req.body !== undefined) init.body = req.body;
      const res = await fetch(req.url, init);
      const body = req.method === 'HEAD' ? new Uint8Array() : new Uint8Array(await res.arrayBuffer());
      const response: HttpResponse = { status: res.status, headers: res.headers, body, url: res.url || req.url.toString() };
      if (isRetryableStatus(res.status) && attempt < policy.attempts) {
        await sleep(backoffDelay(policy, attempt, retryAfter(res.headers)));
        continue;
      }
      return response;
    } catch (err) {
      if (!isTransientNetworkError(err)) {
        throw new RegistryError(`${req.method} ${req.url.origin}${req.url.pathname} failed: ${describeNetworkError(err)}`, { code: 'unreachable', operation, reference, cause: err });
      }
      lastError = err;
      if (attempt < policy.attempts) await sleep(backoffDelay(policy, attempt));
    }
  }
  throw new RegistryError(`${req.method} ${req.url.origin}${req.url.pathname} failed after ${policy.attempts} attempt(s): ${describeNetworkError(lastError)}`, {
    code: 'unreachable', operation, reference, cause: lastError,
  });
}
