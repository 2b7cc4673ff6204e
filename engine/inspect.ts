// What tracebuild asks dockerd about its local images and containers: which image a name or
// an id stands for, and the registry digests dockerd recorded for it (RepoDigests). The
// guard asks while it decides: these GETs pass through the authorization plugin too (the
// guard lets GETs through without a lookup), so they never wait on the decision that asked.

import { describeTarget } from '../common/index.js';
import { EngineError } from './errors.js';
import { engineRequest, readAll, type EngineTarget } from './target.js';

const QUERY_TIMEOUT_MS = 10_000;

/** GET a JSON document from dockerd; undefined on 404. */
function getJson(target: EngineTarget, path: string, subject: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const req = engineRequest(target, { method: 'GET', path, timeout: QUERY_TIMEOUT_MS, ...(signal === undefined ? {} : { signal }) }, (res) => {
      readAll(res).then((text) => {
        if (res.statusCode === 404) return resolve(undefined);
        if (res.statusCode !== 200) {
          return reject(new EngineError('bad-answer', subject, `dockerd answered GET ${path} with HTTP ${res.statusCode}: ${text.trim()}`));
        }
        try {
          resolve(JSON.parse(text) as Record<string, unknown>);
        } catch (cause) {
          reject(new EngineError('bad-answer', subject, `dockerd's answer to GET ${path} is not JSON`, { cause }));
        }
      }, reject);
    });
    req.on('timeout', () =>
      req.destroy(new EngineError('daemon-unreachable', subject, `dockerd at ${describeTarget(target)} did not answer GET ${path} within ${QUERY_TIMEOUT_MS / 1000} s`)),
    );
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err instanceof EngineError
          ? err
          : new EngineError('daemon-unreachable', subject, `cannot reach dockerd at ${describeTarget(target)} for GET ${path}: ${err.code ?? err.message}`, { cause: err }),
      ),
    );
    req.end();
  });
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

export interface LocalImage {
  /** The image id: `sha256:` of its config. */
  id: string;
  /** `name@sha256:...` manifest digests the daemon knows for it (from pulls and pushes). */
  repoDigests: string[];
}

/** `GET /images/{name}/json`: the image dockerd would use for `name` (a reference or an id); undefined when it has none. */
export async function inspectImage(target: EngineTarget, name: string, signal?: AbortSignal): Promise<LocalImage | undefined> {
  const doc = await getJson(target, `/images/${encodeURIComponent(name)}/json`, name, signal);
  if (doc === undefined) return undefined;
  if (typeof doc.Id !== 'string') throw new EngineError('bad-answer', name, `dockerd's record of image ${name} has no Id`);
  return { id: doc.Id, repoDigests: strings(doc.RepoDigests) };
}

export interface LocalContainer {
  /** The image id the container was created from. */
  imageId: string;
  /** The image as the create request named it. */
  imageName: string;
}

/** `GET /containers/{id}/json`; undefined when dockerd has no such container. */
export async function inspectContainer(target: EngineTarget, idOrName: string): Promise<LocalContainer | undefined> {
  const doc = await getJson(target, `/containers/${encodeURIComponent(idOrName)}/json`, idOrName);
  if (doc === undefined) return undefined;
  if (typeof doc.Image !== 'string') throw new EngineError('bad-answer', idOrName, `dockerd's record of container ${idOrName} has no Image`);
  const config = doc.Config as { Image?: unknown } | undefined;
  return { imageId: doc.Image, imageName: typeof config?.Image === 'string' ? config.Image : doc.Image };
}
