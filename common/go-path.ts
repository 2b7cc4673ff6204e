// Go's `path` package for `/`-separated paths, which Docker and BuildKit apply to every
// path of a Dockerfile, a context and an image: the same input must give the same path here.

/** Go's path.Clean: `.` and `..` resolved lexically, repeated and trailing `/` removed,
 * `..` above the root dropped; '' becomes '.'. */
export function cleanPath(p: string): string {
  if (p === '') return '.';
  const rooted = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return '/' + joined;
  return joined === '' ? '.' : joined;
}

/** Go's path.Join: the non-empty parts joined with `/`, then cleaned; no parts gives ''. */
export function joinPath(...parts: string[]): string {
  const nonEmpty = parts.filter((p) => p !== '');
  return nonEmpty.length === 0 ? '' : cleanPath(nonEmpty.join('/'));
}
