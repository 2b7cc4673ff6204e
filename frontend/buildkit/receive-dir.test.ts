import { linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GoMode } from './filemode.js';
import { PacketType, sendContext, type Packet, type PacketStream } from './filesync.js';
import { receiveDirectory, safeRelativePath } from './receive-dir.js';
import { resolveRoot } from './walk.js';

/** One direction of an in-memory call: what one side sends, the other iterates. */
class Pipe {
  private queue: Packet[] = [];
  private waiting: ((r: IteratorResult<Packet>) => void) | undefined;
  private ended = false;
  send(p: Packet): void {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = undefined;
      w({ value: p, done: false });
    } else this.queue.push(p);
  }
  end(): void {
    this.ended = true;
    this.waiting?.({ value: undefined, done: true });
  }
  iterable(): AsyncIterable<Packet> {
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => {
          const p = this.queue.shift();
          if (p !== undefined) return Promise.resolve({ value: p, done: false });
          if (this.ended) return Promise.resolve({ value: undefined, done: true });
          return new Promise((r) => (this.waiting = r));
        },
      }),
    };
  }
}

/** Our sender and our receiver connected: the receiver's packets go to the sender, and back. */
function connect(): { sender: PacketStream; receiver: PacketStream; toReceiver: Pipe } {
  const toReceiver = new Pipe();
  const toSender = new Pipe();
  return {
    sender: { send: async (p) => toReceiver.send(p), packets: toSender.iterable() },
    receiver: { send: async (p) => toSender.send(p), packets: toReceiver.iterable() },
    toReceiver,
  };
}

let work = '';
beforeEach(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'tb-receive-'));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

describe('receiving a tree (the local exporter)', () => {
  it('writes what fsutil sends: files with modes and times, symlinks, hard links, nested directories', async () => {
    const src = path.join(work, 'src');
    mkdirSync(path.join(src, 'sub', 'deeper'), { recursive: true });
    writeFileSync(path.join(src, 'a.txt'), 'hello\n');
    chmodSync(path.join(src, 'a.txt'), 0o750);
    writeFileSync(path.join(src, 'sub', 'deeper', 'big.bin'), Buffer.alloc(700 * 1024, 7));
    writeFileSync(path.join(src, 'empty'), '');
    symlinkSync('a.txt', path.join(src, 'link'));
    linkSync(path.join(src, 'a.txt'), path.join(src, 'sub', 'hard'));
    utimesSync(path.join(src, 'a.txt'), new Date('2020-01-02T03:04:05Z'), new Date('2020-01-02T03:04:05Z'));

    const dest = path.join(work, 'dest');
    const { sender, receiver, toReceiver } = connect();
    const sending = sendContext(sender, { root: await resolveRoot(src), dockerignore: [], chunkSize: 64 * 1024 }).then(() => toReceiver.end());
    await Promise.all([sending, receiveDirectory(receiver, dest)]);

    expect(readdirSync(dest).sort()).toEqual(['a.txt', 'empty', 'link', 'sub']);
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('hello\n');
    expect(statSync(path.join(dest, 'a.txt')).mode & 0o7777).toBe(0o750);
    expect(statSync(path.join(dest, 'a.txt')).mtime.toISOString()).toBe('2020-01-02T03:04:05.000Z');
    expect(readFileSync(path.join(dest, 'sub', 'deeper', 'big.bin')).equals(Buffer.alloc(700 * 1024, 7))).toBe(true);
    expect(statSync(path.join(dest, 'empty')).size).toBe(0);
    expect(readlinkSync(path.join(dest, 'link'))).toBe('a.txt');
    expect(statSync(path.join(dest, 'sub', 'hard')).ino).toBe(statSync(path.join(dest, 'a.txt')).ino);
    // no temporary file is left behind
    expect(readdirSync(path.join(dest, 'sub')).sort()).toEqual(['deeper', 'hard']);
  });

  it('never writes outside the destination: unsafe paths, and paths through a symlink', async () => {
    expect(() => safeRelativePath('../x')).toThrow(/unsafe path/);
    expect(() => safeRelativePath('/etc/passwd')).toThrow(/unsafe path/);
    expect(() => safeRelativePath('a/../../x')).toThrow(/unsafe path/);
    expect(safeRelativePath('a/b')).toBe('a/b');

    const outside = path.join(work, 'outside');
    mkdirSync(outside);
    const dest = path.join(work, 'dest');
    const { receiver, toReceiver } = connect();
    toReceiver.send({ type: PacketType.STAT, stat: { path: 'l', mode: (GoMode.Symlink | 0o777) >>> 0, uid: 0, gid: 0, size: '0', modTime: '0', linkname: outside, devmajor: '0', devminor: '0' } });
    toReceiver.send({ type: PacketType.STAT, stat: { path: 'l/x', mode: 0o644, uid: 0, gid: 0, size: '1', modTime: '0', linkname: '', devmajor: '0', devminor: '0' } });
    toReceiver.end();
    await expect(receiveDirectory(receiver, dest)).rejects.toThrow(/cannot write l\/x: l is not a directory/);
    expect(readdirSync(outside)).toEqual([]);
    expect(lstatSync(path.join(dest, 'l')).isSymbolicLink()).toBe(true);
  });

  it('an ERR from the daemon fails the export; so does an end before every file came', async () => {
    const dest = path.join(work, 'dest');
    const first = connect();
    first.toReceiver.send({ type: PacketType.ERR, data: Buffer.from('disk full') });
    first.toReceiver.end();
    await expect(receiveDirectory(first.receiver, dest)).rejects.toThrow('error from the daemon: disk full');

    const second = connect();
    second.toReceiver.send({ type: PacketType.STAT, stat: { path: 'f', mode: 0o644, uid: 0, gid: 0, size: '1', modTime: '0', linkname: '', devmajor: '0', devminor: '0' } });
    second.toReceiver.end();
    await expect(receiveDirectory(second.receiver, dest)).rejects.toThrow('the export ended before the daemon sent every file');
  });
});
