import { describe, expect, it } from 'vitest';
import { RecordStore } from './correlate/records.js';

/** A record of `len` bytes whose content says which it is (no valid type: it comes back as an
 * `unknown` event carrying its bytes). */
function recordBytes(i: number, len: number): Buffer {
  const b = Buffer.alloc(len);
  for (let k = 0; k + 4 <= len; k += 4) b.writeUInt32LE((i * 2654435761 + k) >>> 0, k);
  b.writeUInt32LE(0xfffffff0, 0); // a type no decoder has
  return b;
}

describe('RecordStore', () => {
  it('gives back every record as pushed, in order, after several spills to its file (whose chunk buffers it fills again)', () => {
    // 2 MiB kept in memory, ~13 MiB pushed: the 1 MiB chunks go to the temporary file and are
    // reused for later records; a reused buffer written too early would corrupt the file
    const store = new RecordStore(2 << 20);
    const lens: number[] = [];
    const feed = Buffer.alloc(16 << 10);
    for (let i = 0; i < 6000; i++) {
      const len = 600 + ((i * 37) % 800) * 4;
      const rec = recordBytes(i, len);
      // at an offset in a bigger buffer, as records come from a chunk of the loader's output
      rec.copy(feed, 100);
      expect(store.addBytes(feed, 100, len)).toBe(i);
      lens.push(len);
    }
    const seen: number[] = [];
    const wrong: number[] = [];
    store.replay((index, ev) => {
      seen.push(index);
      const raw = ev.kind === 'unknown' ? ev.raw : undefined;
      const want = recordBytes(index, lens[index] ?? 0);
      if (raw === undefined || !want.equals(raw)) wrong.push(index);
    });
    store.close();
    expect(seen).toEqual(lens.map((_, i) => i));
    expect(wrong).toEqual([]);
  });
});
