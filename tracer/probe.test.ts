// Supervision of the loader, with fake loaders (no root, no BPF needed).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AckEvent, EventType, ForkEvent, Header, LossEvent, ReadyEvent, ABI_VERSION, Loss } from './abi.js';
import { PROBE_BUILD_COMMAND, TracerError, TracerUnavailableError, startProbe, type MonitorGap } from './probe.js';

const dir = mkdtempSync(path.join(tmpdir(), 'tb-probe-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function script(name: string, body: string): string {
  const p = path.join(dir, name);
  writeFileSync(p, body);
  chmodSync(p, 0o755);
  return p;
}

// A fake loader in Node: READY, then ACKs; "stats" sends a LOSS record first; "stop" exits 0.
const fakeSource = `#!${process.execPath}
// --release-claims-of: as the loader does, print how many stopped execs it continued.
if (process.argv[2] === '--release-claims-of') { process.stdout.write('2\\n'); process.exit(0); }
const H = ${JSON.stringify(Header.fields)};
function rec(type, size, fill) {
  const b = Buffer.alloc(size);
  b.writeUInt32LE(type, H.type.offset);
  b.writeUInt32LE(size, H.size.offset);
  b.writeUInt32LE(process.pid, H.pid.offset);
  b.writeUInt32LE(process.pid, H.tgid.offset);
  fill(b);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(size);
  process.stdout.write(Buffer.concat([len, b]));
}
rec(${EventType.Ready}, ${ReadyEvent.size}, (b) => b.writeUInt32LE(${ABI_VERSION}, ${ReadyEvent.fields.abi_version.offset}));
let buf = '';
process.stdin.on('data', (d) => {
  buf += d;
  let nl;
  while ((nl = buf.indexOf('\\n')) >= 0) {
    const [seq, verb, arg] = buf.slice(0, nl).split(' ');
    buf = buf.slice(nl + 1);
    if (verb === 'stats') rec(${EventType.Loss}, ${LossEvent.size}, (b) => b.writeBigUInt64LE(3n, ${LossEvent.fields.counters.offset} + 8 * ${Loss.PendingFull}));
    rec(${EventType.Ack}, ${AckEvent.size}, (b) => {
      b.writeUInt32LE(Number(seq), ${AckEvent.fields.seq.offset});
      b.writeInt32LE(verb === 'remove' ? 2 : 0, ${AckEvent.fields.error.offset});
      b.writeBigUInt64LE(verb === 'addpath' ? 1234n : 0n, ${AckEvent.fields.value.offset});
    });
    if (verb === 'stop') process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
`;
const fake = script('fake-loader.mjs', fakeSource);
// The same, whose output loses its framing at "ping" (a length no loader writes).
const fakeCorrupt = script(
  'fake-loader-corrupt.mjs',
  fakeSource.replace("if (verb === 'stats')", "if (verb === 'ping') process.stdout.write(Buffer.from([255, 255, 255, 255]));\n    if (verb === 'stats')"),
);
// The same, whose output ends inside a record when it stops (a length, then 3 of 64 bytes).
const fakePartial = script(
  'fake-loader-partial.mjs',
  fakeSource.replace("if (verb === 'stop') process.exit(0);", "if (verb === 'stop') { process.stdout.write(Buffer.from([64, 0, 0, 0, 1, 2, 3])); process.exit(0); }"),
);

// The same, which writes three fork records before acknowledging "ping".
const fakeForks = script(
  'fake-loader-forks.mjs',
  fakeSource.replace(
    "if (verb === 'stats')",
    `if (verb === 'ping') for (let i = 0; i < 3; i++) rec(${EventType.Fork}, ${ForkEvent.size}, () => {});\n    if (verb === 'stats')`,
  ),
);

describe('startProbe', () => {
  it('names the build command when the probe is not built', async () => {
    const err = await startProbe({ loaderPath: path.join(dir, 'missing'), effectiveUid: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TracerUnavailableError);
    expect((err as TracerUnavailableError).code).toBe('probe-not-built');
    expect((err as Error).message).toContain(PROBE_BUILD_COMMAND);
  });

  it('refuses to start without root', async () => {
    const err = await startProbe({ loaderPath: fake, effectiveUid: 1000 }).catch((e: unknown) => e);
    expect((err as TracerUnavailableError).code).toBe('not-root');
    expect((err as Error).message).toMatch(/root/);
  });

  it('maps the loader exit codes to typed errors with its message', async () => {
    const notRoot = script('not-root.sh', '#!/bin/sh\necho "tracebuild-probe: must run as root" >&2\nexit 3\n');
    const e1 = await startProbe({ loaderPath: notRoot, effectiveUid: 0 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(TracerUnavailableError);
    expect((e1 as TracerUnavailableError).code).toBe('not-root');
    expect((e1 as Error).message).toContain('must run as root');

    const noBpf = script('no-bpf.sh', '#!/bin/sh\necho "tracebuild-probe: BPF unavailable: x" >&2\nexit 4\n');
    const e2 = await startProbe({ loaderPath: noBpf, effectiveUid: 0 }).catch((e: unknown) => e);
    expect((e2 as TracerUnavailableError).code).toBe('bpf-unavailable');

    const crash = script('crash.sh', '#!/bin/sh\nexit 9\n');
    const e3 = await startProbe({ loaderPath: crash, effectiveUid: 0 }).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(TracerError);
    expect((e3 as TracerError).code).toBe('loader-exited');
  });

  it('sends commands, surfaces losses and stops cleanly', async () => {
    const probe = await startProbe({ loaderPath: fake, effectiveUid: 0 });
    expect(probe.ready.abiVersion).toBe(ABI_VERSION);
    expect(await probe.addCgroupPath('/docker/buildkit/x')).toBe(1234n);
    await probe.addCgroup(5n);
    await probe.setGeneration(2);
    await expect(probe.removeCgroup(5n)).rejects.toMatchObject({ code: 'command-failed' });
    const losses = await probe.stats();
    expect(losses.pendingFull).toBe(3n);
    const exit = await probe.stop();
    expect(exit.code).toBe(0);
    expect(exit.error).toBeUndefined();
    expect(exit.losses.pendingFull).toBe(3n);
    expect(exit.decode.unknownType).toBe(0);
    await expect(probe.ping()).rejects.toMatchObject({ code: 'stopped' });
  });

  it('fails the commands waiting for an acknowledgement when the output loses its framing', async () => {
    const probe = await startProbe({ loaderPath: fakeCorrupt, effectiveUid: 0 });
    await expect(probe.addCgroup(5n)).resolves.toBeUndefined();
    await expect(probe.ping()).rejects.toMatchObject({ code: 'stream-corrupt' });
    await expect(probe.stats()).rejects.toMatchObject({ code: 'stream-corrupt' });
    const exit = await probe.stop();
    expect(exit.error).toMatchObject({ code: 'stream-corrupt' });
    expect(exit.losses.output).toBe(1n);
    expect(exit.decode).toMatchObject({ malformed: 1 });
  });

  it('keeps working when a record consumer throws, stops delivering and counts what it missed', async () => {
    const seen: number[] = [];
    const probe = await startProbe({
      loaderPath: fakeForks,
      effectiveUid: 0,
      onRecord: (buf, base) => {
        const type = buf.readUInt32LE(base);
        if (type === EventType.Fork && seen.filter((t) => t === EventType.Fork).length === 1) throw new Error('a bug in the consumer');
        seen.push(type);
      },
    });
    await probe.ping(); // the acknowledgement still comes, after the failure
    await probe.ping();
    const exit = await probe.stop();
    // one fork delivered; the second threw; nothing after it reached the consumer
    expect(seen.filter((t) => t === EventType.Fork)).toHaveLength(1);
    expect(seen).not.toContain(EventType.Ack);
    expect(exit.error).toMatchObject({ code: 'consumer-failed' });
    expect(exit.error?.message).toContain('a bug in the consumer');
    // 2 + 3 fork records not delivered; acknowledgements are not counted
    expect(exit.error?.message).toContain('5 records were not delivered');
    expect(exit.losses.output).toBe(5n);
  });

  it('says so, and counts a lost record, when the output ends inside a record', async () => {
    const probe = await startProbe({ loaderPath: fakePartial, effectiveUid: 0 });
    const exit = await probe.stop();
    expect(exit.code).toBe(0);
    expect(exit.error).toMatchObject({ code: 'stream-corrupt' });
    expect(exit.error?.message).toContain('ended inside a record (7 bytes)');
    expect(exit.losses.output).toBe(1n);
  });

  it('reports a gap when the loader dies, and has the execs it stopped released', async () => {
    const gaps: MonitorGap[] = [];
    const probe = await startProbe({ loaderPath: fake, effectiveUid: 0, onGap: (g) => gaps.push(g) });
    await probe.ping();
    const before = Date.now();
    process.kill(probe.pid as number, 'SIGKILL');
    const exit = await probe.exited;
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.error).toMatchObject({ code: 'loader-exited' });
    expect(gaps).toHaveLength(1);
    expect(exit.gap).toBe(gaps[0]);
    expect(exit.gap).toMatchObject({ kind: 'loader-exited' });
    // it starts at the last output read, not at the death: what came after may be lost
    expect(exit.gap?.fromMs).toBeLessThanOrEqual(before);
    // `--release-claims-of <pid>` ran and continued 2 execs
    expect(exit.gap?.reason).toContain('signal SIGKILL');
    expect(exit.gap?.reason).toContain('2 exec(s) it had stopped were continued without a digest');
  });

  it('gives up on a loader that stops answering: releases its execs, kills it, reports the gap', async () => {
    const gaps: MonitorGap[] = [];
    const probe = await startProbe({ loaderPath: fake, effectiveUid: 0, stallTimeoutMs: 1000, onGap: (g) => gaps.push(g) });
    await probe.ping();
    process.kill(probe.pid as number, 'SIGSTOP');
    const stoppedAt = Date.now();
    const exit = await probe.exited;
    const waited = Date.now() - stoppedAt;
    expect(waited).toBeGreaterThanOrEqual(1000);
    expect(exit.signal).toBe('SIGKILL');
    expect(exit.error).toMatchObject({ code: 'loader-stalled' });
    expect(gaps).toEqual([exit.gap]);
    expect(exit.gap?.kind).toBe('loader-stalled');
    expect(exit.gap?.reason).toMatch(/stopped answering: no output and no answer to a ping for \d+\.\d s \(the limit is 1 s; stopped or wedged\), so it was killed; 2 exec\(s\) it had stopped were continued/);
  });

  it('reports no gap for a loader that is slow but answers, nor for a clean stop', async () => {
    const gaps: MonitorGap[] = [];
    const probe = await startProbe({ loaderPath: fake, effectiveUid: 0, stallTimeoutMs: 1000, onGap: (g) => gaps.push(g) });
    // paused for less than the limit: the pings are answered when it continues
    process.kill(probe.pid as number, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 600));
    process.kill(probe.pid as number, 'SIGCONT');
    await new Promise((r) => setTimeout(r, 2500));
    const exit = await probe.stop();
    expect(exit.error).toBeUndefined();
    expect(exit.gap).toBeUndefined();
    expect(gaps).toEqual([]);
  });
});
