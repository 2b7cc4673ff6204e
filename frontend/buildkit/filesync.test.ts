import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PacketType, sendContext, type Packet, type PacketStream } from './filesync.js';
import { resolveRoot } from './walk.js';
import type { ServedFile } from './types.js';

/** A scripted receiver: records what the sender sends, lets the test push packets. */
class FakeReceiver {
  readonly sent: Packet[] = [];
  private queue: Packet[] = [];
  private waiting: ((r: IteratorResult<Packet>) => void) | undefined;
  private ended = false;
  private listeners: (() => void)[] = [];

  stream(): PacketStream {
    return {
      send: async (p) => {
        this.sent.push(p);
        for (const l of this.listeners.splice(0)) l();
      },
      packets: { [Symbol.asyncIterator]: () => ({ next: () => this.next() }) },
    };
  }

  push(p: Packet): void {
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

  private next(): Promise<IteratorResult<Packet>> {
    const p = this.queue.shift();
    if (p) return Promise.resolve({ value: p, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => (this.waiting = r));
  }

  /** Resolves once the sender has sent a packet matching `pred`. */
  async until(pred: (p: Packet) => boolean): Promise<void> {
    while (!this.sent.some(pred)) await new Promise<void>((r) => this.listeners.push(r));
  }

  stats(): string[] {
    return this.sent.filter((p) => (p.type ?? 0) === PacketType.STAT && p.stat).map((p) => p.stat?.path ?? '');
  }

  dataFor(id: number): Buffer[] {
    return this.sent.filter((p) => p.type === PacketType.DATA && p.ID === id).map((p) => Buffer.from(p.data ?? []));
  }
}

let root: string;
beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'tracebuild-filesync-'));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const endOfStats = (p: Packet): boolean => (p.type ?? 0) === PacketType.STAT && !p.stat;

describe('DiffCopy sender', () => {
  it('sends STATs in walk order then an empty STAT, answers REQ with chunks and an empty DATA, FIN with FIN', async () => {
    mkdirSync(path.join(root, 'sub'));
    const big = Buffer.alloc(10_000, 7);
    writeFileSync(path.join(root, 'sub', 'big.bin'), big);
    writeFileSync(path.join(root, 'a.txt'), 'hello');
    symlinkSync('a.txt', path.join(root, 'link'));
    const rx = new FakeReceiver();
    const served: ServedFile[] = [];
    const done = sendContext(rx.stream(), { root: await resolveRoot(root), chunkSize: 4096, onFileServed: (f) => served.push(f) });

    await rx.until(endOfStats);
    expect(rx.stats()).toEqual(['a.txt', 'link', 'sub', 'sub/big.bin']);
    // IDs are STAT indexes: a.txt = 0, sub/big.bin = 3.
    rx.push({ type: PacketType.REQ, ID: 3 });
    rx.push({ type: PacketType.REQ, ID: 0 });
    await rx.until((p) => p.type === PacketType.DATA && p.ID === 3 && !p.data);
    await rx.until((p) => p.type === PacketType.DATA && p.ID === 0 && !p.data);
    rx.push({ type: PacketType.FIN });
    await done;

    const chunks = rx.dataFor(3);
    expect(chunks.map((c) => c.length)).toEqual([4096, 4096, 1808, 0]);
    expect(Buffer.concat(chunks)).toEqual(big);
    expect(Buffer.concat(rx.dataFor(0)).toString()).toBe('hello');
    expect(rx.sent.at(-1)).toEqual({ type: PacketType.FIN });
    expect(served.sort((x, y) => x.path.localeCompare(y.path))).toEqual([
      { path: 'a.txt', size: 5, sha256: createHash('sha256').update('hello').digest('hex') },
      { path: 'sub/big.bin', size: 10_000, sha256: createHash('sha256').update(big).digest('hex') },
    ]);
  });

  it('sends int64 fields as exact decimal strings', async () => {
    writeFileSync(path.join(root, 'f'), 'x');
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root) });
    await rx.until(endOfStats);
    rx.push({ type: PacketType.FIN });
    await done;
    const stat = rx.sent[0]?.stat;
    expect(stat?.size).toBe('1');
    expect(stat?.modTime).toMatch(/^\d{19}$/);
  });

  it('never serves data for symlinks, even when asked, so their targets stay unread', async () => {
    symlinkSync('/etc/passwd', path.join(root, 'evil'));
    symlinkSync('../..', path.join(root, 'evil2'));
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root) });
    await rx.until(endOfStats);
    expect(rx.sent.filter((p) => p.stat).map((p) => [p.stat?.path, p.stat?.linkname])).toEqual([
      ['evil', '/etc/passwd'],
      ['evil2', '../..'],
    ]);
    rx.push({ type: PacketType.REQ, ID: 0 });
    await expect(done).rejects.toThrow('invalid file id 0');
    expect(rx.sent.some((p) => p.type === PacketType.DATA)).toBe(false);
  });

  it('does not follow a symlink swapped in for a file after the walk', async () => {
    writeFileSync(path.join(root, 'f.txt'), 'original');
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root) });
    await rx.until(endOfStats);
    unlinkSync(path.join(root, 'f.txt'));
    symlinkSync('/etc/passwd', path.join(root, 'f.txt'));
    rx.push({ type: PacketType.REQ, ID: 0 });
    await rx.until((p) => p.type === PacketType.DATA);
    rx.push({ type: PacketType.FIN });
    await done;
    // Only the end-of-file marker: no byte of /etc/passwd.
    expect(rx.dataFor(0)).toEqual([Buffer.alloc(0)]);
  });

  it('does not read a different file moved in place after the walk', async () => {
    writeFileSync(path.join(root, 'f.txt'), 'original');
    writeFileSync(path.join(root, 'other.txt'), 'other');
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root), dockerignore: ['other.txt'] });
    await rx.until(endOfStats);
    // The walked inode stays alive under another name, so the new file has another inode.
    renameSync(path.join(root, 'f.txt'), path.join(root, 'moved.txt'));
    writeFileSync(path.join(root, 'f.txt'), 'replaced');
    rx.push({ type: PacketType.REQ, ID: 0 });
    await rx.until((p) => p.type === PacketType.DATA);
    rx.push({ type: PacketType.FIN });
    await done;
    expect(rx.dataFor(0)).toEqual([Buffer.alloc(0)]);
  });

  it('stops on ERR from the receiver with its message', async () => {
    writeFileSync(path.join(root, 'f.txt'), 'x');
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root) });
    rx.push({ type: PacketType.ERR, data: Buffer.from('disk full') });
    await expect(done).rejects.toThrow('error from receiver: disk full');
  });

  it('sends ERR when the walk fails (bad pattern)', async () => {
    writeFileSync(path.join(root, 'f.txt'), 'x');
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root), excludePatterns: ['[oops'] });
    await expect(done).rejects.toThrow(/syntax error in pattern/);
    expect(rx.sent.at(-1)?.type).toBe(PacketType.ERR);
    rx.end();
  });

  it('fails when the receiver goes away before FIN', async () => {
    const rx = new FakeReceiver();
    const done = sendContext(rx.stream(), { root: await resolveRoot(root) });
    await rx.until(endOfStats);
    rx.end();
    await expect(done).rejects.toThrow('ended before FIN');
  });
});
