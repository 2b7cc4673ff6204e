// connectBuildKit and the BuildKitClient: one gRPC channel to BuildKit (through the
// transport), Control calls, and the gateway solve that ties together the session, the
// Status stream, the caller's frontend and the export.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import type { Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import type { BuildKitClient, DaemonInfo, Endpoint, GatewaySolveRequest, SolveResult, StatusBatch, WorkerInfo } from './types.js';
import { SshDialError, describeTarget, describeTlsError, oneLine } from '../../common/index.js';
import { BuildKitConnectionError, SolveError } from './errors.js';
import { endpointTarget, type DialTarget } from './endpoint.js';
import { dial, upgradeH2c, UpgradeRefusedError } from './dial.js';
import { openTransport, type Transport } from './transport.js';
import { grpcStatus, method, Rpc, type Msg } from './rpc.js';
import { toStatusBatch } from './status.js';
import { Gateway, cacheOptions, gatewayError } from './gateway.js';
import { newId, openControlSession, openDockerSession, type Session } from './session.js';
import { sessionExtras } from './session-extras.js';
import { describeDaemon, dockerdVersion } from './daemon.js';

const CONTROL = 'moby.buildkit.v1.Control';

export function describeSocketError(err: unknown): string {
  const tls = describeTlsError(err);
  if (tls !== undefined) return `TLS: ${tls}`;
  // ssh's own words: host unreachable, key refused, no docker on the host
  if (err instanceof SshDialError) return err.message;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string') return `${e.syscall ?? 'connect'} ${e.code}`;
  return err instanceof Error ? err.message : String(err);
}

/** The HTTP/2 client preface and an empty SETTINGS frame. */
const H2_PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);

/** Sends the HTTP/2 preface and waits for the server's first frame: over TLS 1.3 a refused
 * client certificate only shows once the server has read it. */
function h2Hello(socket: Socket, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      clearTimeout(timer);
      socket.removeAllListeners('data');
      socket.removeListener('error', done);
      socket.removeListener('end', onEnd);
      if (err) reject(err);
      else resolve();
    };
    const onEnd = (): void => done(new Error('the server closed the connection'));
    const timer = setTimeout(() => done(new Error(`no HTTP/2 answer within ${timeoutMs} ms`)), timeoutMs);
    socket.once('data', () => done());
    socket.once('error', done);
    socket.once('end', onEnd);
    socket.write(H2_PREFACE);
  });
}

/**
 * Checks the address before gRPC gets involved, so that failures read as what they are:
 * nothing there (ENOENT, ECONNREFUSED), a TLS handshake that failed (an untrusted server,
 * a refused client certificate), or something that is not BuildKit (HTTP 404).
 */
async function preflight(endpoint: Endpoint, target: DialTarget): Promise<void> {
  let socket;
  const secure = target.kind === 'tcp' && target.tls !== undefined;
  try {
    socket = await dial(target, endpoint.kind === 'buildkitd' && secure ? { alpn: ['h2'] } : {});
  } catch (err) {
    throw new BuildKitConnectionError('unreachable', endpoint.address, describeSocketError(err), { cause: err });
  }
  try {
    if (endpoint.kind === 'docker') await upgradeH2c(socket, '/grpc');
    else if (secure) await h2Hello(socket);
  } catch (err) {
    if (err instanceof UpgradeRefusedError) {
      throw new BuildKitConnectionError('not-buildkit', endpoint.address, `no BuildKit answered (${err.message})`, { cause: err });
    }
    throw new BuildKitConnectionError('unreachable', endpoint.address, describeSocketError(err), { cause: err });
  } finally {
    socket.destroy();
  }
}

export interface ConnectOptions {
  /**
   * How sessions are attached. Default: `POST /session` on dockerd, Control.Session on
   * buildkitd. dockerd's `/grpc` also serves Control.Session, which lets the buildkitd
   * path be tested against dockerd.
   */
  sessionTransport?: 'docker-upgrade' | 'control-stream';
}

export async function connectBuildKit(endpoint: Endpoint, options: ConnectOptions = {}): Promise<BuildKitClient> {
  const target = endpointTarget(endpoint);
  await preflight(endpoint, target);
  const transport = await openTransport(endpoint, target);
  const client = new grpc.Client(transport.grpcTarget, transport.credentials, {
    ...transport.channelOptions,
    'grpc.max_receive_message_length': 64 << 20,
    'grpc.max_send_message_length': 64 << 20,
    // One connection for everything; no background reconnect loops after close().
    'grpc.enable_retries': 0,
  });
  const sessionTransport = options.sessionTransport ?? (endpoint.kind === 'docker' ? 'docker-upgrade' : 'control-stream');
  if (sessionTransport === 'docker-upgrade' && endpoint.kind !== 'docker') {
    transport.close();
    client.close();
    throw new BuildKitConnectionError('unsupported-address', endpoint.address, 'POST /session needs a dockerd endpoint');
  }
  const impl = new Client(endpoint, transport, client, sessionTransport);
  // Either answer proves a BuildKit is there: Control.Info with a BuildKit version, or
  // Control.ListWorkers. dockerd takes ~0.15 s over ListWorkers, which only the converter
  // needs (its platforms), so the build goes on at the first proof and ListWorkers' answer
  // stays in flight for the converter (#17.7). Where Info has no version (BuildKit v0.8
  // answers UNIMPLEMENTED) ListWorkers is the proof, as it always was.
  const info = impl.askInfo();
  const workers = impl.listWorkers();
  const engine = endpoint.kind === 'docker' ? dockerdVersion(target) : Promise.resolve({});
  const infoProof = info.then((answer): Promise<unknown> | InfoAnswer => (answer.buildkitVersion === undefined ? workers : answer));
  try {
    await Promise.any([infoProof, workers]);
  } catch {
    const err = await workers.then(
      () => undefined,
      (e: unknown) => e,
    );
    impl.close();
    if (err instanceof BuildKitConnectionError) throw err;
    const st = grpcStatus(err);
    const cause = transport.lastError();
    const reason =
      cause instanceof UpgradeRefusedError
        ? `no BuildKit answered (${cause.message})`
        : cause
          ? describeSocketError(cause)
          : `gRPC ListWorkers failed: ${st ? st.details : String(err)}`;
    throw new BuildKitConnectionError(cause instanceof UpgradeRefusedError ? 'not-buildkit' : 'grpc-failed', endpoint.address, reason, {
      cause: err,
    });
  }
  impl.daemon = await learnDaemon(endpoint, engine, info);
  return impl;
}

/** The daemon's versions: dockerd's (`engine`, from its Engine API) and BuildKit's Control.Info
 * (`info`), each when the daemon has it (BuildKit v0.8 answers Info with UNIMPLEMENTED). */
async function learnDaemon(endpoint: Endpoint, engine: Promise<{ version?: string; apiVersion?: string }>, info: Promise<InfoAnswer>): Promise<DaemonInfo> {
  const [versions, buildkitVersion] = await Promise.all([
    engine,
    info.then(
      (a) => a.buildkitVersion,
      () => undefined,
    ),
  ]);
  const answer: Omit<DaemonInfo, 'description'> = {
    engine: endpoint.kind === 'docker' ? 'dockerd' : 'buildkitd',
    ...versions,
    ...(buildkitVersion === undefined ? {} : { buildkitVersion }),
  };
  return { ...answer, description: describeDaemon({ ...answer, description: '' }) };
}

/** What Control.Info told: the BuildKit version, none where the daemon has no Info. */
interface InfoAnswer {
  buildkitVersion?: string;
}

const GRPC_UNIMPLEMENTED = 12;

class Client implements BuildKitClient {
  private readonly rpc: Rpc;
  private closed = false;
  private workers: Promise<WorkerInfo[]> | undefined;
  daemon: DaemonInfo;

  constructor(
    readonly endpoint: Endpoint,
    private readonly transport: Transport,
    client: grpc.Client,
    private readonly sessionTransport: 'docker-upgrade' | 'control-stream',
  ) {
    this.rpc = new Rpc(client);
    this.daemon = { engine: endpoint.kind === 'docker' ? 'dockerd' : 'buildkitd', description: endpoint.kind === 'docker' ? "dockerd's BuildKit" : 'the buildkitd daemon' };
  }

  /** Control.Info. Rejects only when no BuildKit answered: UNIMPLEMENTED (BuildKit v0.8
   * has no Info) is an answer without a version. */
  async askInfo(): Promise<InfoAnswer> {
    try {
      const res = await this.rpc.unary(method(CONTROL, 'Info'), {}, { deadlineMs: 5_000 });
      const v = (res.buildkitVersion as Msg | undefined)?.version;
      return typeof v === 'string' && v !== '' ? { buildkitVersion: v } : {};
    } catch (err) {
      if (grpcStatus(err)?.code === GRPC_UNIMPLEMENTED) return {};
      throw err;
    }
  }

  /** Control.ListWorkers, asked once per connection: connecting asks it (the first call
   * proves a BuildKit answers) and the converter wants the same answer (its platforms), an
   * extra round trip of ~0.1 s on dockerd otherwise. A failed answer is not kept. */
  listWorkers(): Promise<WorkerInfo[]> {
    if (this.workers === undefined) {
      const asked = this.askWorkers();
      asked.catch(() => {
        if (this.workers === asked) this.workers = undefined;
      });
      this.workers = asked;
    }
    return this.workers;
  }

  private async askWorkers(): Promise<WorkerInfo[]> {
    const res = await this.rpc.unary(method(CONTROL, 'ListWorkers'), {}, { deadlineMs: 15_000 });
    const records = Array.isArray(res.record) ? (res.record as Msg[]) : [];
    return records.map((r) => ({
      id: typeof r.ID === 'string' ? r.ID : '',
      platforms: (Array.isArray(r.platforms) ? (r.platforms as Msg[]) : []).map((p) => ({
        os: typeof p.OS === 'string' ? p.OS : '',
        architecture: typeof p.Architecture === 'string' ? p.Architecture : '',
        ...(typeof p.Variant === 'string' && p.Variant !== '' ? { variant: p.Variant } : {}),
      })),
    }));
  }

  solve(request: GatewaySolveRequest): Promise<SolveResult> {
    if (this.closed) return Promise.reject(new SolveError('connection-lost', 'BuildKit client is closed'));
    return runSolve(this.rpc, this.sessionTransport, this.transport, request, this.daemon);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.rpc.client.close();
    this.transport.close();
  }
}

/**
 * The session's shared key when nobody needs every file served: the same for every build
 * of this directory by this user on this machine, so the daemon reuses its copy of the
 * context and asks only for what changed (a 300-file context: 16 kB sent instead of all
 * of it, ~0.3 s less per build). The path and the machine stay private: only a digest
 * reaches the daemon.
 */
export function contextSharedKey(contextDir: string): string {
  const who = [hostname(), String(process.getuid?.() ?? ''), path.resolve(contextDir)].join('\0');
  return createHash('sha256').update(`tracebuild context\0${who}`).digest('hex');
}

/** Settles with `p`, or rejects with a 'cancelled' SolveError as soon as `signal` fires. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new SolveError('cancelled', 'build cancelled'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new SolveError('cancelled', 'build cancelled'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Maps a failed Control call to a SolveError carrying the daemon's message. */
function solveError(err: unknown, transport: Transport, cancelled: boolean): SolveError {
  if (err instanceof SolveError) return err;
  if (cancelled) return new SolveError('cancelled', 'build cancelled', { cause: err });
  const st = grpcStatus(err);
  if (st?.code === grpc.status.UNAVAILABLE) {
    const cause = transport.lastError();
    return new SolveError('connection-lost', `lost the connection to BuildKit at ${describeTarget(transport.dialTarget)}: ${cause ? cause.message : st.details}`, { cause: err });
  }
  if (st?.code === grpc.status.CANCELLED) return new SolveError('cancelled', st.details || 'build cancelled', { cause: err });
  return new SolveError('solve-failed', st ? st.details : String(err), { cause: err });
}

async function runSolve(
  rpc: Rpc,
  sessionTransport: 'docker-upgrade' | 'control-stream',
  transport: Transport,
  req: GatewaySolveRequest,
  daemon: DaemonInfo,
): Promise<SolveResult> {
  // One controller cancels everything: the caller's signal, or our own failure paths.
  const ctl = new AbortController();
  const onCallerAbort = (): void => ctl.abort();
  if (req.signal?.aborted) throw new SolveError('cancelled', 'build cancelled');
  req.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const cancelledByCaller = (): boolean => req.signal?.aborted === true;

  const ref = req.ref ?? newId();
  let session: Session | undefined;
  let statusCall: grpc.ClientReadableStream<Msg> | undefined;
  let statusDone: Promise<void> = Promise.resolve();
  let callbackError: unknown;

  try {
    const sessionOpts = {
      contextDir: req.contextDir,
      dockerignore: req.dockerignore,
      secrets: req.secrets,
      ...sessionExtras(req),
      registryAuth: req.registryAuth,
      onFileServed: req.onFileServed,
      ...(req.exportTargets === undefined ? {} : { exportTargets: req.exportTargets }),
      signal: ctl.signal,
      name: 'tracebuild',
      ...(req.onFileServed ? {} : { sharedKey: contextSharedKey(req.contextDir) }),
    };
    try {
      session =
        sessionTransport === 'docker-upgrade'
          ? await openDockerSession(transport.dialTarget, sessionOpts) : openControlSession(rpc, sessionOpts);
    } catch (err) {
      throw new SolveError('session-failed', `cannot open a session with BuildKit: ${oneLine(err instanceof Error ? err.message : String(err))}`, {
        cause: err,
      });
    }

    // The solve stays pending until the gateway Returns and the export is done.
    const solveRequest: Msg = {
      Ref: ref,
      Session: session.id,
      Frontend: '',
      Entitlements: req.entitlements,
    };
    if (req.cache !== undefined) solveRequest.Cache = cacheOptions(req.cache);
    if (req.exporters !== undefined && req.exporters.length > 0) {
      solveRequest.Exporters = req.exporters.map((e) => ({ Type: e.type, Attrs: e.attrs }));
    } else if (req.exporter) {
      solveRequest.Exporter = req.exporter.type;
      solveRequest.ExporterAttrs = req.exporter.attrs;
    }
    const solving = rpc.unary(method(CONTROL, 'Solve'), solveRequest, {
      signal: ctl.signal,
      ...(req.solveMetadata === undefined ? {} : { metadata: req.solveMetadata }),
    });
    // Settled-state bookkeeping so that a failure elsewhere can wait for the daemon's word.
    let solveSettled = false;
    const solveOutcome = solving.then(
      (res) => ((solveSettled = true), { ok: true as const, res }),
      (err: unknown) => ((solveSettled = true), { ok: false as const, err }),
    );

    // Status right after Solve: the daemon only knows the ref once Solve arrived.
    statusDone = new Promise<void>((resolve) => {
      const start = (attempt: number): void => {
        const call = rpc.serverStream(method(CONTROL, 'Status'), { Ref: ref });
        statusCall = call;
        let gotData = false;
        call.on('data', (res: Msg) => {
          gotData = true;
          const batch: StatusBatch = toStatusBatch(res);
          try {
            req.onStatus(batch);
          } catch (err) {
            callbackError ??= err;
          }
        });
        call.on('error', (err) => {
          const st = grpcStatus(err);
          if (!gotData && !solveSettled && !ctl.signal.aborted && attempt < 20 && st && /no such job/i.test(st.details)) {
            setTimeout(() => start(attempt + 1), 250);
            return;
          }
          resolve();
        });
        call.on('end', () => resolve());
      };
      start(0);
    });

    const gateway = new Gateway(rpc, ref, ctl.signal, session.id, daemon);
    // A failed Solve (e.g. bad exporter) must not leave us waiting for the gateway.
    const early = solveOutcome.then((o) => {
      if (!o.ok) ctl.abort();
    });
    void early;

    let frontendError: unknown;
    let bridgeError: unknown;
    // Whether the daemon got a Return (result or error); without one the job would wait.
    let returned = false;
    try {
      await gateway.ping();
      let built: Awaited<ReturnType<GatewaySolveRequest['frontend']>> | undefined;
      try {
        // Do not wait for a frontend that ignores cancellation.
        built = await untilAborted(req.frontend(gateway), ctl.signal);
      } catch (err) {
        frontendError = err;
        const message = err instanceof Error ? err.message : String(err);
        returned = await gateway.returnError(grpc.status.UNKNOWN, message).then(
          () => true,
          () => false,
        );
      }
      if (built) {
        let resultRef: Msg | undefined;
        try {
          resultRef = await gateway.solve(built.definition, req.cache?.imports);
        } catch (err) {
          // The build failed inside the daemon: hand the failure back so the job ends.
          bridgeError = err;
          const st = grpcStatus(err);
          returned = await gateway.returnError(st?.code ?? grpc.status.UNKNOWN, st ? st.details : String(err)).then(
            () => true,
            () => false,
          );
        }
        if (resultRef) {
          await gateway.returnResult(resultRef, built.imageConfig);
          returned = true;
        }
      }
    } catch (err) {
      bridgeError ??= err;
    }

    // No Return reached the daemon (the gateway broke): cancel the job instead of waiting.
    const abandoned = !returned && !solveSettled;
    if (abandoned) ctl.abort();

    const outcome = await solveOutcome;
    // The Status stream ends when the job does. Let the last vertex updates arrive before
    // reporting anything, failures included: they say which step failed and why.
    if (!cancelledByCaller()) await Promise.race([statusDone, new Promise((r) => setTimeout(r, 5_000).unref())]);
    if (cancelledByCaller()) throw new SolveError('cancelled', 'build cancelled', { cause: frontendError ?? bridgeError });
    // The frontend's own error, unchanged — unless it only failed because we cancelled
    // the gateway after the daemon had already failed the job (then the daemon's word wins).
    const ourCancel = frontendError instanceof SolveError && frontendError.code === 'cancelled';
    if (frontendError !== undefined && !(ourCancel && !outcome.ok)) throw frontendError;
    if (abandoned && bridgeError !== undefined) throw gatewayError('gateway', bridgeError);
    // Prefer the daemon's Control.Solve message; a gateway failure is the same story.
    if (!outcome.ok) throw solveError(outcome.err, transport, false);
    if (bridgeError !== undefined) throw gatewayError('gateway', bridgeError);

    if (callbackError !== undefined) throw callbackError;
    const response = (outcome.res.ExporterResponse ?? {}) as Record<string, string>;
    return { exporterResponse: { ...response } };
  } finally {
    req.signal?.removeEventListener('abort', onCallerAbort);
    if (!ctl.signal.aborted) ctl.abort();
    statusCall?.cancel();
    session?.close();
  }
}
