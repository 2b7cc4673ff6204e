// fsutil's Stat.mode is a Go os.FileMode, not a Unix st_mode: the permission bits stay
// low, but the file type and setuid/setgid/sticky move to the high bits. The receiver
// (BuildKit) decides "directory", "symlink", "has data" from these bits, so they must be
// exactly Go's.

export const GoMode = {
  Dir: 0x80000000, // 1 << 31
  Append: 1 << 30,
  Exclusive: 1 << 29,
  Temporary: 1 << 28,
  Symlink: 1 << 27,
  Device: 1 << 26,
  NamedPipe: 1 << 25,
  Socket: 1 << 24,
  Setuid: 1 << 23,
  Setgid: 1 << 22,
  CharDevice: 1 << 21,
  Sticky: 1 << 20,
  Irregular: 1 << 19,
  Perm: 0o777,
} as const;

/** Go's os.ModeType: every bit that says "not a regular file". */
export const GO_MODE_TYPE =
  (GoMode.Dir | GoMode.Symlink | GoMode.NamedPipe | GoMode.Socket | GoMode.Device | GoMode.CharDevice | GoMode.Irregular) >>> 0;

const S_IFMT = 0o170000;
const S_IFSOCK = 0o140000;
const S_IFLNK = 0o120000;
const S_IFREG = 0o100000;
const S_IFBLK = 0o060000;
const S_IFDIR = 0o040000;
const S_IFCHR = 0o020000;
const S_IFIFO = 0o010000;
const S_ISUID = 0o4000;
const S_ISGID = 0o2000;
const S_ISVTX = 0o1000;

/** Unix st_mode -> Go os.FileMode (as Go's os.Lstat computes it on Linux), uint32. */
export function goFileMode(stMode: number): number {
  let mode = stMode & GoMode.Perm;
  switch (stMode & S_IFMT) {
    case S_IFBLK:
      mode |= GoMode.Device;
      break;
    case S_IFCHR:
      mode |= GoMode.Device | GoMode.CharDevice;
      break;
    case S_IFDIR:
      mode |= GoMode.Dir;
      break;
    case S_IFIFO:
      mode |= GoMode.NamedPipe;
      break;
    case S_IFLNK:
      mode |= GoMode.Symlink;
      break;
    case S_IFSOCK:
      mode |= GoMode.Socket;
      break;
    case S_IFREG:
    default:
      break;
  }
  if (stMode & S_ISUID) mode |= GoMode.Setuid;
  if (stMode & S_ISGID) mode |= GoMode.Setgid;
  if (stMode & S_ISVTX) mode |= GoMode.Sticky;
  return mode >>> 0;
}

/**
 * The mode fsutil sends: Go's mode without the socket bit (fsutil clears it because its
 * tar path cannot represent sockets, so a socket travels as an empty regular file).
 */
export function fsutilStatMode(stMode: number): number {
  return (goFileMode(stMode) & ~GoMode.Socket) >>> 0;
}

/** Whether the receiver may REQ data for an entry of this mode (regular files only). */
export function canRequestData(goMode: number): boolean {
  return ((goMode & GO_MODE_TYPE) >>> 0) === 0;
}

export function isDirMode(goMode: number): boolean {
  return ((goMode & GoMode.Dir) >>> 0) !== 0;
}

/** Linux major/minor of a dev_t, as fsutil computes them (old glibc encoding). */
export function devMajor(rdev: bigint): bigint {
  return (rdev >> 8n) & 0xfffn;
}

export function devMinor(rdev: bigint): bigint {
  return (rdev & 0xffn) | ((rdev >> 12n) & 0xfff00n);
}
