// What a solve request adds to its session besides the build context and secrets: named
// local directories, and the services that serve OCI layouts and SSH agents. Kept apart
// from the session's transport so that new sources only register here.
import { contentStoreService } from './content-store.js';
import { sshForwardService } from './ssh-forward.js';
import type { SessionOptions } from './session.js';
import type { SessionService } from './session-service.js';
import type { GatewaySolveRequest } from './types.js';

export function sessionExtras(req: GatewaySolveRequest): Pick<SessionOptions, 'localDirs' | 'services'> {
  const services: SessionService[] = [];
  if (req.ociLayouts !== undefined && Object.keys(req.ociLayouts).length > 0) services.push(contentStoreService(req.ociLayouts));
  if (req.sshAgents !== undefined && Object.keys(req.sshAgents).length > 0) services.push(sshForwardService(req.sshAgents));
  return {
    ...(req.localDirs === undefined ? {} : { localDirs: req.localDirs }),
    ...(services.length === 0 ? {} : { services }),
  };
}
