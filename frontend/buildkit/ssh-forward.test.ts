// The agent protocol's framing, as the read-only relay reads it both ways.
import { describe, expect, it } from 'vitest';
import { AgentFrames } from './ssh-forward.js';

const frame = (type: number, body: number[] = []): Buffer => {
  const b = Buffer.alloc(5 + body.length);
  b.writeUInt32BE(1 + body.length, 0);
  b[4] = type;
  Buffer.from(body).copy(b, 5);
  return b;
};

describe('AgentFrames', () => {
  it('cuts a stream into whole messages, whatever the chunks', () => {
    const stream = Buffer.concat([frame(11), frame(13, [1, 2, 3])]);
    const f = new AgentFrames();
    const out = [...f.push(stream.subarray(0, 3)), ...f.push(stream.subarray(3, 7)), ...f.push(stream.subarray(7))];
    expect(out.map((b) => [...b])).toEqual([[...frame(11)], [...frame(13, [1, 2, 3])]]);
  });

  it('refuses an empty or oversized message', () => {
    expect(() => new AgentFrames().push(Buffer.from([0, 0, 0, 0]))).toThrow('agent message of 0 bytes');
    expect(() => new AgentFrames().push(Buffer.from([0, 0x10, 0, 0, 11]))).toThrow('agent message of 1048576 bytes');
  });
});
