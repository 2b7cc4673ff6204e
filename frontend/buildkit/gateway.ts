// The LLBBridge (gateway) client for a client-side frontend. dockerd 20.10's BuildKit
// only takes an image config from a frontend's Return, so tracebuild runs its frontend
// through the gateway: Control.Solve with an empty Frontend registers a forwarder for the
// build ref, and every LLBBridge call names that ref in `buildkit-controlapi-buildid`.
import * as grpc from '@grpc/grpc-js';
import type { BuildKitCapabilities, CacheEntry, DaemonInfo, GatewayApi, LlbDefinition, Platform } from './types.js';
import { SolveError } from './errors.js';
import { grpcStatus, method, type Msg, type Rpc } from './rpc.js';

const BRIDGE = 'moby.buildkit.v1.frontend.LLBBridge';

/** LlbDefinition -> pb.Definition plain object (metadata keys sorted, unset fields left out). */
export function definitionMessage(def: LlbDefinition): Msg {
  const metadata: Record<string, Msg> = {};
  for (const key of Object.keys(def.metadata).sort()) {
    const m = def.metadata[key] ?? {};
    const out: Msg = {};
    if (m.ignore_cache) out.ignore_cache = true;
    if (m.description && Object.keys(m.description).length > 0) {
      const d: Record<string, string> = {};
      for (const k of Object.keys(m.description).sort()) d[k] = m.description[k] as string;
      out.description = d;
    }
    metadata[key] = out;
  }
  return { def: def.def, metadata };
}

/** The enabled caps of a PongResponse list (APICap: ID = 1, Enabled = 2). */
export function enabledCaps(list: unknown): string[] {
  if (!Array.isArray(list)) return [];
  const out: string[] = [];
  for (const c of list as Msg[]) {
    if (typeof c.ID === 'string' && c.ID !== '' && c.Enabled === true && !out.includes(c.ID)) out.push(c.ID);
  }
  return out.sort();
}

/** The capabilities a PongResponse announces. */
export function capabilitiesFromPong(pong: Msg): BuildKitCapabilities {
  return { llb: enabledCaps(pong.LLBCaps), frontend: enabledCaps(pong.FrontendAPICaps) };
}

export class Gateway implements GatewayApi {
  private readonly md: Record<string, string>;
  /** Set by ping(), which the solve calls before the frontend runs. */
  capabilities: BuildKitCapabilities = { llb: [], frontend: [] };

  constructor(
    private readonly rpc: Rpc,
    buildRef: string,
    private readonly signal: AbortSignal,
    readonly sessionId: string,
    readonly daemon: DaemonInfo,
  ) {
    this.md = { 'buildkit-controlapi-buildid': buildRef };
  }

  private call(name: string, request: Msg): Promise<Msg> {
    return this.rpc.unary(method(BRIDGE, name), request, { metadata: this.md, signal: this.signal });
  }

  /**
   * Waits for the daemon's forwarder for this build to exist. The daemon itself waits a
   * few seconds for it; a slow daemon gets a few more tries.
   */
  async ping(): Promise<Msg> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        const pong = await this.call('Ping', {});
        this.capabilities = capabilitiesFromPong(pong);
        return pong;
      } catch (err) {
        const st = grpcStatus(err);
        const retriable = st && /no such job|not found/i.test(st.details) && st.code !== grpc.status.CANCELLED;
        if (!retriable || Date.now() > deadline || this.signal.aborted) throw gatewayError('Ping', err);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  async resolveImageConfig(ref: string, platform: Platform, resolveMode: 'default' | 'pull' = 'default'): Promise<{ digest?: string; config: Record<string, unknown> }> {
    const p: Msg = { OS: platform.os, Architecture: platform.architecture };
    if (platform.variant) p.Variant = platform.variant;
    let res: Msg;
    try {
      res = await this.call('ResolveImageConfig', {
        Ref: ref,
        Platform: p,
        ResolveMode: resolveMode,
        LogName: `[internal] load metadata for ${ref}`,
      });
    } catch (err) {
      throw gatewayError(`resolve image config for ${ref}`, err);
    }
    const raw = res.Config instanceof Uint8Array ? Buffer.from(res.Config).toString('utf8') : '';
    let config: Record<string, unknown> = {};
    if (raw.trim() !== '') {
      try {
        config = JSON.parse(raw) as Record<string, unknown>;
      } catch (err) {
        throw new SolveError('gateway-failed', `resolve image config for ${ref}: invalid JSON from the daemon`, { cause: err });
      }
    }
    const digest = typeof res.Digest === 'string' && res.Digest !== '' ? res.Digest : undefined;
    return digest === undefined ? { config } : { digest, config };
  }

  /** Solves the definition inside this build and returns the result ref (id + def). */
  /** Solves the definition; `cacheImports` (--cache-from) are where the daemon may find
   * its steps' results besides its own cache (a frontend passes them with every solve). */
  async solve(def: LlbDefinition, cacheImports: readonly CacheEntry[] = []): Promise<Msg> {
    const res = await this.call('Solve', {
      Definition: definitionMessage(def),
      ...(cacheImports.length === 0 ? {} : { CacheImports: cacheImports.map(cacheEntryMessage) }),
      allowResultReturn: true,
      // Without this the daemon answers the deprecated string ref only.
      allowResultArrayRef: true,
    });
    const result = res.result as Msg | undefined;
    const ref = result?.ref as Msg | undefined;
    if (ref) return ref;
    if (typeof result?.refDeprecated === 'string') return { id: result.refDeprecated };
    if (typeof res.ref === 'string' && res.ref !== '') return { id: res.ref };
    throw new SolveError('gateway-failed', 'gateway solve returned no result reference');
  }

  /** Hands the final result (with the image config as exporter metadata) to the daemon. */
  async returnResult(ref: Msg, imageConfig: Record<string, unknown>): Promise<void> {
    await this.call('Return', {
      result: { ref, metadata: { 'containerimage.config': Buffer.from(JSON.stringify(imageConfig)) } },
    });
  }

  /** Fails the build with the frontend's error, so the daemon ends the job cleanly. */
  async returnError(code: number, message: string): Promise<void> {
    await this.call('Return', { error: { code, message } });
  }
}

export function gatewayError(what: string, err: unknown): Error {
  if (err instanceof SolveError) return err;
  const st = grpcStatus(err);
  if (st?.code === grpc.status.CANCELLED) return new SolveError('cancelled', 'build cancelled', { cause: err });
  return new SolveError('gateway-failed', `${what}: ${st ? st.details : String(err)}`, { cause: err });
}

function cacheEntryMessage(e: CacheEntry): Msg {
  return { Type: e.type, Attrs: e.attrs };
}

/** Control.Solve's CacheOptions from --cache-from / --cache-to. */
export function cacheOptions(cache: { imports: readonly CacheEntry[]; exports: readonly CacheEntry[] }): Msg {
  return { Imports: cache.imports.map(cacheEntryMessage), Exports: cache.exports.map(cacheEntryMessage) };
}
