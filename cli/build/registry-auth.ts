// The build session's registry credentials, from the Docker config the docker CLI would
// read (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`: `auths` entries,
// `credsStore` / `credHelpers` programs, identity and registry tokens). BuildKit asks by
// registry host; bearer tokens are fetched here, from the realm the daemon names, so that
// the secret itself never leaves this process on daemons that fetch through the session.
import type { RegistryAuthProvider, RegistryCredentials, RegistryToken } from '../../frontend/index.js';
import { DEFAULT_RETRY, fetchBearerToken, type Credential, type CredentialStore } from '../../oci/index.js';
import { dockerCredentials } from '../../verify/index.js';

/** The client id BuildKit's own client sends to token servers. */
const CLIENT_ID = 'buildkit-client';

/** BuildKit's Credentials answer for a credential: an identity token goes without a username. */
export function sessionCredentials(cred: Credential | undefined): RegistryCredentials | undefined {
  if (cred === undefined) return undefined;
  if (cred.identityToken) return { username: '', secret: cred.identityToken };
  if (cred.username !== undefined && cred.password !== undefined && cred.password !== '') return { username: cred.username, secret: cred.password };
  return undefined;
}

export function registryAuthFrom(store: CredentialStore): RegistryAuthProvider {
  return {
    credentials: async (host) => sessionCredentials(await store.get(host)),
    fetchToken: async ({ host, realm, service, scopes }): Promise<RegistryToken> => {
      const { token, lifetimeSeconds } = await fetchBearerToken({
        realm,
        service: service === '' ? undefined : service,
        scopes,
        credential: await store.get(host),
        transport: { retry: DEFAULT_RETRY, timeoutMs: 60_000, userAgent: 'tracebuild' },
        // Plain http only to localhost, as for pushes: a token or password never goes out in clear.
        isInsecureHost: () => false,
        clientId: CLIENT_ID,
        reference: host,
      });
      return lifetimeSeconds === undefined ? { token } : { token, expiresIn: lifetimeSeconds, issuedAt: Math.floor(Date.now() / 1000) };
    },
  };
}

/** The provider reading the Docker config of `env`. */
export function dockerConfigRegistryAuth(env: NodeJS.ProcessEnv): RegistryAuthProvider {
  return registryAuthFrom(dockerCredentials(env));
}
