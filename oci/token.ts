/**
 * One bearer token from a registry's token server (the realm of its `Bearer` challenge):
 * GET with Basic credentials when we have a username and password, the OAuth2
 * refresh-token POST for an identity token, anonymous GET otherwise; a static registry
 * token is used as it is. Used by the registry client's Authenticator and by the build
 * session, which fetches tokens for BuildKit so that secrets stay on this side.
 */
import { RegistryError, parseRegistryErrorBody, type RegistryOperation } from './errors.js';
import type { Credential } from './credentials.js';
import { isLocalHost, hostWithoutPort } from './reference.js';
import { send, type TransportOptions } from './transport.js';

export interface BearerTokenRequest {
  realm: string;
  service: string | undefined;
  scopes: readonly string[];
  credential: Credential | undefined;
  transport: TransportOptions;
  /** Hosts allowed plain http besides localhost / 127.0.0.1. */
  isInsecureHost: (host: string) => boolean;
  clientId: string;
  /** What the token is for, named in errors. */
  reference: string;
}

export interface BearerToken {
  token: string;
  /** Undefined for a static registry token (it does not expire that we know of). */
  lifetimeSeconds: number | undefined;
}

/** The token answer of a Docker token server / OAuth2 endpoint. */
interface TokenAnswer {
  token?: unknown;
  access_token?: unknown;
  expires_in?: unknown;
}

/** Token servers may omit `expires_in`; the distribution spec says to assume 60 s then. */
export const MIN_TOKEN_LIFETIME_S = 60;

export async function fetchBearerToken(req: BearerTokenRequest): Promise<BearerToken> {
  const op: RegistryOperation = 'auth.token';
  const { reference, credential: cred, scopes, service } = req;
  let url: URL;
  try {
    url = new URL(req.realm);
  } catch (e) {
    throw new RegistryError(`token realm ${JSON.stringify(req.realm)} is not a URL`, { code: 'bad-response', operation: op, reference, cause: e });
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && (isLocalHost(url.host) || req.isInsecureHost(url.host) || req.isInsecureHost(hostWithoutPort(url.host))))) {
    throw new RegistryError(`refusing token realm ${url.origin}: credentials and tokens travel over https only (or to localhost / an insecure-listed host)`, { code: 'insecure', operation: op, reference });
  }
  if (cred?.registryToken) return { token: cred.registryToken, lifetimeSeconds: undefined };

  let res;
  if (cred?.identityToken) {
    const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: req.clientId });
    if (service) form.set('service', service);
    if (scopes.length > 0) form.set('scope', scopes.join(' '));
    res = await send({ method: 'POST', url, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new TextEncoder().encode(form.toString()) }, req.transport, op, reference);
  } else {
    if (service) url.searchParams.set('service', service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (cred?.username !== undefined && cred.password !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
      url.searchParams.set('account', cred.username);
    }
    res = await send({ method: 'GET', url, headers }, req.transport, op, reference);
  }
  if (res.status !== 200) {
    const { codes, message } = parseRegistryErrorBody(res.body);
    let msg = message;
    if (!msg) {
      try {
        const j = JSON.parse(Buffer.from(res.body).toString('utf8')) as { details?: unknown; error_description?: unknown; error?: unknown };
        const d = j.details ?? j.error_description ?? j.error;
        if (typeof d === 'string') msg = d;
      } catch {
        // not JSON
      }
    }
    const code = res.status === 401 || res.status === 403 ? 'unauthorized' : res.status >= 500 ? 'server-error' : 'request-failed';
    throw new RegistryError(`token server ${url.origin}${url.pathname} refused a token for ${scopes.join(' ') || '(no scope)'}`, {
      code, operation: op, reference, status: res.status, registryCodes: codes, ...(msg ? { registryMessage: msg } : {}),
    });
  }
  let answer: TokenAnswer;
  try {
    answer = JSON.parse(Buffer.from(res.body).toString('utf8')) as TokenAnswer;
  } catch (e) {
    throw new RegistryError('token server answered with something that is not JSON', { code: 'bad-response', operation: op, reference, status: res.status, cause: e });
  }
  const token = typeof answer.token === 'string' && answer.token !== '' ? answer.token : typeof answer.access_token === 'string' ? answer.access_token : '';
  if (token === '') throw new RegistryError('token server answer has neither "token" nor "access_token"', { code: 'bad-response', operation: op, reference, status: res.status });
  const lifetime = typeof answer.expires_in === 'number' && answer.expires_in > MIN_TOKEN_LIFETIME_S ? answer.expires_in : MIN_TOKEN_LIFETIME_S;
  return { token, lifetimeSeconds: lifetime };
}
