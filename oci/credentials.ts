/**
 * Where registry credentials come from: a static map, or Docker's config.json (`auths`
 * entries with `auth` or `username`/`password`, and the `credsStore` / `credHelpers`
 * credential helpers run as `docker-credential-<name> get`).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { RegistryError } from './errors.js';
import { DOCKER_HUB } from './reference.js';

export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (docker config `identitytoken`). */
  identityToken?: string;
  /** A bearer token to use as is (docker config `registrytoken`). */
  registryToken?: string;
}

/** Gives the credential for a registry host (`host[:port]`, `docker.io` for Hub), if any. */
export interface CredentialStore {
  get(registry: string): Promise<Credential | undefined>;
}

export const anonymous: CredentialStore = { get: async () => undefined };

export class StaticCredentials implements CredentialStore {
  private readonly byHost: Map<string, Credential>;
  constructor(entries: Record<string, Credential>) {
    this.byHost = new Map(Object.entries(entries).map(([k, v]) => [normalizeServerKey(k), v]));
  }
  async get(registry: string): Promise<Credential | undefined> {
    return this.byHost.get(normalizeServerKey(registry));
  }
}

/** The key Docker uses for Hub in config.json and when asking helpers. */
const HUB_SERVER_URL = 'https://index.docker.io/v1/';

/** `https://index.docker.io/v1/`, `http://host:5000/v2/`, `host:5000` -> `host:5000` (Hub -> docker.io). */
export function normalizeServerKey(key: string): string {
  let k = key.trim().toLowerCase();
  k = k.replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
  const slash = k.indexOf('/');
  if (slash !== -1) k = k.slice(0, slash);
  if (k === 'index.docker.io' || k === 'registry-1.docker.io' || k === 'registry.hub.docker.com') return DOCKER_HUB;
  return k;
}

/** The server URL Docker hands a credential helper for a registry. */
export function helperServerUrl(registry: string): string {
  return normalizeServerKey(registry) === DOCKER_HUB ? HUB_SERVER_URL : registry;
}

interface DockerConfigFile {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string; registrytoken?: string }>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
}

/** Runs a credential helper: `<program> get`, server URL on stdin, JSON on stdout. */
export type HelperRunner = (program: string, serverUrl: string) => Promise<{ stdout: string; stderr: string; exitCode: number }>;

export interface DockerConfigOptions {
  /** Path of config.json; default `~/.docker/config.json` (the CLI passes `$DOCKER_CONFIG/config.json`). */
  path?: string;
  /** How a helper name becomes a program; default `docker-credential-<name>` looked up on PATH. */
  helperProgram?: (name: string) => string;
  runHelper?: HelperRunner;
}

export function defaultDockerConfigPath(): string {
  return join(homedir(), '.docker', 'config.json');
}

export const runHelperProcess: HelperRunner = (program, serverUrl) =>
  new Promise((resolve, reject) => {
    const child = spawn(program, ['get'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), exitCode: code ?? -1 }));
    child.stdin.on('error', () => undefined);
    child.stdin.end(serverUrl);
  });

export class DockerConfigCredentials implements CredentialStore {
  private readonly path: string;
  private readonly helperProgram: (name: string) => string;
  private readonly runHelper: HelperRunner;
  private config: Promise<DockerConfigFile | undefined> | undefined;
  private readonly cache = new Map<string, Promise<Credential | undefined>>();

  constructor(options: DockerConfigOptions = {}) {
    this.path = options.path ?? defaultDockerConfigPath();
    this.helperProgram = options.helperProgram ?? ((name) => `docker-credential-${name}`);
    this.runHelper = options.runHelper ?? runHelperProcess;
  }

  get(registry: string): Promise<Credential | undefined> {
    const key = normalizeServerKey(registry);
    let p = this.cache.get(key);
    if (!p) {
      p = this.lookup(registry, key);
      this.cache.set(key, p);
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  private async lookup(registry: string, key: string): Promise<Credential | undefined> {
    const config = await this.load(registry);
    if (!config) return undefined;
    const helper = Object.entries(config.credHelpers ?? {}).find(([k]) => normalizeServerKey(k) === key)?.[1] ?? config.credsStore;
    if (helper) {
      const fromHelper = await this.fromHelper(helper, registry);
      if (fromHelper) return fromHelper;
    }
    for (const [k, entry] of Object.entries(config.auths ?? {})) {
      if (normalizeServerKey(k) !== key || !entry) continue;
      return this.fromAuthEntry(entry, registry);
    }
    return undefined;
  }

  private async load(registry: string): Promise<DockerConfigFile | undefined> {
    this.config ??= (async () => {
      let text: string;
      try {
        text = await readFile(this.path, 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object');
      return parsed as DockerConfigFile;
    })();
    try {
      return await this.config;
    } catch (e) {
      throw new RegistryError(`cannot read docker config ${this.path}: ${(e as Error).message}`, { code: 'credentials', operation: 'credentials.get', reference: registry, cause: e });
    }
  }

  private fromAuthEntry(entry: NonNullable<DockerConfigFile['auths']>[string], registry: string): Credential | undefined {
    const cred: Credential = {};
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon === -1) {
        throw new RegistryError(`docker config ${this.path}: the "auth" entry for ${registry} is not base64 of user:password`, { code: 'credentials', operation: 'credentials.get', reference: registry });
      }
      cred.username = decoded.slice(0, colon);
      cred.password = decoded.slice(colon + 1);
    } else if (entry.username !== undefined || entry.password !== undefined) {
      cred.username = entry.username ?? '';
      cred.password = entry.password ?? '';
    }
    if (entry.identitytoken) cred.identityToken = entry.identitytoken;
    if (entry.registrytoken) cred.registryToken = entry.registrytoken;
    return Object.keys(cred).length > 0 ? cred : undefined;
  }

  private async fromHelper(name: string, registry: string): Promise<Credential | undefined> {
    const program = this.helperProgram(name);
    const fail = (why: string, cause?: unknown): RegistryError =>
      new RegistryError(`credential helper ${program}: ${why}`, { code: 'credentials', operation: 'credentials.get', reference: registry, cause });
    let result: Awaited<ReturnType<HelperRunner>>;
    try {
      result = await this.runHelper(program, helperServerUrl(registry));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw fail(code === 'ENOENT' ? `not found on PATH (docker config ${this.path} names helper "${name}")` : (e as Error).message, e);
    }
    if (result.exitCode !== 0) {
      // The helpers' protocol: "credentials not found in native keychain" means no entry.
      if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
      throw fail(`exited with ${result.exitCode}: ${(result.stderr || result.stdout).trim()}`);
    }
    let parsed: { Username?: unknown; Secret?: unknown };
    try {
      parsed = JSON.parse(result.stdout) as typeof parsed;
    } catch (e) {
      throw fail('printed something that is not JSON', e);
    }
    if (typeof parsed.Secret !== 'string' || parsed.Secret === '') return undefined;
    const username = typeof parsed.Username === 'string' ? parsed.Username : '';
    return username === '<token>' ? { identityToken: parsed.Secret } : { username, password: parsed.Secret };
  }
}
