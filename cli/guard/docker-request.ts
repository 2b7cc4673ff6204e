// Which Engine API calls the guard judges:
//
//   POST /containers/create            the image named in the JSON body
//   POST /containers/{name}/start      the image the container was created from (this also
//   POST /containers/{name}/restart    catches a create whose body dockerd did not show us,
//                                      and containers created before the guard was on)
//   POST /services/create              swarm services: the task's image, judged by
//   POST /services/{id}/update         reference as for Kubernetes (swarm starts the tasks
//                                      itself, without a create call the guard could see)
//   POST /plugins/pull, /plugins/create, /plugins/{name}/enable|upgrade
//                                      refused: a managed plugin is an unverified root
//                                      filesystem run as root, and could even take over the
//                                      guard's own plugin name
//
// Everything else passes untouched: builds (and BuildKit's /grpc and /session upgrades),
// pushes, pulls, inspects, logs, exec in a running container...
//
// dockerd routes on the decoded path with an optional `/v{version}` prefix where the
// version is any run of digits and dots (`/v1.41./` included), and a container name may
// hold slashes (link aliases such as `web/db`). The guard reads the path the same way, and
// refuses a POST that only looks like one of the routes above in a spelling it does not
// recognise, so that no spelling of a create or start slips through as "other".

import { posix } from 'node:path';

/** dockerd's authorization.Request, the fields the guard reads, as they are on the wire
 * (Go's JSON tags: note `RequestUri`, not `RequestURI`). */
export interface AuthzRequest {
  User?: string;
  RequestMethod?: string;
  RequestUri?: string;
  /** Base64 (Go []byte); absent when dockerd did not pass the body on. */
  RequestBody?: string | null;
  RequestHeaders?: Record<string, string> | null;
  ResponseStatusCode?: number;
}

export type DockerAction =
  | { kind: 'create-container'; image: string; path: string }
  | { kind: 'start-container'; container: string; path: string }
  | { kind: 'service'; image: string; path: string }
  | { kind: 'refuse'; problem: string; path: string }
  | { kind: 'other'; path: string };

/** The path dockerd's router sees: no query, percent-decoded, cleaned, no API version prefix. */
export function routedPath(uri: string): string {
  let path: string;
  try {
    // Also takes the absolute form (`http://host/v1.41/...`) that Go's server accepts.
    path = new URL(uri, 'http://dockerd').pathname;
  } catch {
    path = uri.split('?')[0] ?? '';
  }
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape: dockerd's router would not match it to anything either.
  }
  path = posix.normalize(`/${path}`);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.replace(/^\/v[0-9.]+(?=\/|$)/, '') || '/';
}

/**
 * The value of the body's `Image` key as dockerd decodes it: Go matches JSON keys to fields
 * case-insensitively, so `image` or `IMAGE` also set it. More than one such key is refused
 * rather than guessed at. `field` is the path of objects to look in.
 */
function imageOf(body: string | null | undefined, field: readonly string[]): { image: string } | { problem: string } {
  if (typeof body !== 'string' || body === '') {
    return { problem: 'dockerd did not show the guard the request body (not application/json, chunked, or over 1 MiB), so the image is unknown' };
  }
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(body, 'base64').toString('utf8'));
  } catch {
    return { problem: 'the request body is not JSON' };
  }
  for (const name of [...field, 'image']) {
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { problem: 'the request names no image' };
    const keys = Object.keys(doc).filter((k) => k.toLowerCase() === name.toLowerCase());
    if (keys.length > 1) return { problem: `the request body has ${keys.length} keys that dockerd reads as ${name} (${keys.join(', ')})` };
    doc = keys[0] === undefined ? undefined : (doc as Record<string, unknown>)[keys[0]];
  }
  if (typeof doc !== 'string' || doc.trim() === '') return { problem: 'the request names no image' };
  return { image: doc.trim() };
}

const START = /^\/containers\/(.+)\/(start|restart)$/;
const SERVICE = /^\/services\/(create|[^/]+\/update)$/;
const PLUGIN = /^\/plugins\/(pull|create|.+\/(enable|upgrade))$/;
/** Anything that mentions a judged route, to catch spellings the patterns above miss. */
const LOOKS_JUDGED = /containers.*\/(create|start|restart)$|services.*\/(create|update)$|plugins.*\/(pull|create|enable|upgrade)$/i;

export function classifyRequest(request: AuthzRequest): DockerAction {
  const method = (request.RequestMethod ?? '').toUpperCase();
  const path = routedPath(request.RequestUri ?? '');
  if (method !== 'POST') return { kind: 'other', path };
  if (path === '/containers/create') {
    const found = imageOf(request.RequestBody, []);
    return 'image' in found ? { kind: 'create-container', image: found.image, path } : { kind: 'refuse', problem: found.problem, path };
  }
  const start = START.exec(path);
  if (start?.[1] !== undefined) return { kind: 'start-container', container: start[1], path };
  if (SERVICE.test(path)) {
    const found = imageOf(request.RequestBody, ['TaskTemplate', 'ContainerSpec']);
    return 'image' in found ? { kind: 'service', image: found.image, path } : { kind: 'refuse', problem: found.problem, path };
  }
  if (PLUGIN.test(path)) {
    return { kind: 'refuse', path, problem: 'managed plugins run an unverified image as root, so the guard does not let them be installed or enabled' };
  }
  if (LOOKS_JUDGED.test(path)) {
    return { kind: 'refuse', path, problem: `the guard does not recognise this spelling of a ${path.split('/').pop() ?? ''} call; use the canonical API path` };
  }
  return { kind: 'other', path };
}
