// What the guard asks dockerd while it decides: which image a name or container stands for,
// and the RepoDigests dockerd recorded for it. These calls pass through the authorization
// plugin too (the guard lets GETs through), so they must never wait on the decision that
// asked for them: they do not, since a GET is answered without any lookup.

import { request as httpRequest } from 'node:http';
import type { EngineTarget } from '../commands/push-engine.js';

export class EngineQueryError extends Error {
  override readonly name = 'EngineQueryError';
}

const QUERY_TIMEOUT_MS = 10_000;

/** GET a JSON document from dockerd; undefined on 404. */
async function getJson(target: EngineTarget, path: string): Promise<Record<string, unknown> | undefined> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        ...(target.kind === 'unix' ? { socketPath: target.path } : { host: target.host, port: target.port }),
        method: 'GET',
        path,
        timeout: QUERY_TIMEOUT_MS,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (b: Buffer) => parts.push(b));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          if (res.statusCode === 404) return resolve(undefined);
          if (res.statusCode !== 200) return reject(new EngineQueryError(`dockerd answered GET ${path} with HTTP ${res.statusCode}: ${text.trim()}`));
          try {
            resolve(JSON.parse(text) as Record<string, unknown>);
          } catch {
            reject(new EngineQueryError(`dockerd's answer to GET ${path} is not JSON`));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new EngineQueryError(`dockerd did not answer GET ${path} within ${QUERY_TIMEOUT_MS / 1000} s`)));
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(err instanceof EngineQueryError ? err : new EngineQueryError(`cannot reach dockerd for GET ${path}: ${err.code ?? err.message}`)),
    );
    req.end();
  });
}

export interface LocalImage {
  id: string;
  repoDigests: string[];
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

/** The image dockerd would use for `name` (a reference or an id); undefined when it has none. */
export async function inspectLocalImage(target: EngineTarget, name: string): Promise<LocalImage | undefined> {
  const doc = await getJson(target, `/images/${encodeURIComponent(name)}/json`);
  if (doc === undefined) return undefined;
  if (typeof doc.Id !== 'string') throw new EngineQueryError(`dockerd's record of image ${name} has no Id`);
  return { id: doc.Id, repoDigests: strings(doc.RepoDigests) };
}

export interface LocalContainer {
  /** The image id the container was created from. */
  imageId: string;
  /** The image as the create request named it. */
  imageName: string;
}

export async function inspectContainer(target: EngineTarget, idOrName: string): Promise<LocalContainer | undefined> {
  const doc = await getJson(target, `/containers/${encodeURIComponent(idOrName)}/json`);
  if (doc === undefined) return undefined;
  if (typeof doc.Image !== 'string') throw new EngineQueryError(`dockerd's record of container ${idOrName} has no Image`);
  const config = doc.Config as { Image?: unknown } | undefined;
  return { imageId: doc.Image, imageName: typeof config?.Image === 'string' ? config.Image : doc.Image };
}
