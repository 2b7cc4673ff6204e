// The receiving side of fsutil's DiffCopy protocol, for the local exporter: the daemon
// sends the result's tree (STAT packets in walk order, parents first, then an empty STAT),
// we ask for each regular file's bytes with REQ{ID} (ID = the index of its STAT among all
// STATs), it answers DATA chunks and an empty DATA; when every file is written we send
// FIN, it answers FIN and ends the call. ERR from either side aborts.
//
// What the daemon sends is not trusted to stay inside the destination: paths must be
// relative and free of `..`; an entry's parent must be a directory this transfer made or a
// real directory already there (never a symlink, which could point outside); regular files
// are written to a temporary name and renamed into place, so an existing symlink at the
// path is replaced, never followed. Owners are not copied (the files belong to the user
// who ran the build, as with buildx); modes and modification times are.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { GO_MODE_TYPE, GoMode } from './filemode.js';
import { PacketType, type Packet, type PacketStream, type StatMsg } from './filesync.js';

/** Go os.FileMode permission bits plus setuid/setgid/sticky, as a Unix mode. */
function unixPerm(goMode: number): number {
  let mode = goMode & GoMode.Perm;
  if (goMode & GoMode.Setuid) mode |= 0o4000;
  if (goMode & GoMode.Setgid) mode |= 0o2000;
  if (goMode & GoMode.Sticky) mode |= 0o1000;
  return mode;
}

/** The entry's path, checked to stay inside the destination ('a/b', never '/a', '../a', 'a/../b'). */
export function safeRelativePath(p: string): string {
  const parts = p.split('/');
  if (p === '' || p.startsWith('/') || parts.some((s) => s === '' || s === '.' || s === '..') || p.includes('\0')) {
    throw new Error(`the daemon sent an unsafe path ${JSON.stringify(p)}`);
  }
  return p;
}

function mtime(stat: StatMsg): Date {
  const ns = BigInt(stat.modTime || '0');
  return new Date(Number(ns / 1_000_000n));
}

interface PendingFile {
  rel: string;
  stat: StatMsg;
  handle?: fsp.FileHandle;
  tmp?: string;
}

export async function receiveDirectory(stream: PacketStream, dest: string, signal?: AbortSignal): Promise<void> {
  const root = path.resolve(dest);
  await fsp.mkdir(root, { recursive: true, mode: 0o700 });
  const rootStat = await fsp.lstat(root);
  if (!rootStat.isDirectory()) throw new Error(`${dest} is not a directory`);

  /** Directories of this transfer (relative path -> stat), for parent checks and times. */
  const dirs = new Map<string, StatMsg>();
  /** Regular files of this transfer: announced (STAT seen), and written. Only these can
   * be hard-link targets. */
  const announced = new Set<string>();
  const files = new Set<string>();
  /** Hard links waiting for their target's bytes. */
  let links: { target: string; rel: string }[] = [];
  const pending = new Map<number, PendingFile>();
  let nextId = 0;
  let walkDone = false;
  let finSent = false;

  const abs = (rel: string): string => path.join(root, ...rel.split('/'));

  const checkParent = async (rel: string): Promise<void> => {
    const parent = path.posix.dirname(rel);
    if (parent === '.' || dirs.has(parent)) return;
    // Merged into an existing tree: every component must be a real directory.
    let cur = root;
    for (const part of parent.split('/')) {
      cur = path.join(cur, part);
      const st = await fsp.lstat(cur).catch(() => undefined);
      if (st === undefined || !st.isDirectory()) throw new Error(`cannot write ${rel}: ${path.relative(root, cur)} is not a directory`);
    }
  };

  /** Removes what is at `p` unless it is a directory (a directory in the way is an error). */
  const clear = async (p: string, rel: string): Promise<void> => {
    const st = await fsp.lstat(p).catch(() => undefined);
    if (st === undefined) return;
    if (st.isDirectory()) throw new Error(`cannot write ${rel}: a directory is in the way`);
    await fsp.unlink(p);
  };

  const hardlink = async (target: string, rel: string): Promise<void> => {
    const p = abs(rel);
    await clear(p, rel);
    await fsp.link(abs(target), p);
  };

  const onStat = async (wire: Partial<StatMsg>, id: number): Promise<void> => {
    // Decoded without defaults: a field at its zero value is absent.
    const stat: StatMsg = { path: '', mode: 0, uid: 0, gid: 0, size: '0', modTime: '0', linkname: '', devmajor: '0', devminor: '0', ...wire };
    const rel = safeRelativePath(stat.path);
    await checkParent(rel);
    const p = abs(rel);
    const type = (stat.mode & GO_MODE_TYPE) >>> 0;
    if (type === (GoMode.Dir >>> 0)) {
      const st = await fsp.lstat(p).catch(() => undefined);
      if (st !== undefined && !st.isDirectory()) await fsp.unlink(p);
      if (st === undefined || !st.isDirectory()) await fsp.mkdir(p, { mode: 0o700 });
      dirs.set(rel, stat);
      return;
    }
    if (type === GoMode.Symlink) {
      await clear(p, rel);
      await fsp.symlink(stat.linkname, p);
      await fsp.lutimes(p, mtime(stat), mtime(stat));
      return;
    }
    if (type !== 0) throw new Error(`cannot write ${rel}: device nodes, pipes and sockets are not exported to a directory`);
    if (stat.linkname !== '') {
      const target = safeRelativePath(stat.linkname);
      if (!announced.has(target)) throw new Error(`cannot write ${rel}: hard link to ${target}, which was not sent before it`);
      // The target's bytes may still be on their way: link once it is in place.
      if (files.has(target)) await hardlink(target, rel);
      else links.push({ target, rel });
      return;
    }
    announced.add(rel);
    pending.set(id, { rel, stat });
    await stream.send({ type: PacketType.REQ, ID: id });
  };

  const onData = async (id: number, data: Uint8Array | undefined): Promise<void> => {
    const file = pending.get(id);
    if (file === undefined) throw new Error(`the daemon sent data for file ${id}, which was not asked for`);
    const p = abs(file.rel);
    if (file.handle === undefined) {
      file.tmp = path.join(path.dirname(p), `.tracebuild-${randomBytes(6).toString('hex')}`);
      file.handle = await fsp.open(file.tmp, 'wx', 0o600);
    }
    if (data !== undefined && data.length > 0) {
      await file.handle.write(data);
      return;
    }
    // An empty DATA: the file is complete.
    pending.delete(id);
    await file.handle.chmod(unixPerm(file.stat.mode));
    await file.handle.utimes(mtime(file.stat), mtime(file.stat));
    await file.handle.close();
    file.handle = undefined;
    await clear(p, file.rel);
    await fsp.rename(file.tmp as string, p);
    files.add(file.rel);
    const ready = links.filter((l) => l.target === file.rel);
    links = links.filter((l) => l.target !== file.rel);
    for (const l of ready) await hardlink(l.target, l.rel);
  };

  const maybeFinish = async (): Promise<void> => {
    if (!walkDone || pending.size > 0 || finSent) return;
    finSent = true;
    // Directory modes and times last: writing their contents changed the times.
    for (const [rel, stat] of [...dirs].reverse()) {
      await fsp.chmod(abs(rel), unixPerm(stat.mode));
      await fsp.utimes(abs(rel), mtime(stat), mtime(stat));
    }
    await stream.send({ type: PacketType.FIN });
  };

  try {
    for await (const packet of stream.packets as AsyncIterable<Packet>) {
      if (signal?.aborted) throw new Error('export cancelled');
      switch (packet.type ?? PacketType.STAT) {
        case PacketType.STAT:
          if (packet.stat === undefined || packet.stat === null) {
            walkDone = true;
            await maybeFinish();
          } else {
            await onStat(packet.stat, nextId++);
          }
          break;
        case PacketType.DATA:
          await onData(packet.ID ?? 0, packet.data);
          await maybeFinish();
          break;
        case PacketType.ERR:
          throw new Error(`error from the daemon: ${Buffer.from(packet.data ?? []).toString('utf8')}`);
        case PacketType.FIN:
          if (!finSent) throw new Error('the daemon ended the export before sending every file');
          return;
        default:
          break;
      }
    }
    if (!finSent) throw new Error('the export ended before the daemon sent every file');
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    await stream.send({ type: PacketType.ERR, data: Buffer.from(message) }).catch(() => undefined);
    throw err;
  } finally {
    for (const file of pending.values()) {
      await file.handle?.close().catch(() => undefined);
      if (file.tmp !== undefined) await fsp.unlink(file.tmp).catch(() => undefined);
    }
  }
}
