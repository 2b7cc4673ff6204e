// Git sources of ADD: which sources are git repositories, and their URL forms
// (`https://host/repo.git#ref:subdir`, `git://...`, the newer query form) as the git
// source can fetch them; what the daemon must support for them is checked by copy.ts.

/** A git source as BuildKit's newer frontends recognise one in ADD. */
export function isGitSource(src: string): boolean {
  if (/^git@[^:/]+:/.test(src)) return true;
  if (/^(git|ssh):\/\//i.test(src)) return true;
  if (/^https?:\/\//i.test(src)) {
    try {
      return new URL(src).pathname.endsWith('.git');
    } catch {
      return false;
    }
  }
  return false;
}

interface GitSource {
  /** The repository URL with its scheme, without fragment or query. */
  remote: string;
  ref?: string;
  subdir?: string;
  keepGitDir?: boolean;
  /** `?checksum=` / `?commit=`: the commit the checkout must be. */
  checksum?: string;
}

/** A git URL of ADD (`https://host/repo.git#ref:subdir`, `git://...`, the newer
 * `?ref=&tag=&branch=&subdir=&keep-git-dir=` query form), or why it cannot be built. */
export function parseGitSource(src: string): GitSource | string {
  if (/^git@/.test(src) || /^ssh:\/\//i.test(src)) {
    return 'ADD from a git repository over SSH is not supported by tracebuild (it needs an SSH agent and known hosts); use an https:// URL';
  }
  let u: URL;
  try {
    u = new URL(src);
  } catch {
    return 'invalid git URL';
  }
  const out: GitSource = { remote: '' };
  const frag = decodeURIComponent(u.hash.replace(/^#/, ''));
  if (frag) {
    const i = frag.indexOf(':');
    const ref = i < 0 ? frag : frag.slice(0, i);
    const sub = i < 0 ? '' : frag.slice(i + 1);
    if (ref) out.ref = ref;
    if (sub) out.subdir = sub;
  }
  for (const [k, v] of u.searchParams) {
    switch (k) {
      case 'ref':
        out.ref = v;
        break;
      case 'tag':
        out.ref = 'refs/tags/' + v;
        break;
      case 'branch':
        out.ref = 'refs/heads/' + v;
        break;
      case 'subdir':
        out.subdir = v;
        break;
      case 'keep-git-dir':
        if (!['1', 'true', '0', 'false'].includes(v.toLowerCase())) return `invalid keep-git-dir value ${JSON.stringify(v)}`;
        out.keepGitDir = v === '1' || v.toLowerCase() === 'true';
        break;
      case 'checksum':
      case 'commit':
        out.checksum = v;
        break;
      case 'submodules':
        if (v === 'false' || v === '0') return 'submodules=false is not supported by tracebuild: submodules are always fetched';
        break;
      default:
        return `unknown git query parameter ${JSON.stringify(k)}`;
    }
  }
  u.hash = '';
  u.search = '';
  out.remote = u.toString();
  return out;
}
