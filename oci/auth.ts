/**
 * Registry authentication, challenge first: nothing is attached to a request until the
 * registry has answered 401 with a `WWW-Authenticate` challenge. After that the host's
 * scheme is remembered, so later requests carry Basic credentials or a bearer token for
 * their scope up front. Bearer tokens come from the challenge's realm (GET with Basic
 * credentials if we have any, or the OAuth2 refresh-token POST for an identity token) and
 * are cached per realm, service and scope until they expire.
 */
import { RegistryError, type RegistryOperation } from './errors.js';
import type { CredentialStore } from './credentials.js';
import type { TransportOptions } from './transport.js';
import { fetchBearerToken } from './token.js';

export interface Challenge {
  /** Lower-case scheme: `basic`, `bearer`, ... */
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` value (RFC 7235): one or more challenges, each a scheme
 * then comma-separated `key=value` / `key="quoted, value"` parameters.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (re: RegExp): void => {
    while (i < n && re.test(header[i] as string)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[A-Za-z0-9!#$%&'*+.^_`|~-]/.test(header[i] as string)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    if (i >= n) break;
    const name = token();
    if (name === '') {
      i++; // junk character: skip it
      continue;
    }
    skip(/[ \t]/);
    if (header[i] === '=' && current) {
      i++;
      skip(/[ \t]/);
      let value = '';
      if (header[i] === '"') {
        i++;
        while (i < n && header[i] !== '"') {
          if (header[i] === '\\' && i + 1 < n) i++;
          value += header[i];
          i++;
        }
        i++; // closing quote
      } else {
        const vs = i;
        while (i < n && header[i] !== ',' && !/\s/.test(header[i] as string)) i++;
        value = header.slice(vs, i);
      }
      current.params[name.toLowerCase()] = value;
    } else {
      // A new challenge's scheme (possibly followed by a token68, which we ignore).
      current = { scheme: name.toLowerCase(), params: {} };
      out.push(current);
    }
  }
  return out;
}

type HostScheme = { scheme: 'basic' } | { scheme: 'bearer'; realm: string; service: string | undefined };

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  credentials: CredentialStore;
  transport: TransportOptions;
  /** Hosts allowed plain http besides localhost / 127.0.0.1. */
  isInsecureHost: (host: string) => boolean;
  clientId: string;
  now?: () => number;
}

export class Authenticator {
  private readonly opts: AuthenticatorOptions;
  private readonly hosts = new Map<string, HostScheme>();
  private readonly tokens = new Map<string, Promise<CachedToken>>();
  private readonly now: () => number;

  constructor(opts: AuthenticatorOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  /** Whether a host has challenged us (for tests and diagnostics). */
  knownScheme(host: string): 'basic' | 'bearer' | undefined {
    return this.hosts.get(host)?.scheme;
  }

  /**
   * The Authorization header to send up front, for a host that already challenged us;
   * undefined for a host that never asked (credentials are never volunteered).
   */
  async authorization(host: string, scopes: readonly string[], operation: RegistryOperation, reference: string): Promise<string | undefined> {
    const known = this.hosts.get(host);
    if (!known) return undefined;
    if (known.scheme === 'basic') return this.basicHeader(host, operation, reference);
    return `Bearer ${(await this.token(host, known.realm, known.service, scopes, reference, false)).token}`;
  }

  /**
   * Handles a 401: learns the host's scheme from its challenge and returns the header to
   * retry with. Throws `unauthorized` when no usable challenge or credential exists.
   */
  async respondToChallenge(host: string, wwwAuthenticate: string | null, scopes: readonly string[], operation: RegistryOperation, reference: string): Promise<string> {
    const challenges = parseChallenges(wwwAuthenticate ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer) {
      const realm = bearer.params.realm;
      if (!realm) throw new RegistryError('bearer challenge without a realm', { code: 'unauthorized', operation, reference, status: 401 });
      const service = bearer.params.service;
      this.hosts.set(host, { scheme: 'bearer', realm, service });
      const challengeScopes = (bearer.params.scope ?? '').split(' ').filter((s) => s !== '');
      const all = [...new Set([...scopes, ...challengeScopes])];
      return `Bearer ${(await this.token(host, realm, service, all, reference, true)).token}`;
    }
    if (basic) {
      this.hosts.set(host, { scheme: 'basic' });
      return this.basicHeader(host, operation, reference);
    }
    const what = wwwAuthenticate ? `an unsupported challenge (${wwwAuthenticate})` : 'no WWW-Authenticate challenge';
    throw new RegistryError(`registry answered 401 with ${what}`, { code: 'unauthorized', operation, reference, status: 401 });
  }

  private async basicHeader(host: string, operation: RegistryOperation, reference: string): Promise<string> {
    const cred = await this.opts.credentials.get(host);
    if (!cred || cred.username === undefined || cred.password === undefined) {
      throw new RegistryError(`registry ${host} asks for basic credentials and none are configured for it`, { code: 'unauthorized', operation, reference, status: 401 });
    }
    return `Basic ${Buffer.from(`${cred.username}:${cred.password}`).toString('base64')}`;
  }

  private token(host: string, realm: string, service: string | undefined, scopes: readonly string[], reference: string, fresh: boolean): Promise<CachedToken> {
    const sorted = [...scopes].sort();
    const key = `${realm}\n${service ?? ''}\n${sorted.join(' ')}`;
    const cached = this.tokens.get(key);
    if (cached && !fresh) {
      return cached.then((t) => (t.expiresAt > this.now() ? t : this.refresh(key, host, realm, service, sorted, reference)));
    }
    return this.refresh(key, host, realm, service, sorted, reference);
  }

  private refresh(key: string, host: string, realm: string, service: string | undefined, scopes: readonly string[], reference: string): Promise<CachedToken> {
    const p = this.fetchToken(host, realm, service, scopes, reference);
    this.tokens.set(key, p);
    p.catch(() => {
      if (this.tokens.get(key) === p) this.tokens.delete(key);
    });
    return p;
  }

  private async fetchToken(host: string, realm: string, service: string | undefined, scopes: readonly string[], reference: string): Promise<CachedToken> {
    const credential = await this.opts.credentials.get(host);
    const { token, lifetimeSeconds } = await fetchBearerToken({
      realm, service, scopes, credential, reference,
      transport: this.opts.transport, isInsecureHost: this.opts.isInsecureHost, clientId: this.opts.clientId,
    });
    if (lifetimeSeconds === undefined) return { token, expiresAt: Number.POSITIVE_INFINITY };
    // Renew a little early so a token does not expire in flight.
    return { token, expiresAt: this.now() + (lifetimeSeconds - 5) * 1000 };
  }
}
