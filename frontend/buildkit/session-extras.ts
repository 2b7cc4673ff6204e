// What a solve request adds to its session besides the build context and secrets: named
// local directories, and the services that serve OCI layouts (build contexts and local
// cache imports) and SSH agents. Kept apart from the session's transport so that new
// sources only register here.
import { contentStoreService, LOCAL_CACHE_STORE_PREFIX, OCI_STORE_PREFIX } from './content-store.js';
import { sshForwardService } from './ssh-forward.js';
import type { SessionOptions } from './session.js';
import type { SessionService } from './session-service.js';
import type { GatewaySolveRequest } from './types.js';

export function sessionExtras(req: GatewaySolveRequest): Pick<SessionOptions, 'localDirs' | 'services'> {
  const services: SessionService[] = [];
  const stores = contentStores(req);
  if (Object.keys(stores).length > 0) services.push(contentStoreService(stores));
  if (req.sshAgents !== undefined && Object.keys(req.sshAgents).length > 0) services.push(sshForwardService(req.sshAgents));
  return {
    ...(req.localDirs === undefined ? {} : { localDirs: req.localDirs }),
    ...(services.length === 0 ? {} : { services }),
  };
}

/** Every OCI layout the daemon may read, by the store id its calls name: one content
 * service serves them all. A local cache import's `src` is its directory. */
function contentStores(req: GatewaySolveRequest): Record<string, string> {
  const stores: Record<string, string> = {};
  for (const [id, dir] of Object.entries(req.ociLayouts ?? {})) stores[OCI_STORE_PREFIX + id] = dir;
  for (const entry of req.cache?.imports ?? []) {
    const src = entry.attrs.src;
    if (entry.type === 'local' && src !== undefined && src !== '') stores[LOCAL_CACHE_STORE_PREFIX + src] = src;
  }
  return stores;
}
