// Glob matching in time linear in the text (times the pattern's length), never worse.
//
// Why not a RegExp: patterns come from hostile places (a repository's .dockerignore, a
// Dockerfile's `${v#pattern}`, a policy run on an attacker's trace), and the RegExp a
// glob compiles to (`[^/]*` per `*`) backtracks exponentially on a near miss: a few hundred
// bytes of pattern stall the process for hours. Here a pattern is a list of tokens, each a
// state of a nondeterministic automaton, and matching advances the set of live states one
// code point at a time (Thompson's construction).
//
// Each syntax (Go's filepath.Match with Docker's `**`, shell patterns, policy globs)
// parses into tokens in its own module; this one only matches.

/** One element of a character class: a code point or an inclusive range. */
export type GlobClassItem = { from: number; to: number };

export type GlobToken =
  /** One literal code point. */
  | { readonly kind: 'char'; readonly cp: number }
  /** `?`: one code point; `/` only when `slash`. */
  | { readonly kind: 'any'; readonly slash: boolean }
  /** `[...]`: one code point in (or, negated, not in) the items; `/` only when `slash`. */
  | { readonly kind: 'class'; readonly negated: boolean; readonly items: readonly GlobClassItem[]; readonly slash: boolean }
  /** `*`: any run of code points; across `/` only when `slash`. */
  | { readonly kind: 'star'; readonly slash: boolean }
  /** `**\/` inside a path pattern: nothing, or anything that ends in `/`. */
  | { readonly kind: 'dirs' };

const SLASH = 0x2f;

function accepts(token: GlobToken, cp: number): boolean {
  switch (token.kind) {
    case 'char':
      return cp === token.cp;
    case 'any':
      return token.slash || cp !== SLASH;
    case 'class': {
      if (cp === SLASH && !token.slash) return false;
      const inside = token.items.some((r) => cp >= r.from && cp <= r.to);
      return inside !== token.negated;
    }
    case 'star':
      return token.slash || cp !== SLASH;
    case 'dirs':
      return false;
  }
}

/** Code points of a string (a glob matches code points, not UTF-16 units). */
export function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

/**
 * A compiled glob. States 0..n-1 are the tokens, n is "matched", and n+1+k is the inner
 * loop of the k-th `dirs` token (inside the run that must end with `/`).
 */
export class Glob {
  private readonly accept: number;
  /** For a `dirs` token's state: its inner loop's state; for an inner loop: -1 - its token. */
  private readonly link: Int32Array;
  private readonly stateCount: number;
  // Work lists reused by every match (a Glob is used from one thread at a time).
  private current: Int32Array;
  private next: Int32Array;
  private readonly seen: Uint32Array;
  private generation = 0;
  /** How many code points the last prefixEnd read (its cost). */
  lastRead = 0;
  // Cheap checks before the automaton runs (most paths fail a pattern at its first or last
  // characters): the pattern itself when it is all literal, else its literal ends.
  private readonly literal: string | undefined;
  private readonly literalPrefix: string;
  private readonly literalSuffix: string;

  constructor(readonly tokens: readonly GlobToken[]) {
    const charOf = (t: GlobToken | undefined): string | undefined => (t?.kind === 'char' ? String.fromCodePoint(t.cp) : undefined);
    let head = 0;
    while (charOf(tokens[head]) !== undefined) head++;
    this.literalPrefix = tokens.slice(0, head).map(charOf).join('');
    this.literal = head === tokens.length ? this.literalPrefix : undefined;
    let tail = tokens.length;
    while (tail > head && charOf(tokens[tail - 1]) !== undefined) tail--;
    this.literalSuffix = tokens.slice(tail).map(charOf).join('');
    this.accept = tokens.length;
    const dirs = tokens.filter((t) => t.kind === 'dirs').length;
    this.stateCount = tokens.length + 1 + dirs;
    this.link = new Int32Array(this.stateCount);
    let inner = tokens.length + 1;
    tokens.forEach((t, i) => {
      if (t.kind !== 'dirs') return;
      this.link[i] = inner;
      this.link[inner] = -1 - i;
      inner++;
    });
    this.current = new Int32Array(this.stateCount);
    this.next = new Int32Array(this.stateCount);
    this.seen = new Uint32Array(this.stateCount);
  }

  /** Whether the whole text matches. */
  matches(text: string): boolean {
    if (this.literal !== undefined) return text === this.literal;
    const prefix = this.literalPrefix;
    if (text.length < prefix.length + this.literalSuffix.length || !text.startsWith(prefix) || !text.endsWith(this.literalSuffix)) {
      return false;
    }
    // the literal prefix is read: start at the state after it
    let live = this.start(prefix === '' ? 0 : codePoints(prefix).length);
    for (let i = prefix.length; i < text.length; ) {
      if (live === 0) return false;
      const cp = text.codePointAt(i)!;
      i += cp > 0xffff ? 2 : 1;
      live = this.step(live, cp);
    }
    return this.hasAccept(live);
  }

  /**
   * The end (exclusive) of the shortest or longest match that starts at `from`, or -1 when
   * none does. Reads only as far as some state is still live.
   */
  prefixEnd(text: readonly number[], from: number, longest: boolean): number {
    let live = this.start();
    let found = this.hasAccept(live) ? from : -1;
    this.lastRead = 0;
    if (found >= 0 && !longest) return found;
    for (let i = from; i < text.length && live > 0; i++) {
      this.lastRead++;
      live = this.step(live, text[i]!);
      if (this.hasAccept(live)) {
        found = i + 1;
        if (!longest) return found;
      }
    }
    return found;
  }

  /** The glob of the reversed language (suffixes become prefixes). Patterns with a `dirs`
   * token have no simple reverse and are refused. */
  reversed(): Glob {
    if (this.tokens.some((t) => t.kind === 'dirs')) throw new Error('glob: a pattern with **/ cannot be reversed');
    return new Glob([...this.tokens].reverse());
  }

  /** For each n in 0..text.length: whether the first n code points match (one pass). */
  prefixMatches(text: readonly number[]): boolean[] {
    const out = new Array<boolean>(text.length + 1).fill(false);
    let live = this.start();
    out[0] = this.hasAccept(live);
    for (let i = 0; i < text.length && live > 0; i++) {
      live = this.step(live, text[i]!);
      out[i + 1] = this.hasAccept(live);
    }
    return out;
  }

  private start(state = 0): number {
    this.nextGeneration();
    return this.add(this.current, 0, state);
  }

  private hasAccept(live: number): boolean {
    for (let i = 0; i < live; i++) if (this.current[i] === this.accept) return true;
    return false;
  }

  /** Reads one code point: the live states move into `next`, which becomes `current`. */
  private step(live: number, cp: number): number {
    this.nextGeneration();
    let count = 0;
    for (let i = 0; i < live; i++) {
      const s = this.current[i]!;
      if (s === this.accept) continue;
      if (s > this.accept) {
        // inside a `dirs` run: it goes on, and a `/` may end it
        count = this.add(this.next, count, s);
        if (cp === SLASH) count = this.add(this.next, count, -this.link[s]!); // the token after it
        continue;
      }
      const token = this.tokens[s]!;
      if (!accepts(token, cp)) continue;
      count = this.add(this.next, count, token.kind === 'star' ? s : s + 1);
    }
    const done = this.current;
    this.current = this.next;
    this.next = done;
    return count;
  }

  private nextGeneration(): void {
    if (this.generation === 0xffffffff) {
      this.seen.fill(0);
      this.generation = 0;
    }
    this.generation++;
  }

  /** Adds `state` and what it reaches without reading (its closure) to `list`. */
  private add(list: Int32Array, count: number, state: number): number {
    let s = state;
    for (;;) {
      if (this.seen[s] === this.generation) return count;
      this.seen[s] = this.generation;
      list[count++] = s;
      if (s >= this.accept) return count; // accept or an inner loop: no free moves
      const token = this.tokens[s]!;
      if (token.kind === 'dirs') count = this.add(list, count, this.link[s]!);
      else if (token.kind !== 'star') return count;
      s++; // `*` and `dirs` may match nothing
    }
  }
}
