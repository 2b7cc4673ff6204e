// The guard's memory of digests it has already let through, so that a second `docker run`
// of the same image does not fetch and verify its attestations again. Bounded in both
// directions: entries expire after a TTL (a key rotated out, or a policy tightened, takes
// effect within it) and the least recently used entry goes first when it is full (a busy
// host running many images must not grow the guard without limit).

export interface VerdictCacheOptions {
  ttlMs: number;
  maxEntries: number;
  /** Milliseconds since the epoch; injected by tests. */
  now?: () => number;
}

export class VerdictCache<V> {
  // A Map iterates in insertion order: re-inserting on every hit keeps the least recently
  // used entry first, which is the one evicted.
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();
  private readonly now: () => number;

  constructor(private readonly options: VerdictCacheOptions) {
    if (!(options.maxEntries > 0)) throw new RangeError('the verdict cache needs room for at least one entry');
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    this.entries.delete(key);
    if (entry.expiresAt <= this.now()) return undefined;
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key: string, value: V): void {
    if (this.options.ttlMs <= 0) return;
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.now() + this.options.ttlMs });
    while (this.entries.size > this.options.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }

  clear(): void {
    this.entries.clear();
  }
}
