// What tracebuild asks dockerd about its local images and containers: which image a name or
// an id stands for, and the registry digests dockerd recorded for it (RepoDigests). The
// guard asks while it decides: these GETs pass through the authorization plugin too (the
// guard lets GETs through without a lookup), so they never wait on the decision that asked.

import type Modem from 'docker-modem';
import { describeTarget } from '../common/index.js';
import { dockerdMessage, engineClient, type ModemError } from './client.js';
import { EngineError } from './errors.js';
import type { EngineTarget } from './target.js';

const QUERY_TIMEOUT_MS = 10_000;

/**
 * GET a JSON document from dockerd; undefined on 404. Through docker-modem's dial rather
 * than dockerode's `getImage(...).inspect()`: the latter does not pass an abort signal on,
 * and the guard must not wait on a dockerd that stopped answering. `path` has its names
 * escaped by the caller (they may come from an untrusted request, in the guard).
 */
async function getJson(target: EngineTarget, path: string, subject: string, signal?: AbortSignal): Promise<Record<string, unknown> | undefined> {
  const deadline = AbortSignal.timeout(QUERY_TIMEOUT_MS);
  const abortSignal = signal === undefined ? deadline : AbortSignal.any([signal, deadline]);
  const where = describeTarget(target);
  const docker = await engineClient(target);
  let answer: unknown;
  try {
    answer = await new Promise<unknown>((resolve, reject) => {
      (docker.modem as Modem).dial(
        { path, method: 'GET', abortSignal, statusCodes: { 200: true, 404: 'not found' } },
        (err: ModemError | null, data: unknown) => (err ? reject(err) : resolve(data)),
      );
    });
  } catch (caught) {
    const err = caught as ModemError;
    if (deadline.aborted && signal?.aborted !== true) {
      throw new EngineError('daemon-unreachable', subject, `dockerd at ${where} did not answer GET ${path} within ${QUERY_TIMEOUT_MS / 1000} s`, { cause: err });
    }
    if (err.statusCode === 404) return undefined;
    if (err.statusCode !== undefined) {
      throw new EngineError('bad-answer', subject, `dockerd answered GET ${path} with HTTP ${err.statusCode}: ${dockerdMessage(err)}`, { cause: err });
    }
    const why = err.code ?? err.message;
    throw new EngineError('daemon-unreachable', subject, `cannot reach dockerd at ${where} for GET ${path}: ${why}`, { cause: err });
  }
  // modem hands back parsed JSON, or the raw bytes when the body is not JSON
  if (typeof answer === 'object' && answer !== null && !Buffer.isBuffer(answer) && !Array.isArray(answer)) {
    return answer as Record<string, unknown>;
  }
  throw new EngineError('bad-answer', subject, `dockerd's answer to GET ${path} is not JSON`);
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
