// `tracebuild agent`: the builder side. One eBPF probe for the host, started with the agent
// and started again if it dies (builds it was watching get a gap); the listener (server.ts)
// in front of the daemon; the builds passing through (build.ts), whose records the router
// sorts out; the agent's own service (protocol.ts); the traces it keeps (store.ts) and signs
// (attest.ts). docs/ARCHITECTURE.md "The tracebuild agent" tells the whole story.
import { release } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type http2 from 'node:http2';
import {
  BUILDKIT_PATHS,
  BUILD_ID_METADATA,
  decodeBridgeSolveRequest,
  decodeControlSolveRequest,
  decodeControlSolveResponse,
  decodeFileSyncPacket,
  followStatus,
  openBuildKitChannel,
  type BuildKitChannel,
} from '../frontend/index.js';
import type { Trace } from '../model/index.js';
import { startProbe, type MonitorGap, type Probe, type ProbeOptions, type TraceEvent } from '../tracer/index.js';
import { inspectImage } from '../engine/index.js';
import { repositories, signBuild, type BuilderSigner } from './attest.js';
import { AgentBuild } from './build.js';
import { AgentError } from './errors.js';
import { GrpcStatus } from './grpc-frames.js';
import type { CallContext, CallTap, LocalHandler, Refusal } from './h2bridge.js';
import { describeIdentity, loadServerTls, type ClientIdentity, type ServerTlsFiles } from './identity.js';
import { CallError, LocalCall, serveUnary } from './local-call.js';
import { NO_TRACE_METADATA } from './endpoint.js';
import { AGENT_PATHS, messages } from './protocol.js';
import { withReadyOffset, FRAMED_BASE } from './records.js';
import { Router } from './router.js';
import { startAgentServer, type AgentServer, type EngineApiMode } from './server.js';
import { agentSteps } from './steps.js';
import { parseTraceQuery, TraceStore, type StoredBuild, type StoredBuildSummary } from './store.js';
import { TraceSubscriber } from './subscriber.js';
import { resolveUpstream, type Upstream, type UpstreamKind } from './upstream.js';

export interface AgentOptions {
  host: string;
  port: number;
  tls: ServerTlsFiles;
  upstream: string;
  upstreamKind: UpstreamKind | 'auto';
  engineApi: EngineApiMode;
  stateDir: string;
  /** Traces kept (the newest). */
  keep: number;
  /** Certificate CNs that may read every build's trace. */
  traceReaders: readonly string[];
  /** URI naming this builder in what it signs. */
  builderId: string;
  signer?: Omit<BuilderSigner, 'builderId' | 'env'>;
  /** The agent's environment (its docker config, for attaching referrers). */
  env: NodeJS.ProcessEnv;
  /** Cgroup path prefixes of the daemon's RUN containers. */
  cgroupPrefixes: readonly string[];
  /** Let builds through when the probe cannot trace (they get no trace). */
  allowUntraced: boolean;
  probe?: Pick<ProbeOptions, 'loaderPath' | 'stallTimeoutMs'>;
  settleMs?: number;
  version: string;
  log(line: string): void;
}

export interface RunningAgent {
  readonly host: string;
  readonly port: number;
  /** Why the agent cannot trace now (undefined: it can). */
  tracingUnavailable(): string | undefined;
  /** Resolves when the agent stopped (close()). */
  close(): Promise<void>;
}

const PROBE_RESTART_MS = [1_000, 5_000, 15_000, 60_000];
/** How long agent-trace waits for the trace of a build that has ended but is not stored yet. */
const TRACE_WAIT_MS = 60_000;

/** The builds a session serves (a session may serve several, e.g. buildx bake). */
type SessionBuilds = Map<string, Set<string>>;

export async function startAgent(o: AgentOptions): Promise<RunningAgent> {
  const tls = loadServerTls(o.tls);
  const upstream: Upstream = await resolveUpstream(o.upstream, o.upstreamKind);
  const store = new TraceStore(o.stateDir, o.keep);
  const router = new Router({ settleMs: o.settleMs ?? 1000, log: (l) => o.log(`router: ${l}`) });
  const builds = new Map<string, AgentBuild>();
  const sessions: SessionBuilds = new Map();
  const signer: BuilderSigner | undefined = o.signer === undefined ? undefined : { ...o.signer, builderId: o.builderId, env: o.env };
  let closing = false;

  // ---- the probe ----------------------------------------------------------------------
  let probe: Probe | undefined;
  let unavailable: string | undefined = 'the probe is starting';
  let ready: { buf: Buffer; base: number; len: number; ev: Extract<TraceEvent, { kind: 'ready' }> } | undefined;
  let lastAck: { ts: bigint; at: number } | undefined;
  let restarts = 0;

  const onRecord = (buf: Buffer, base: number, len: number, ev: TraceEvent | undefined): void => {
    if (ev?.kind === 'ready') {
      const copy = Buffer.from(buf.subarray(base - 4, base + len));
      ready = { buf: copy, base: FRAMED_BASE, len, ev };
      router.setClock(ev.realtimeOffsetNs);
      return;
    }
    if (ev?.kind === 'ack') lastAck = { ts: ev.header.tsNs, at: Date.now() };
    router.push(buf, base, len, ev);
  };

  const gapAll = (gap: MonitorGap): void => {
    for (const b of builds.values()) if (b.traced && !b.retired) b.sink.gap(gap);
  };

  const launch = async (): Promise<void> => {
    const p = await startProbe({
      generation: 1,
      prefixes: o.cgroupPrefixes,
      onRecord,
      onGap: gapAll,
      ...(o.probe?.loaderPath === undefined ? {} : { loaderPath: o.probe.loaderPath }),
      ...(o.probe?.stallTimeoutMs === undefined ? {} : { stallTimeoutMs: o.probe.stallTimeoutMs }),
      onLog: (line) => o.log(`probe: ${line}`),
    });
    probe = p;
    unavailable = undefined;
    o.log(`probe attached (loader pid ${p.pid ?? '?'}, tracing cgroups under ${o.cgroupPrefixes.join(', ')})`);
    void p.exited.then((exit) => {
      if (probe === p) probe = undefined;
      if (closing) return;
      const why = exit.error?.message ?? `the probe loader exited (${exit.signal ?? `exit code ${exit.code}`})`;
      // A loader that failed without a gap of its own (its output corrupt, a consumer that
      // threw) lost records too: the builds it was watching are told so.
      if (exit.gap === undefined) gapAll({ kind: 'loader-exited', fromMs: Date.now(), reason: why });
      unavailable = `the probe stopped: ${why}; it is being started again`;
      o.log(`probe stopped: ${why}`);
      router.reset();
      ready = undefined;
      scheduleRestart();
    });
  };

  const scheduleRestart = (): void => {
    const delay = PROBE_RESTART_MS[Math.min(restarts, PROBE_RESTART_MS.length - 1)] as number;
    restarts++;
    setTimeout(() => {
      if (closing) return;
      launch().then(
        () => (restarts = 0),
        (err: Error) => {
          unavailable = `the probe cannot start: ${err.message}`;
          o.log(unavailable);
          scheduleRestart();
        },
      );
    }, delay).unref();
  };

  try {
    await launch();
  } catch (err) {
    if (!o.allowUntraced) {
      throw new AgentError('tracing-unavailable', `the agent cannot trace on this host: ${(err as Error).message} (--allow-untraced-builds runs it anyway, refusing no build and tracing none)`, { cause: err });
    }
    unavailable = `the probe cannot start: ${(err as Error).message}`;
    o.log(unavailable);
    scheduleRestart();
  }
  const tick = setInterval(() => router.tick(), 250);
  tick.unref();

  /** The READY record for a new build: the clock offset measured again (CLOCK_REALTIME and
   * CLOCK_BOOTTIME drift apart over days; an ack's kernel time read as it arrives). */
  const readyFor = async (): Promise<{ buf: Buffer; base: number; len: number; ev: TraceEvent } | undefined> => {
    const p = probe;
    if (p === undefined || ready === undefined) return undefined;
    const r = ready;
    await p.ping().catch(() => undefined);
    let offset = r.ev.realtimeOffsetNs;
    if (lastAck !== undefined) {
      const measured = BigInt(lastAck.at) * 1_000_000n - lastAck.ts;
      const drift = measured - offset;
      if (drift > 5_000_000n || drift < -5_000_000n) offset = measured;
    }
    const buf = withReadyOffset(r.buf, r.base, r.len, offset);
    return { buf, base: FRAMED_BASE, len: r.len, ev: { ...r.ev, realtimeOffsetNs: offset } };
  };

  /** Every record written before now has reached the build, and its owner decided. */
  const flushFor = async (b: AgentBuild): Promise<void> => {
    const p = probe;
    if (p === undefined || !b.traced) return;
    await p.ping().catch(() => undefined);
    router.tick();
    const deadline = Date.now() + (o.settleMs ?? 1000) + 3_000;
    while (router.undecidedFor(b.ref) > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      router.tick();
    }
    router.forceFor(b.ref);
    await p.stats().catch(() => undefined);
  };

  // ---- builds -------------------------------------------------------------------------
  const newBuild = async (ref: string, owner: ClientIdentity, traced: boolean, subscriber?: TraceSubscriber): Promise<AgentBuild> => {
    const r = traced ? await readyFor() : undefined;
    const b = new AgentBuild(ref, owner, r !== undefined);
    builds.set(ref, b);
    if (r !== undefined) {
      b.subscriber = subscriber;
      b.sink.record(r.buf, r.base, r.len, r.ev);
      router.addBuild(ref, b.sink);
    }
    return b;
  };

  /** Forgets a build once its finish is done and its client's Trace stream has ended. */
  const retire = (b: AgentBuild): void => {
    if (b.retired || (b.finishing === undefined && b.solve !== undefined) || (b.subscriber !== undefined && !b.subscriber.closed)) return;
    if (b.finishing !== undefined) {
      void b.finishing.then(() => {
        if (b.subscriber === undefined || b.subscriber.closed) drop(b);
      });
      return;
    }
    drop(b);
  };
  const drop = (b: AgentBuild): void => {
    if (b.retired) return;
    b.retired = true;
    b.markFinished();
    router.removeBuild(b.ref);
    if (builds.get(b.ref) === b) builds.delete(b.ref);
    for (const [s, refs] of sessions) {
      refs.delete(b.ref);
      if (refs.size === 0) sessions.delete(s);
    }
  };

  let channel: BuildKitChannel | undefined;
  const statusChannel = async (): Promise<BuildKitChannel> => (channel ??= await openBuildKitChannel(upstream.endpoint));

  const follow = (b: AgentBuild): void => {
    void statusChannel()
      .then((ch) =>
        followStatus(ch, b.ref, (batch) => {
          b.addVertices(batch.vertexes);
          router.updateVertices(b.ref, batch.vertexes);
        }),
      )
      .catch((err: Error) => o.log(`build ${b.ref}: its Status stream failed: ${err.message}`))
      .finally(() => {
        b.statusEnded = true;
        maybeFinish(b);
      });
  };

  const maybeFinish = (b: AgentBuild): void => {
    if (b.solveEnded === undefined || b.finishing !== undefined) return;
    if (!b.statusEnded) {
      // BuildKit ends the Status stream with the job; do not wait for ever.
      setTimeout(() => {
        b.statusEnded = true;
        maybeFinish(b);
      }, 10_000).unref();
      return;
    }
    b.finishing = finish(b).catch((err: Error) => o.log(`build ${b.ref}: its trace could not be made: ${err.message}`));
    void b.finishing.then(() => {
      b.markFinished();
      retire(b);
    });
  };

  const finish = async (b: AgentBuild): Promise<void> => {
    if (!b.traced) {
      o.log(`build ${b.ref} of ${describeIdentity(b.owner)} ended untraced (${unavailable ?? 'asked for no trace'})`);
      return;
    }
    await flushFor(b);
    if (b.vertices.size === 0) {
      // a Solve that built nothing (buildx asks the daemon a few things that way)
      return;
    }
    const { steps, located } = agentSteps({ vertices: [...b.vertices.values()], ops: b.ops, dockerfile: b.dockerfile(), argvOf: (d) => router.argvOf(d) });
    const trace: Trace = b.correlation.finish({
      steps,
      vertices: [...b.vertices.values()],
      monitorGaps: b.gaps,
      monitor: { name: 'tracebuild-agent', kernel: release(), agent: { builderId: o.builderId, version: o.version }, records: b.correlation.records },
    });
    const response = b.exporterResponse ?? {};
    // The image exporter that pushes reports the manifest digest beside the config digest;
    // dockerd's moby exporter reports the image id (buildx then pushes it through the Engine
    // API: `pushed` below).
    const configDigest = response['containerimage.config.digest'];
    const reported = response['containerimage.digest'];
    const imageId = configDigest ?? reported;
    const pushed = b.pushed() && b.solveEnded?.code === GrpcStatus.OK && reported !== undefined && configDigest !== undefined && reported !== configDigest;
    const manifestDigest = pushed ? reported : undefined;
    const dockerfile = b.dockerfile();
    const summary: StoredBuildSummary = {
      ref: b.ref,
      owner: { fingerprint: b.owner.fingerprint, name: b.owner.name },
      startedOn: b.createdAt.toISOString(),
      finishedOn: new Date().toISOString(),
      frontend: b.frontend || b.solve?.frontend || '',
      located,
      ...(dockerfile === undefined ? {} : { dockerfile: dockerfile.name }),
      exporter: b.solve?.exporter ?? '',
      names: b.names(),
      pushed,
      ...(imageId === undefined ? {} : { imageId }),
      ...(manifestDigest === undefined ? {} : { manifestDigest, pushedAs: repositories(b.names()).map((r) => `${r}@${manifestDigest}`) }),
      ...(b.solveEnded?.code === GrpcStatus.OK ? {} : { error: b.solveEnded?.message || 'the build did not finish' }),
      attestations: [],
    };
    if (signer !== undefined && b.solveEnded?.code === GrpcStatus.OK) {
      try {
        summary.attestations = await signBuild(signer, summary, trace);
      } catch (err) {
        o.log(`build ${b.ref}: signing its trace failed: ${(err as Error).message}`);
      }
    }
    const stored: StoredBuild = { ...summary, trace };
    await store.save(stored);
    const attached = summary.attestations.filter((a) => a.referrer !== undefined).map((a) => a.referrer);
    const failed = summary.attestations.filter((a) => a.attachError !== undefined).map((a) => `${a.subject}: ${a.attachError}`);
    o.log(
      `build ${b.ref} of ${describeIdentity(b.owner)}: ${summary.error === undefined ? 'done' : 'failed'}, ${steps.length} steps (${located}), trace ${trace.complete ? 'complete' : 'INCOMPLETE'}` +
        `${summary.attestations.length > 0 ? `, signed (${summary.attestations.length})` : ''}${attached.length > 0 ? `, attached as ${attached.join(', ')}` : ''}${failed.length > 0 ? `; not attached: ${failed.join('; ')}` : ''}`,
    );
  };

  // ---- images pushed through the Engine API ---------------------------------------------
  /** Recent builds by the image id they produced (a push names the image, not the build). */
  const recentImages = new Map<string, string>();
  const rememberImage = (imageId: string, ref: string): void => {
    recentImages.delete(imageId);
    recentImages.set(imageId, ref);
    if (recentImages.size > 2_000) recentImages.delete(recentImages.keys().next().value as string);
  };

  /**
   * dockerd pushed an image for a client (buildx's docker driver and tracebuild push that
   * way, after the build): when a build of that client's produced it, its trace is about
   * the pushed manifest too, and with --key signed and attached to it. Another client's
   * push of the same image gets nothing: the trace is its build's owner's to publish.
   */
  const pushed = (identity: ClientIdentity, repository: string, tag: string, digest: string): Promise<void> =>
    (async () => {
      const image = await inspectImage(upstream.target, `${repository}:${tag}`).catch(() => undefined);
      if (image === undefined) return;
      const ref = recentImages.get(image.id);
      // a push right after the build: its trace is being made
      const b = ref === undefined ? undefined : builds.get(ref);
      if (b !== undefined) await b.finished;
      const stored = store.find(image.id, (s) => s.owner.fingerprint === identity.fingerprint && (ref === undefined || s.ref === ref));
      if (stored === undefined) return;
      const name = repositories([`${repository}:${tag}`])[0] ?? repository;
      const pushedAs = `${name}@${digest}`;
      if ((stored.pushedAs ?? []).includes(pushedAs)) return;
      stored.pushedAs = [...(stored.pushedAs ?? []), pushedAs];
      stored.manifestDigest ??= digest;
      let attached = '';
      if (signer !== undefined && stored.error === undefined) {
        const made = await signBuild(signer, { ...stored, names: [name], pushed: true, manifestDigest: digest }, stored.trace).catch((err: Error) => {
          o.log(`build ${stored.ref}: signing its trace for ${pushedAs} failed: ${err.message}`);
          return [];
        });
        stored.attestations = [...stored.attestations, ...made];
        attached = made.map((a) => (a.referrer !== undefined ? `, attached as ${a.referrer}` : `, NOT attached: ${a.attachError ?? '?'}`)).join('');
      }
      await store.save(stored);
      o.log(`build ${stored.ref} of ${describeIdentity(identity)}: pushed as ${pushedAs}${attached}`);
    })().catch((err: Error) => o.log(`a push of ${repository}:${tag}: ${err.message}`));

  // ---- the calls the agent reads or serves ---------------------------------------------
  const solveGate = (ctx: CallContext) => async (first: Buffer): Promise<Refusal | undefined> => {
    const info = decodeControlSolveRequest(first);
    const noTrace = String(ctx.headers[NO_TRACE_METADATA] ?? '') === '1';
    let b = builds.get(info.ref);
    if (b !== undefined && b.owner.fingerprint !== ctx.identity.fingerprint) {
      o.log(`refused Solve ${info.ref} from ${describeIdentity(ctx.identity)}: the ref belongs to another client`);
      return { code: GrpcStatus.PERMISSION_DENIED, message: `tracebuild agent: build ${info.ref} belongs to another client` };
    }
    if (b === undefined) {
      if (unavailable !== undefined && !noTrace && !o.allowUntraced) {
        o.log(`refused Solve ${info.ref} from ${describeIdentity(ctx.identity)}: cannot trace (${unavailable})`);
        return {
          code: GrpcStatus.UNAVAILABLE,
          message: `tracebuild agent: this builder cannot trace builds now (${unavailable}), so it refuses them (a tracebuild client may build untraced with --no-trace)`,
        };
      }
      b = await newBuild(info.ref, ctx.identity, unavailable === undefined && !noTrace);
    }
    if (b.solve !== undefined) return { code: GrpcStatus.FAILED_PRECONDITION, message: `tracebuild agent: build ${info.ref} was already solved` };
    b.solve = info;
    if (info.definition !== undefined) {
      b.addOps(info.definition.ops);
      router.addOps(b.ref, info.definition.ops);
    }
    if (info.frontend !== '') b.frontend = info.frontend;
    if (info.session !== '') {
      const refs = sessions.get(info.session) ?? new Set<string>();
      refs.add(b.ref);
      sessions.set(info.session, refs);
    }
    o.log(`build ${b.ref} from ${describeIdentity(ctx.identity)} (${ctx.identity.peer})${b.traced ? '' : ', untraced'}`);
    follow(b);
    return undefined;
  };

  const solveTap = (ctx: CallContext): CallTap => {
    let ref: string | undefined;
    return {
      request: (m) => {
        ref ??= decodeControlSolveRequest(m).ref;
      },
      response: (m) => {
        const b = ref === undefined ? undefined : builds.get(ref);
        if (b === undefined) return;
        b.exporterResponse = decodeControlSolveResponse(m);
        const imageId = b.exporterResponse['containerimage.config.digest'] ?? b.exporterResponse['containerimage.digest'];
        if (imageId !== undefined && b.traced) rememberImage(imageId, b.ref);
      },
      end: (status) => {
        const b = ref === undefined ? undefined : builds.get(ref);
        if (b === undefined || b.owner.fingerprint !== ctx.identity.fingerprint || b.solveEnded !== undefined) return;
        b.solveEnded = status;
        maybeFinish(b);
      },
    };
  };

  const bridgeTap = (ctx: CallContext): CallTap | undefined => {
    const ref = String(ctx.headers[BUILD_ID_METADATA] ?? '');
    const b = builds.get(ref);
    if (b === undefined || b.owner.fingerprint !== ctx.identity.fingerprint) return undefined;
    return {
      request: (m) => {
        const info = decodeBridgeSolveRequest(m);
        if (info.frontend !== '') b.frontend = info.frontend;
        Object.assign(b.frontendOpt, info.frontendOpt);
        if (info.definition !== undefined) {
          b.addOps(info.definition.ops);
          router.addOps(b.ref, info.definition.ops);
        }
      },
    };
  };

  /** The files a session sends from its `dockerfile` directory (the Dockerfile BuildKit's frontend reads). */
  const fileSyncTap = (sessionId: string, ctx: CallContext): CallTap | undefined => {
    if (String(ctx.headers['dir-name'] ?? '') !== 'dockerfile') return undefined;
    const paths: string[] = [];
    const data = new Map<number, Buffer[]>();
    return {
      response: (m) => {
        const p = decodeFileSyncPacket(m);
        if (p.type === 0 && p.path !== undefined && p.path !== '') paths.push(p.path);
        else if (p.type === 2) {
          if (p.data !== undefined && p.data.length > 0) {
            const parts = data.get(p.id) ?? [];
            parts.push(Buffer.from(p.data));
            data.set(p.id, parts);
          } else {
            const path = paths[p.id];
            const bytes = Buffer.concat(data.get(p.id) ?? []);
            data.delete(p.id);
            if (path === undefined) return;
            for (const ref of sessions.get(sessionId) ?? []) builds.get(ref)?.captureFile(path, bytes);
          }
        }
      },
    };
  };

  // ---- the agent's own service --------------------------------------------------------
  const infoFor = (identity: ClientIdentity): LocalHandler => (stream) =>
    serveUnary(stream, async () =>
      messages.infoResponse.encode({
        version: o.version,
        tracing: unavailable === undefined,
        reason: unavailable ?? '',
        client: identity.name,
        clientFingerprint: identity.fingerprint,
        builderId: o.builderId,
        keyId: signer?.keyId ?? '',
        kernel: release(),
      }),
    );

  const traceHandler = (identity: ClientIdentity): LocalHandler => (stream: http2.ServerHttp2Stream) => {
    let build: AgentBuild | undefined;
    let subscriber: TraceSubscriber | undefined;
    let queue = Promise.resolve();
    const call: LocalCall = new LocalCall(
      stream,
      (m) => {
        queue = queue.then(() => handle(m)).catch((err: Error) => subscriber?.fail(GrpcStatus.INTERNAL, `tracebuild agent: ${err.message}`));
      },
      () => {
        void queue.then(() => subscriber?.end());
      },
    );
    stream.once('close', () => {
      if (build !== undefined) {
        subscriber?.flush();
        build.subscriber = undefined;
        retire(build);
      }
    });
    const handle = async (m: Buffer): Promise<void> => {
      const msg = messages.traceClient.decode(m);
      if (msg.start !== undefined) {
        const ref = msg.start.ref ?? '';
        if (build !== undefined) throw new Error('the Trace stream was already started');
        if (!/^[A-Za-z0-9_-]{1,128}$/.test(ref)) return call.fail(GrpcStatus.INVALID_ARGUMENT, `tracebuild agent: "${ref}" is not a build ref`);
        if (unavailable !== undefined) return call.fail(GrpcStatus.UNAVAILABLE, `tracebuild agent: this builder cannot trace builds now: ${unavailable}`);
        const existing = builds.get(ref);
        if (existing !== undefined) {
          return call.fail(
            existing.owner.fingerprint === identity.fingerprint ? GrpcStatus.FAILED_PRECONDITION : GrpcStatus.PERMISSION_DENIED,
            existing.owner.fingerprint === identity.fingerprint
              ? `tracebuild agent: build ${ref} has already started: its trace is streamed only to a client that asks before its Solve`
              : `tracebuild agent: build ${ref} belongs to another client`,
          );
        }
        subscriber = new TraceSubscriber(call);
        const b = await newBuild(ref, identity, true, subscriber);
        if (!b.traced) {
          builds.delete(ref);
          return call.fail(GrpcStatus.UNAVAILABLE, `tracebuild agent: this builder cannot trace builds now: ${unavailable ?? 'the probe stopped'}`);
        }
        build = b;
        // the READY record is the stream's first message: the client waits for it
        subscriber.flush();
        return;
      }
      if (msg.ping !== undefined) {
        if (build === undefined || subscriber === undefined) throw new Error('ping before start');
        await flushFor(build);
        subscriber.pong(msg.ping.seq ?? 0);
        return;
      }
      if (msg.finish !== undefined) {
        subscriber?.end();
        if (build !== undefined) {
          build.subscriber = undefined;
          retire(build);
        }
      }
    };
  };

  /** The build a query names (its ref, or the image its solve reported) while it is still
   * running or its trace is being made; undefined once it is stored or forgotten. */
  const endingBuildOf = (query: string): AgentBuild | undefined => {
    const q = parseTraceQuery(query);
    const ref = q.kind === 'digest' ? recentImages.get(q.digest) : q.ref;
    const b = ref === undefined ? undefined : builds.get(ref);
    return b === undefined || b.retired || !b.traced ? undefined : b;
  };

  const getTrace = (identity: ClientIdentity): LocalHandler => (stream) =>
    serveUnary(stream, async (request) => {
      const query = messages.getTraceRequest.decode(request).query ?? '';
      const mayRead = (b: StoredBuildSummary): boolean => b.owner.fingerprint === identity.fingerprint || o.traceReaders.includes(identity.name);
      let found = store.find(query, mayRead);
      const ending = found === undefined ? endingBuildOf(query) : undefined;
      if (ending !== undefined && (ending.owner.fingerprint === identity.fingerprint || o.traceReaders.includes(identity.name))) {
        // Its solve has answered (the client may already hold the image) but its trace is
        // made only once BuildKit's Status stream ends: wait for it rather than say "none".
        await Promise.race([ending.finished, sleep(TRACE_WAIT_MS, undefined, { ref: false })]);
        found = store.find(query, mayRead);
      }
      if (found === undefined) {
        throw new CallError(GrpcStatus.NOT_FOUND, `tracebuild agent: no trace of "${query}" that ${describeIdentity(identity)} may read (a build's trace is its client's, and the --trace-reader's)`);
      }
      const { trace, attestations, ...rest } = found;
      const summary = { ...rest, attestations: attestations.map(({ bundle: _bundle, ...a }) => a) };
      return messages.getTraceResponse.encode({ ref: found.ref, traceJson: `${JSON.stringify(trace, null, 2)}\n`, recordJson: JSON.stringify(summary) });
    });

  let server: AgentServer;
  try {
    server = await startAgentServer({
      host: o.host,
      port: o.port,
      tls,
      upstream,
      engineApi: o.engineApi,
      log: o.log,
      handlers: {
        grpc: (identity) => ({
          local: (ctx) => {
            if (ctx.path === AGENT_PATHS.info) return infoFor(identity);
            if (ctx.path === AGENT_PATHS.trace) return traceHandler(identity);
            if (ctx.path === AGENT_PATHS.getTrace) return getTrace(identity);
            return undefined;
          },
          gate: (ctx) => (ctx.path === BUILDKIT_PATHS.controlSolve ? solveGate(ctx) : undefined),
          tap: (ctx) => (ctx.path === BUILDKIT_PATHS.controlSolve ? solveTap(ctx) : ctx.path === BUILDKIT_PATHS.bridgeSolve ? bridgeTap(ctx) : undefined),
          log: (l) => o.log(l),
        }),
        session: (_identity, sessionId) => ({
          tap: (ctx) => (ctx.path === BUILDKIT_PATHS.fileSyncDiffCopy ? fileSyncTap(sessionId, ctx) : undefined),
          log: (l) => o.log(l),
        }),
        pushed,
      },
    });
  } catch (err) {
    // nothing is served: the probe must not keep the process alive
    closing = true;
    clearInterval(tick);
    await probe?.stop().catch(() => undefined);
    throw err;
  }
  o.log(
    `listening on ${server.host}:${server.port} (mutual TLS), fronting ${upstream.kind === 'docker' ? 'dockerd' : 'buildkitd'} at ${o.upstream}; ` +
      `Engine API: ${o.engineApi}; traces in ${o.stateDir} (${store.size} kept); ${signer === undefined ? 'not signing' : `signing as ${o.builderId} with key ${signer.keyId.slice(0, 12)}`}`,
  );

  return {
    host: server.host,
    port: server.port,
    tracingUnavailable: () => unavailable,
    close: async () => {
      closing = true;
      clearInterval(tick);
      await server.close();
      channel?.close();
      await probe?.stop().catch(() => undefined);
    },
  };
}
