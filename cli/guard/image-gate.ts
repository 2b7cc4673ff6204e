// The guard's one decision, shared by the Docker authorization plugin and the Kubernetes
// admission webhook: may this image run? Yes only when its attestations verify with the
// trusted keys (everything `tracebuild verify` checks) and its newest runtime trace passes
// the policy (everything `verify --policy` checks).
//
// An image is identified by a registry manifest digest, because that is what attestations
// are attached to: for Docker, the RepoDigests dockerd recorded when it pulled or pushed
// the image; for Kubernetes, the digest in the Pod's image reference or, for a tag, the
// digest the registry resolves it to.
//
// Refusals come in two classes. "Unattested" (no registry digest, nothing attached, the
// registry unreachable or too slow) is what `--allow-unattested` lets through, loudly.
// "Untrusted" (a signature that does not verify, attestations only by unknown signers, a
// policy violation) is always refused. Which attestations are judged is `verify`'s
// selection: other tools' attestations (another predicate type, another signer) are not
// checked and do not refuse an image that also carries a verified runtime trace.

import type { Policy, Violation } from '../../attest/index.js';
import { isRegistryError, parseReference, parseReferenceWithDefaultTag, type Reference, type RegistryClient } from '../../oci/index.js';
import { evidenceLine, newestTraces, signerLabel, verificationError, verifyImageWithKeys, type TrustedKey, type VerifierTrust, type VerifyReport } from '../../verify/index.js';
import { VerdictCache } from './verdict-cache.js';
import { oneLine } from '../../common/index.js';

export type RefusalClass = 'unattested' | 'untrusted';

export interface Verdict {
  allowed: boolean;
  /** The image as it was named (the create request, the Pod spec). */
  image: string;
  /** `repository@sha256:...` that was judged, when there was one. */
  digestRef?: string;
  /** Why: for a refusal, the one line the user sees. */
  reason: string;
  refusal?: RefusalClass;
  /** The first policy violation, for callers that show it apart. */
  violation?: { rule: string; line: number; instruction: string; evidence: string | undefined };
  /** Allowed only because of --allow-unattested. */
  escaped?: boolean;
  /** Answered from the cache of verified digests. */
  cached?: boolean;
}

export interface ImageGateOptions {
  client: RegistryClient;
  /** Keys, or everything `verify` can trust (keys, certificate identities). */
  trusted: readonly TrustedKey[] | VerifierTrust;
  policy: Policy;
  allowUnattested: boolean;
  /** How long a verified digest is trusted without checking again. */
  cacheTtlMs: number;
  cacheSize: number;
  /** A verification still running after this is refused as "unattested" (registry too slow). */
  timeoutMs: number;
  /** The guard's log: one line per decision. */
  log: (line: string) => void;
  /** For tests: verification without a registry. */
  verify?: (client: RegistryClient, ref: Reference, trusted: readonly TrustedKey[] | VerifierTrust) => Promise<VerifyReport>;
  now?: () => number;
}

function short(digestRef: string): string {
  const at = digestRef.indexOf('@sha256:');
  return at < 0 ? digestRef : `${digestRef.slice(0, at + '@sha256:'.length + 12)}…`;
}


class DeadlineExceeded extends Error {}

export class ImageGate {
  private readonly cache: VerdictCache<Verdict>;
  private readonly inFlight = new Map<string, Promise<Verdict>>();
  private readonly verify: NonNullable<ImageGateOptions['verify']>;

  constructor(private readonly options: ImageGateOptions) {
    this.cache = new VerdictCache({ ttlMs: options.cacheTtlMs, maxEntries: options.cacheSize, ...(options.now ? { now: options.now } : {}) });
    this.verify = options.verify ?? verifyImageWithKeys;
  }

  get cachedDigests(): number {
    return this.cache.size;
  }

  /**
   * An image dockerd holds: `repoDigests` are its RepoDigests. Each is tried, those of the
   * repository the user named first; one that verifies and passes is enough, since every
   * RepoDigest names a manifest of this very image.
   */
  checkDigests(image: string, repoDigests: readonly string[]): Promise<Verdict> {
    return this.within(image, async () => {
      if (repoDigests.length === 0) {
        return this.refuse(
          { image, reason: `${image} has no registry digest (built or loaded here, never pushed to or pulled from a registry), so it has no attestations to check` },
          'unattested',
        );
      }
      let named: string | undefined;
      try {
        named = parseReferenceWithDefaultTag(image).name;
      } catch {
        // an image id or a short id: no repository to prefer
      }
      const ordered = [...repoDigests].sort((a, b) => Number(this.repositoryOf(b) === named) - Number(this.repositoryOf(a) === named));
      let first: Verdict | undefined;
      for (const digestRef of ordered) {
        const verdict = await this.checkDigestRef(image, digestRef);
        if (verdict.allowed) return verdict;
        first ??= verdict;
      }
      return first as Verdict;
    });
  }

  /** An image reference as a Pod names it: a digest is used as is, a tag is resolved in the registry. */
  checkReference(image: string): Promise<Verdict> {
    return this.within(image, async () => {
      let ref: Reference;
      try {
        ref = parseReferenceWithDefaultTag(image);
      } catch (err) {
        return this.refuse({ image, reason: `${image} is not a valid image reference: ${(err as Error).message}` }, 'untrusted');
      }
      if (ref.digest !== undefined) return this.checkDigestRef(image, `${ref.name}@${ref.digest}`);
      let digest: string;
      try {
        digest = (await this.options.client.resolveManifest(ref)).digest;
      } catch (err) {
        return this.refuse({ image, reason: `cannot resolve ${image} in its registry: ${this.errorText(err)}` }, 'unattested');
      }
      return this.checkDigestRef(image, `${ref.name}@${digest}`);
    });
  }

  /**
   * One time budget for the whole decision (several RepoDigests, or a resolve and a
   * verification), so that the caller (dockerd, the API server) gets an answer in time.
   * A verification still running when it runs out goes on, and its result is cached for
   * the next call.
   */
  private async within(image: string, decide: () => Promise<Verdict>): Promise<Verdict> {
    try {
      return await this.withDeadline(decide());
    } catch (err) {
      if (err instanceof DeadlineExceeded) return this.refuse({ image, reason: `verifying ${image} took too long: ${err.message}` }, 'unattested');
      throw err;
    }
  }

  private repositoryOf(digestRef: string): string {
    return digestRef.split('@')[0] ?? digestRef;
  }

  private async checkDigestRef(image: string, digestRef: string): Promise<Verdict> {
    const hit = this.cache.get(digestRef);
    if (hit !== undefined) {
      this.options.log(`allow ${image} (${digestRef}): cached`);
      return { ...hit, image, cached: true };
    }
    let pending = this.inFlight.get(digestRef);
    if (pending === undefined) {
      pending = this.judge(image, digestRef).finally(() => this.inFlight.delete(digestRef));
      this.inFlight.set(digestRef, pending);
    }
    const verdict = await pending;
    return { ...verdict, image };
  }

  private async judge(image: string, digestRef: string): Promise<Verdict> {
    const base = { image, digestRef };
    let ref: Reference;
    try {
      ref = parseReference(digestRef);
    } catch (err) {
      return this.refuse({ ...base, reason: `${digestRef} is not a valid image reference: ${(err as Error).message}` }, 'untrusted');
    }
    let report: VerifyReport;
    try {
      report = await this.verify(this.options.client, ref, this.options.trusted);
    } catch (err) {
      return this.refuse({ ...base, reason: `cannot fetch the attestations of ${digestRef}: ${this.errorText(err)}` }, 'unattested');
    }
    if (!report.ok) {
      // Nothing signed is attached (other tools' artifacts aside). Attestations that are all
      // somebody else's are not "unattested": they are refused as untrusted, as before.
      if (report.failure?.kind === 'no-attestations' && !report.checks.some((c) => c.status === 'failed')) {
        return this.refuse({ ...base, reason: `${short(digestRef)} has no signed attestations attached` }, 'unattested');
      }
      return this.refuse({ ...base, reason: `its attestations do not verify: ${oneLine(verificationError(report).message)}` }, 'untrusted');
    }
    const newest = newestTraces(report)[0];
    if (newest?.statement === undefined) {
      return this.refuse({ ...base, reason: `${short(digestRef)} has no verified runtime trace` }, 'untrusted');
    }
    let violations: Violation[];
    try {
      const { evaluatePolicy, traceFromPredicate } = await import('../../attest/index.js');
      const trace = traceFromPredicate(newest.statement.predicate);
      violations = evaluatePolicy(this.options.policy, trace, { name: ref.name, digest: report.digest });
    } catch (err) {
      return this.refuse({ ...base, reason: `the policy could not be evaluated on its trace: ${this.errorText(err)}` }, 'untrusted');
    }
    if (violations.length > 0) return this.refuseViolations(base, violations);
    const verdict: Verdict = { ...base, allowed: true, reason: `attestations verified (signed by ${signerLabel(newest)}) and policy ${this.policyName()} passed` };
    this.cache.set(digestRef, verdict);
    this.options.log(`allow ${image} (${digestRef}): ${verdict.reason}`);
    return verdict;
  }

  private policyName(): string {
    return this.options.policy.name ?? this.options.policy.file;
  }

  private refuseViolations(base: { image: string; digestRef: string }, violations: readonly Violation[]): Verdict {
    const [v] = violations as [Violation, ...Violation[]];
    const evidence = v.evidence.map(evidenceLine).find((e) => e !== undefined);
    const instruction = oneLine(v.step.instruction);
    const more = violations.length > 1 ? ` (and ${violations.length - 1} more violation(s): ${[...new Set(violations.slice(1).map((x) => x.rule))].join(', ')})` : '';
    return this.refuse(
      {
        ...base,
        reason: `policy ${this.policyName()}: rule ${v.rule} at Dockerfile:${v.step.line} ${instruction}: ${oneLine(v.message)}${evidence === undefined ? '' : ` [${evidence}]`}${more}`,
        violation: { rule: v.rule, line: v.step.line, instruction, evidence },
      },
      'untrusted',
    );
  }

  /** A refusal, unless --allow-unattested covers it (then an allow, logged loudly). */
  private refuse(verdict: Omit<Verdict, 'allowed' | 'refusal'> & { reason: string }, refusal: RefusalClass): Verdict {
    const where = verdict.digestRef === undefined ? verdict.image : `${verdict.image} (${verdict.digestRef})`;
    if (refusal === 'unattested' && this.options.allowUnattested) {
      this.options.log(`WARNING: ALLOWING UNATTESTED IMAGE ${where} because of --allow-unattested: ${verdict.reason}`);
      return { ...verdict, allowed: true, escaped: true, refusal };
    }
    this.options.log(`refuse ${where}: ${verdict.reason}`);
    const hint = refusal === 'unattested' ? ' (the guard refuses unattested images; see --allow-unattested)' : '';
    return { ...verdict, allowed: false, refusal, reason: `${verdict.reason}${hint}` };
  }

  private errorText(err: unknown): string {
    if (err instanceof DeadlineExceeded) return err.message;
    if (isRegistryError(err)) return err.message;
    return err instanceof Error ? err.message : String(err);
  }

  private withDeadline<T>(work: Promise<T>): Promise<T> {
    const ms = this.options.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DeadlineExceeded(`no answer within ${ms / 1000} s (registry slow or unreachable)`)), ms);
    });
    return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
  }
}

/** The refusal as dockerd and kubectl show it, prefixed by the guard's name. */
export function refusalMessage(verdict: Verdict): string {
  const where = verdict.digestRef === undefined ? verdict.image : `${verdict.image} (${short(verdict.digestRef)})`;
  return `tracebuild guard refused ${where}: ${verdict.reason}`;
}
