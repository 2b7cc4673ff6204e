// The same decision for Kubernetes: a validating admission webhook for Pods, served over
// HTTPS (the API server only calls webhooks over TLS). It receives an AdmissionReview
// (admission.k8s.io/v1) and answers with one whose `response` carries the request's uid,
// `allowed`, and for a refusal a 403 status whose message kubectl prints.
//
// Every image of the Pod is judged (containers, initContainers, ephemeralContainers). A
// Pod names images by reference, not by what a node holds, so a tag is resolved to its
// digest in the registry; the answer then warns that the kubelet pulls the tag again and
// could get another manifest: pin images by digest to close that gap.

import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseReferenceWithDefaultTag } from '../../oci/index.js';
import { listening } from './guard-error.js';
import { refusalMessage, type ImageGate } from './image-gate.js';

const MAX_REVIEW_BYTES = 8 * 1024 * 1024;

export class AdmissionRequestError extends Error {
  override readonly name = 'AdmissionRequestError';
}

interface ContainerRef {
  field: 'containers' | 'initContainers' | 'ephemeralContainers';
  name: string;
  image: string;
}

export interface AdmissionResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: {
    uid: string;
    allowed: boolean;
    status?: { code: number; reason: string; message: string };
    warnings?: string[];
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The containers of a Pod, or of an EphemeralContainers object (kubectl debug before 1.22). */
function containersOf(object: Record<string, unknown>, kind: string): ContainerRef[] {
  const spec = kind === 'EphemeralContainers' ? object : isObject(object.spec) ? object.spec : {};
  const out: ContainerRef[] = [];
  for (const field of ['initContainers', 'containers', 'ephemeralContainers'] as const) {
    const list = spec[field];
    if (!Array.isArray(list)) continue;
    for (const c of list) {
      if (!isObject(c)) continue;
      out.push({ field, name: typeof c.name === 'string' ? c.name : '?', image: typeof c.image === 'string' ? c.image : '' });
    }
  }
  return out;
}

/** Judges one AdmissionReview; AdmissionRequestError when the document is not one. */
export async function reviewAdmission(review: unknown, gate: ImageGate): Promise<AdmissionResponse> {
  if (!isObject(review) || review.kind !== 'AdmissionReview' || review.apiVersion !== 'admission.k8s.io/v1') {
    throw new AdmissionRequestError('expected an AdmissionReview of apiVersion admission.k8s.io/v1');
  }
  const request = review.request;
  if (!isObject(request) || typeof request.uid !== 'string') throw new AdmissionRequestError('the AdmissionReview has no request.uid');
  const answer = (allowed: boolean, extra: Omit<AdmissionResponse['response'], 'uid' | 'allowed'> = {}): AdmissionResponse => ({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    response: { uid: request.uid as string, allowed, ...extra },
  });

  const kind = isObject(request.kind) ? request.kind : {};
  const kindName = typeof kind.kind === 'string' ? kind.kind : '';
  const isPod = (kindName === 'Pod' || kindName === 'EphemeralContainers') && (kind.group === '' || kind.group === undefined);
  // Only Pods start containers; a webhook configured more widely lets the rest through.
  if (!isPod || (request.operation !== 'CREATE' && request.operation !== 'UPDATE')) return answer(true);
  if (!isObject(request.object)) throw new AdmissionRequestError(`the ${kindName} review has no request.object`);

  const containers = containersOf(request.object, kindName);
  const refusals: string[] = [];
  const warnings: string[] = [];
  const verdicts = new Map<string, ReturnType<ImageGate['checkReference']>>();
  for (const c of containers) {
    if (c.image === '') {
      refusals.push(`${c.field} "${c.name}": no image`);
      continue;
    }
    if (!verdicts.has(c.image)) verdicts.set(c.image, gate.checkReference(c.image));
  }
  for (const c of containers) {
    const pending = verdicts.get(c.image);
    if (pending === undefined) continue;
    const verdict = await pending;
    if (!verdict.allowed) {
      refusals.push(`${c.field === 'containers' ? 'container' : c.field.replace(/s$/, '')} "${c.name}": ${refusalMessage(verdict)}`);
      continue;
    }
    let byTag = true;
    try {
      byTag = parseReferenceWithDefaultTag(c.image).digest === undefined;
    } catch {
      byTag = true;
    }
    if (verdict.escaped === true) warnings.push(`container "${c.name}": image ${c.image} is unattested and was let through by --allow-unattested`);
    if (byTag && verdict.digestRef !== undefined) {
      warnings.push(`container "${c.name}": image ${c.image} is referenced by tag; verified ${verdict.digestRef}, but the kubelet may pull another manifest: pin it by digest`);
    }
  }
  // The warnings of a refused review are not shown by kubectl; keep them for allowed ones.
  if (refusals.length > 0) {
    return answer(false, { status: { code: 403, reason: 'Forbidden', message: refusals.join('; ') } });
  }
  return answer(true, warnings.length > 0 ? { warnings } : {});
}

export interface WebhookOptions {
  host: string;
  port: number;
  certFile: string;
  keyFile: string;
  gate: ImageGate;
  log: (line: string) => void;
}

export interface RunningWebhook {
  server: Server;
  port: number;
  close(): Promise<void>;
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let size = 0;
    req.on('data', (b: Buffer) => {
      size += b.length;
      if (size > MAX_REVIEW_BYTES) req.destroy(new AdmissionRequestError(`the review is over ${MAX_REVIEW_BYTES} bytes`));
      else parts.push(b);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(parts).toString('utf8')));
      } catch {
        reject(new AdmissionRequestError('the body is not JSON'));
      }
    });
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** Serves POST /validate (and POST /) with AdmissionReviews, GET /healthz. */
export async function startAdmissionWebhook(options: WebhookOptions): Promise<RunningWebhook> {
  const tls = await listening('the admission webhook', () => Promise.resolve({ cert: readFileSync(options.certFile), key: readFileSync(options.keyFile) }));
  const server = createServer(tls, (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method === 'GET' && path === '/healthz') return send(res, 200, { ok: true });
    if (req.method !== 'POST' || (path !== '/validate' && path !== '/')) return send(res, 404, { error: `${req.method ?? ''} ${path ?? ''}: not served (POST /validate)` });
    readJson(req)
      .then((review) => reviewAdmission(review, options.gate))
      .then((answer) => {
        options.log(`admission ${answer.response.uid}: ${answer.response.allowed ? 'allowed' : `refused: ${answer.response.status?.message ?? ''}`}`);
        send(res, 200, answer);
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        options.log(`admission: bad request: ${message}`);
        send(res, err instanceof AdmissionRequestError ? 400 : 500, { error: message });
      });
  });
  await listening(`the admission webhook on ${options.host}:${options.port}`, () =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => resolve());
    }),
  );
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
