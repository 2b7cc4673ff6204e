import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { normalizeTrace } from '../model/index.js';
import { parseTraceQuery, TraceStore, type StoredBuild } from './store.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TRACE = normalizeTrace({
  monitor: { name: 'tracebuild-agent' },
  metadata: { buildStartedOn: null, buildFinishedOn: null },
  buildSteps: [],
  complete: true,
  monitorGaps: [],
  lostEvents: 0,
  losses: {
    ringbuf: { 'cgroup-mkdir': 0, 'cgroup-rmdir': 0, exec: 0, fork: 0, exit: 0, file: 0, net: 0 },
    pendingFull: 0, tracedFull: 0, scratchBusy: 0, digestSkipped: 0, signalFailed: 0, digestFailed: 0, output: 0, argsUnread: 0,
    netSuppressed: 0, undecodedRecords: 0, monitorGaps: 0, attributedToSteps: 0, unattributedToSteps: 0,
  },
  unattributedEvents: 0,
  unattributedCgroups: [],
  untracedCgroups: [],
  runcSetupEvents: 0,
  ambiguities: [],
});

const D = (c: string): string => `sha256:${c.repeat(64)}`;

function build(ref: string, owner: string, finishedOn: string, extra: Partial<StoredBuild> = {}): StoredBuild {
  return {
    ref,
    owner: { fingerprint: owner, name: `cn-${owner}` },
    startedOn: finishedOn,
    finishedOn,
    frontend: 'dockerfile.v0',
    located: 'dockerfile',
    exporter: 'moby',
    names: [],
    pushed: false,
    attestations: [],
    trace: TRACE,
    ...extra,
  };
}

describe('TraceStore', () => {
  it('finds a build by ref (or buildx builder/node/ref), image id or pushed digest, for whom may read it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-store-'));
    dirs.push(dir);
    const store = new TraceStore(dir, 10);
    await store.save(build('ref1', 'alice', '2026-01-01T00:00:01Z', { imageId: D('a'), pushedAs: [`127.0.0.1:5000/x@${D('b')}`] }));
    await store.save(build('ref2', 'bob', '2026-01-01T00:00:02Z', { imageId: D('a') }));
    const alice = (b: { owner: { fingerprint: string } }) => b.owner.fingerprint === 'alice';
    expect(store.find('ref1', alice)?.ref).toBe('ref1');
    expect(store.find('default/default/ref1', alice)?.ref).toBe('ref1');
    expect(store.find(`127.0.0.1:5000/x@${D('b')}`, alice)?.ref).toBe('ref1');
    // the same image id built twice: the newest this reader may read
    expect(store.find(D('a'), alice)?.ref).toBe('ref1');
    expect(store.find(D('a'), () => true)?.ref).toBe('ref2');
    expect(store.find('ref2', alice)).toBeUndefined();
    // only root reads the kept traces
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, 'builds', 'ref1.json')).mode & 0o777).toBe(0o600);
    // and they are read again at start
    expect(new TraceStore(dir, 10).find('ref2', () => true)?.trace.complete).toBe(true);
  });

  it('keeps the newest `keep` builds', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tb-store-'));
    dirs.push(dir);
    const store = new TraceStore(dir, 2);
    for (let i = 1; i <= 4; i++) await store.save(build(`r${i}`, 'a', `2026-01-01T00:00:0${i}Z`));
    expect(store.size).toBe(2);
    expect(readdirSync(path.join(dir, 'builds')).sort()).toEqual(['r3.json', 'r4.json']);
  });
});

describe('parseTraceQuery', () => {
  const d = `sha256:${'ab'.repeat(32)}`;
  it('reads an image id or manifest digest, bare or after a name', () => {
    expect(parseTraceQuery(d)).toEqual({ kind: 'digest', digest: d });
    expect(parseTraceQuery(` 127.0.0.1:5000/app@${d}\n`)).toEqual({ kind: 'digest', digest: d });
  });
  it('reads a build ref, bare or as buildx prints it', () => {
    expect(parseTraceQuery('k3x9q')).toEqual({ kind: 'ref', ref: 'k3x9q' });
    expect(parseTraceQuery('default/default/k3x9q')).toEqual({ kind: 'ref', ref: 'k3x9q' });
  });
});
