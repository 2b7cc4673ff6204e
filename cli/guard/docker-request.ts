// Which Engine API calls the guard judges. Everything else passes untouched: builds (and
// BuildKit's /grpc and /session upgrades), pushes, pulls, inspects, logs...
//
//   POST /containers/create          the image named in the JSON body
//   POST /containers/{id}/start      the image the container was created from (also
//   POST /containers/{id}/restart    catches containers created before the guard was on,
//                                    or through a create whose body dockerd did not show us)
//
// dockerd routes on the decoded, cleaned path, with or without a `/vX.Y` prefix; the guard
// matches the same way, so `/v1.41//containers/./create/` or `%2F` escapes cannot slip a
// create past it.

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
  | { kind: 'unreadable-create'; problem: string; path: string }
  | { kind: 'start-container'; container: string; path: string }
  | { kind: 'other'; path: string };

/** The path dockerd's router sees: no query, percent-decoded, cleaned, no API version prefix. */
export function routedPath(uri: string): string {
  let path = uri.split('?')[0] ?? '';
  try {
    path = decodeURIComponent(path);
  } catch {
    // A malformed escape: dockerd's router would not match it to anything either.
  }
  path = posix.normalize(`/${path}`);
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  return path.replace(/^\/v\d+(\.\d+)*(?=\/|$)/, '') || '/';
}

const START = /^\/containers\/([^/]+)\/(start|restart)$/;

export function classifyRequest(request: AuthzRequest): DockerAction {
  const method = (request.RequestMethod ?? '').toUpperCase();
  const path = routedPath(request.RequestUri ?? '');
  if (method !== 'POST') return { kind: 'other', path };
  if (path === '/containers/create') {
    const body = request.RequestBody;
    if (typeof body !== 'string' || body === '') {
      return {
        kind: 'unreadable-create',
        path,
        problem: 'dockerd did not show the guard the request body (not application/json, chunked, or over 1 MiB), so the image is unknown',
      };
    }
    let image: unknown;
    try {
      image = (JSON.parse(Buffer.from(body, 'base64').toString('utf8')) as { Image?: unknown } | null)?.Image;
    } catch {
      return { kind: 'unreadable-create', path, problem: 'the request body is not JSON' };
    }
    if (typeof image !== 'string' || image.trim() === '') {
      return { kind: 'unreadable-create', path, problem: 'the request names no image' };
    }
    return { kind: 'create-container', image: image.trim(), path };
  }
  const start = START.exec(path);
  if (start?.[1] !== undefined) return { kind: 'start-container', container: start[1], path };
  return { kind: 'other', path };
}
