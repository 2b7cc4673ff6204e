// The orders the trace's lists are sorted in.

export function byString(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function sortedUnique(xs: Iterable<string>): string[] {
  // the default order of sort() is byString's (UTF-16 code units), without a callback
  return [...new Set(xs)].sort();
}
