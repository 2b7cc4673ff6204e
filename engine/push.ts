// `docker push` without the docker CLI: dockerd's Engine API, `POST /images/{name}/push`,
// on the DOCKER_HOST socket. The daemon pushes from its own image store (where the moby
// exporter put the build) and answers with a JSON message stream: progress lines, then
// either an error message or an `aux` message carrying the manifest digest.
//
// Registry credentials travel in the `X-Registry-Auth` header, base64url-encoded JSON of
// docker's AuthConfig ({} when there are none). dockerd treats registries on 127.0.0.0/8
// as insecure by default, so `127.0.0.1:PORT/...` pushes over plain http.

import { describeTarget } from '../common/index.js';
import type { Credential } from '../oci/index.js';
import { EngineError } from './errors.js';
import { dockerdMessage, engineClient, isUnreachable, type ModemError } from './client.js';
import type { EngineTarget } from './target.js';

/** docker's AuthConfig JSON for a registry, base64url-encoded (docker uses URL-safe base64 with padding). */
export function registryAuthHeader(credential: Credential | undefined, serverAddress: string): string {
  const config: Record<string, string> = {};
  if (credential !== undefined) {
    if (credential.username !== undefined) config.username = credential.username;
    if (credential.password !== undefined) config.password = credential.password;
    if (credential.identityToken !== undefined) config.identitytoken = credential.identityToken;
    if (credential.registryToken !== undefined) config.registrytoken = credential.registryToken;
    if (Object.keys(config).length > 0) config.serveraddress = serverAddress;
  }
  return Buffer.from(JSON.stringify(config), 'utf8').toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
}

/** One message of the push stream (docker's jsonmessage.JSONMessage, the fields we read). */
export interface PushMessage {
  status?: string;
  id?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string; code?: number };
  aux?: { Tag?: string; Digest?: string; Size?: number };
}

export interface EnginePushOptions {
  target: EngineTarget;
  /** Repository as dockerd names it: `127.0.0.1:5000/app`, `docker.io/library/alpine`. */
  repository: string;
  tag: string;
  /** The X-Registry-Auth header value. */
  registryAuth: string;
  /** The reference as the user named it, for messages. */
  display: string;
  /** Each message of the stream, in order (progress display). */
  onMessage?: (message: PushMessage) => void;
  signal?: AbortSignal;
}

export interface EnginePushResult {
  /** Manifest digest in the registry, `sha256:...`. */
  digest: string;
  size?: number;
}

/** Splits a stream of JSON messages (newline or CRLF separated, possibly split across chunks). */
export class JsonMessageSplitter {
  private buffer = '';
  push(chunk: string): PushMessage[] {
    this.buffer += chunk;
    const out: PushMessage[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) !== -1) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line !== '') out.push(parseMessage(line));
    }
    return out;
  }
  end(): PushMessage[] {
    const line = this.buffer.trim();
    this.buffer = '';
    return line === '' ? [] : [parseMessage(line)];
  }
}

function parseMessage(line: string): PushMessage {
  try {
    const value: unknown = JSON.parse(line);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as PushMessage;
  } catch {
    // fall through: not JSON
  }
  return { error: `unexpected line in the push stream: ${line.slice(0, 200)}` };
}

/** The error text of a stream message, if it is an error. */
export function messageError(m: PushMessage): string | undefined {
  if (m.errorDetail?.message) return m.errorDetail.message;
  if (typeof m.error === 'string' && m.error !== '') return m.error;
  return undefined;
}

/** Reads the push stream: each message to onMessage, the first error or the digest at the end. */
function readPushStream(stream: NodeJS.ReadableStream, options: EnginePushOptions): Promise<EnginePushResult> {
  const { display } = options;
  return new Promise<EnginePushResult>((resolve, reject) => {
    let settled = false;
    const fail = (err: EngineError): void => {
      if (settled) return;
      settled = true;
      reject(err);
    };
    const splitter = new JsonMessageSplitter();
    let result: EnginePushResult | undefined;
    const handle = (messages: PushMessage[]): void => {
      for (const m of messages) {
        if (settled) return;
        const error = messageError(m);
        if (error !== undefined) {
          fail(new EngineError('push-failed', display, `pushing ${display} failed: ${error}`));
          (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
          return;
        }
        if (typeof m.aux?.Digest === 'string' && /^sha256:[0-9a-f]{64}$/.test(m.aux.Digest)) {
          result = { digest: m.aux.Digest, ...(typeof m.aux.Size === 'number' ? { size: m.aux.Size } : {}) };
        }
        options.onMessage?.(m);
      }
    };
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => handle(splitter.push(chunk)));
    stream.on('end', () => {
      handle(splitter.end());
      if (settled) return;
      if (result === undefined) {
        fail(new EngineError('no-digest', display, `pushing ${display}: dockerd ended the push without reporting the manifest digest`));
        return;
      }
      settled = true;
      resolve(result);
    });
    stream.on('error', (cause: Error) =>
      fail(
        cause.name === 'AbortError'
          ? new EngineError('push-failed', display, `pushing ${display} canceled`, { cause })
          : new EngineError('push-failed', display, `pushing ${display} failed: ${cause.message}`, { cause }),
      ),
    );
  });
}

/**
 * `POST /images/{repository}/push?tag=TAG` through dockerode; resolves to the pushed
 * manifest's digest. The stream is read here rather than with docker-modem's
 * followProgress, which throws from its data handler on a line that is not JSON and
 * reports an error message in the stream as success.
 */
export async function enginePush(options: EnginePushOptions): Promise<EnginePushResult> {
  const { target, display } = options;
  const docker = await engineClient(target);
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker
      .getImage(options.repository)
      .push({
        tag: options.tag,
        authconfig: { key: options.registryAuth },
        ...(options.signal === undefined ? {} : { abortSignal: options.signal }),
      })) as NodeJS.ReadableStream;
  } catch (caught) {
    const cause = caught as ModemError;
    if (cause.name === 'AbortError') throw new EngineError('push-failed', display, `pushing ${display} canceled`, { cause });
    if (cause.statusCode !== undefined) {
      throw new EngineError('push-failed', display, `pushing ${display} failed: dockerd answered HTTP ${cause.statusCode}: ${dockerdMessage(cause) || '(no message)'}`, { cause });
    }
    if (isUnreachable(cause)) {
      throw new EngineError('daemon-unreachable', display, `cannot push ${display}: dockerd does not answer at ${describeTarget(target)} (${cause.code}); is it running?`, { cause });
    }
    throw new EngineError('push-failed', display, `pushing ${display} failed: ${cause.message}`, { cause });
  }
  return readPushStream(stream, options);
}
