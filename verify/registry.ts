// The registry side shared by push, attest, referrers and verify: docker's credentials
// (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, with credential helpers),
// one RegistryClient using them, and image arguments read as references.

import { join } from 'node:path';
import {
  DOCKER_HUB,
  DockerConfigCredentials,
  RegistryClient,
  isRegistryError,
  parseReferenceWithDefaultTag,
  type CredentialStore,
  type Reference,
  type RegistryClientOptions,
} from '../oci/index.js';
import { ImageReferenceError } from './errors.js';

/** The docker config file the docker CLI would read in this environment. */
export function dockerConfigPath(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.DOCKER_CONFIG?.trim();
  if (dir) return join(dir, 'config.json');
  const home = env.HOME?.trim();
  return home ? join(home, '.docker', 'config.json') : undefined;
}

export function dockerCredentials(env: NodeJS.ProcessEnv): CredentialStore {
  const path = dockerConfigPath(env);
  return new DockerConfigCredentials(path === undefined ? {} : { path });
}

/** The server address docker puts in AuthConfig for a registry host. */
export function dockerServerAddress(registry: string): string {
  return registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry;
}

export function registryClient(env: NodeJS.ProcessEnv, options: RegistryClientOptions = {}): RegistryClient {
  return new RegistryClient({ credentials: dockerCredentials(env), userAgent: 'tracebuild', ...options });
}

/**
 * IMAGE as given on the command line (`registry/repo:tag`, `...@sha256:...`; `latest` when
 * neither): a malformed reference is an ImageReferenceError (a usage error).
 */
export function parseImageArgument(image: string, command: string): Reference {
  try {
    return parseReferenceWithDefaultTag(image);
  } catch (err) {
    if (isRegistryError(err, 'bad-reference')) {
      throw new ImageReferenceError(image, `${command}: invalid image reference "${image}": ${err.reason}`, { cause: err });
    }
    throw err;
  }
}
