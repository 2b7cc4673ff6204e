// The probe (tracebuild-probe) killed or stopped in the middle of a traced build, with the
// real daemon, probe and registry. A trace must never claim completeness it does not have:
// - killed (SIGKILL): the build stops at once, nothing is tagged; with
//   --allow-incomplete-trace it finishes, and the signed trace says what it lacks, so that
//   `verify` refuses it by default and a no-lost-events policy fails it;
// - stopped (SIGSTOP): the execs it had stopped for hashing do not wait for ever; the
//   watchdog gives up on it, continues them, and the build fails the same way.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace } from '../../model/index.js';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { ensureCliBuilt, imageExists, integrationGate, lastLines, removeImage, repoRoot, runId, testdataDir, tracebuildCli } from '../helpers/index.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const REGISTRY = '127.0.0.1:5000';

// Every round runs a binary it has never run before (a fresh copy of busybox): the probe
// stops each one until its loader has hashed it, so at any moment one is likely waiting.
// (busybox runs the applet its file is named after.)
const DOCKERFILE = `FROM busybox:local
RUN i=0; while [ $i -lt 4000 ]; do cp /bin/busybox /tmp/true && /tmp/true && rm /tmp/true; i=$((i+1)); done
`;

interface Outcome {
  code: number | null;
  stderr: string;
  stdout: string;
  /** ms from the signal to the probe until the CLI exited. */
  afterSignalMs: number;
}

/** The loader the CLI started (its child process named tracebuild-probe). */
function probeChildOf(pid: number): number | undefined {
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8');
    } catch {
      continue;
    }
    for (const c of children.trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${c}/comm`, 'utf8').startsWith('tracebuild-prob')) return Number(c); // comm is cut at 15
      } catch {
        // gone
      }
    }
  }
  return undefined;
}

/** Runs `tracebuild build ARGS`, and once the RUN step has run for a while sends `signal` to its probe. */
function buildAndSignalProbe(args: readonly string[], signal: 'SIGKILL' | 'SIGSTOP', env: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tracebuildCli, 'build', '--progress', 'plain', '--network', 'host', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalledAt = 0;
    const killer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (signalledAt === 0 && /#\d+ \[2\/2\] RUN/.test(stderr)) {
        signalledAt = -1;
        // well into the loop: execs are being stopped and hashed
        setTimeout(() => {
          const probe = probeChildOf(child.pid as number);
          if (probe === undefined) {
            reject(new Error(`no tracebuild-probe child of ${child.pid}:\n${stderr}`));
            return;
          }
          process.kill(probe, signal);
          signalledAt = Date.now();
        }, 1500);
      }
    });
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, afterSignalMs: signalledAt > 0 ? Date.now() - signalledAt : -1 });
    });
  });
}

/** Tasks stopped by a signal (state T) in the daemon's RUN cgroups: none may be left behind. */
function stoppedBuildTasks(): number[] {
  const roots = ['/sys/fs/cgroup/unified/docker/buildkit', '/sys/fs/cgroup/docker/buildkit'].filter((p) => existsSync(p));
  const out: number[] = [];
  for (const root of roots) {
    for (const d of readdirSync(root, { withFileTypes: true })) {
      if (!d.isDirectory()) continue;
      let procs = '';
      try {
        procs = readFileSync(path.join(root, d.name, 'cgroup.procs'), 'utf8');
      } catch {
        continue;
      }
      for (const pid of procs.split('\n').filter(Boolean)) {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          if (stat.charAt(stat.lastIndexOf(')') + 2) === 'T') out.push(Number(pid));
        } catch {
          // gone
        }
      }
    }
  }
  return out;
}

describe.skipIf(gate.skip || noTracing !== undefined)('a probe that dies or stops in the middle of a traced build', () => {
  let work = '';
  const tags: string[] = [];
  const tag = (what: string): string => {
    const t = `${REGISTRY}/tracebuild-test/gaps-${what}-${runId}:v1`;
    tags.push(t);
    return t;
  };
  const shown = (o: { stderr: string }): string => lastLines(o.stderr, 25);

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-trace-gaps-'));
    writeFiles(path.join(work, 'ctx'), { Dockerfile: DOCKERFILE });
    const keygen = await tracebuild(['keygen', '--out', path.join(work, 'signer')]);
    expect(keygen.exitCode, keygen.stderr).toBe(0);
  });

  afterAll(async () => {
    for (const t of tags) await removeImage(t);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('killed: the build stops at once, nothing is tagged, the trace of the failed build says what is missing', async () => {
    const name = tag('killed');
    const out = path.join(work, 'killed.json');
    const r = await buildAndSignalProbe(['--no-cache', '-t', name, '--trace-out', out, path.join(work, 'ctx')], 'SIGKILL');
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr.trimEnd().split('\n').pop()).toMatch(
      /^error: the eBPF probe stopped watching the build at \S+ \(the probe loader exited \(signal SIGKILL\).*\); the build was stopped: its trace would be incomplete; pass --allow-incomplete-trace/,
    );
    expect(await imageExists(name)).toBe(false);
    const trace = JSON.parse(readFileSync(out, 'utf8')) as Trace;
    expect(trace.complete).toBe(false);
    expect(trace.monitorGaps).toHaveLength(1);
    expect(trace.monitorGaps[0]?.kind).toBe('loader-exited');
    expect(trace.lostEvents).toBeGreaterThanOrEqual(1);
    const run = trace.buildSteps.find((s) => s.keyword === 'RUN');
    expect(run?.monitorGaps).toHaveLength(1);
    expect(run?.lostEvents).toBeGreaterThanOrEqual(1);
    expect(stoppedBuildTasks()).toEqual([]);
  });

  test('killed, with --allow-incomplete-trace: pushed and signed, and every reader sees the gap', async () => {
    const name = tag('allowed');
    const r = await buildAndSignalProbe(
      ['--no-cache', '--allow-incomplete-trace', '-t', name, '--push', '--key', path.join(work, 'signer.key'), path.join(work, 'ctx')],
      'SIGKILL',
    );
    expect(r.code, shown(r)).toBe(0);
    expect(r.stderr).toMatch(/WARNING: the probe stopped watching at \S+ \(Dockerfile:2 ran unobserved, at least in part\)/);

    const pub = path.join(work, 'signer.pub');
    const refused = await tracebuild(['verify', name, '--key', pub]);
    expect(refused.exitCode, refused.stdout + refused.stderr).toBe(1);
    expect(refused.stderr).toMatch(/the runtime trace of .* is incomplete: the probe stopped watching the build at .*pass --allow-incomplete-trace to accept it/);

    const accepted = await tracebuild(['verify', name, '--key', pub, '--allow-incomplete-trace', '--json']);
    expect(accepted.exitCode, accepted.stderr).toBe(0);
    const report = JSON.parse(accepted.stdout) as { attestations: { statement?: { predicate: { complete?: boolean; monitorGaps?: unknown[]; lostEvents: number } } }[] };
    const predicate = report.attestations.map((a) => a.statement?.predicate).find((p) => p?.monitorGaps !== undefined);
    expect(predicate?.complete).toBe(false);
    expect(predicate?.monitorGaps).toHaveLength(1);
    expect(predicate?.lostEvents).toBeGreaterThanOrEqual(1);

    const policy = await tracebuild(['verify', name, '--key', pub, '--allow-incomplete-trace', '--policy', path.join(testdataDir, 'policies', 'no-lost-events.yaml')]);
    expect(policy.exitCode, policy.stdout + policy.stderr).toBe(1);
    expect(policy.stdout).toMatch(/VIOLATION\s+no-lost-events/);
    expect(policy.stdout).toContain('Dockerfile:2');
  });

  test('stopped (SIGSTOP): the stopped execs are continued after the watchdog limit, the build fails and says why', async () => {
    const name = tag('stopped');
    const out = path.join(work, 'stopped.json');
    const r = await buildAndSignalProbe(['--no-cache', '-t', name, '--trace-out', out, path.join(work, 'ctx')], 'SIGSTOP', {
      TRACEBUILD_PROBE_STALL_TIMEOUT_MS: '3000',
    });
    expect(r.code, shown(r)).toBe(1);
    expect(r.stderr.trimEnd().split('\n').pop()).toMatch(
      /^error: the eBPF probe stopped watching the build at \S+ \(the probe loader \(pid \d+\) stopped answering: no output and no answer to a ping for [\d.]+ s \(the limit is 3 s; stopped or wedged\), so it was killed.*\); the build was stopped/,
    );
    // the build did not wait for ever: the watchdog's limit, then the cancellation
    expect(r.afterSignalMs).toBeGreaterThanOrEqual(3000);
    expect(r.afterSignalMs).toBeLessThan(60_000);
    expect(await imageExists(name)).toBe(false);
    const trace = JSON.parse(readFileSync(out, 'utf8')) as Trace;
    expect(trace.monitorGaps.map((g) => g.kind)).toEqual(['loader-stalled']);
    expect(stoppedBuildTasks()).toEqual([]);
  });
});
