// The supervisor with a tiny worker: a node script that answers on a unix socket (the
// probe) and writes its pid, so that the test can crash it, hang it, or break it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuardError } from './guard-error.js';
import { superviseWorker } from './supervisor.js';

let dir = '';
const WORKER = `
const fs = require('node:fs');
const http = require('node:http');
const [sock, pidFile, mode] = process.argv.slice(2);
if (mode === 'broken') { console.error('cannot start'); process.exit(1); }
fs.rmSync(sock, { force: true });
http.createServer((req, res) => res.end('ok')).listen(sock, () => fs.appendFileSync(pidFile, process.pid + '\\n'));
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guard-supervisor-'));
  writeFileSync(join(dir, 'worker.cjs'), WORKER);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function probe(sock: string): () => Promise<void> {
  return () =>
    new Promise((resolve, reject) => {
      const req = request({ socketPath: sock, path: '/' }, (res) => {
        res.resume();
        resolve();
      });
      req.on('error', reject);
      req.end();
    });
}

const pids = (file: string): number[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean).map(Number) : []);

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function start(name: string, mode = 'ok') {
  const sock = join(dir, `${name}.sock`);
  const pidFile = join(dir, `${name}.pids`);
  const controller = new AbortController();
  const log: string[] = [];
  const done = superviseWorker({
    command: process.execPath,
    args: [join(dir, 'worker.cjs'), sock, pidFile, mode],
    env: process.env,
    probe: probe(sock),
    log: (line) => log.push(line),
    signal: controller.signal,
    probeIntervalMs: 50,
    probeTimeoutMs: 100,
    failuresBeforeKill: 3,
    startupGraceMs: 2_000,
  });
  return { pidFile, controller, log, done };
}

describe('the guard supervisor', { timeout: 20_000 }, () => {
  it('starts another worker at once when one crashes', async () => {
    const s = start('crash');
    await until('the first worker', () => pids(s.pidFile).length === 1);
    await new Promise((r) => setTimeout(r, 150)); // answered at least one probe
    process.kill(pids(s.pidFile)[0] as number, 'SIGKILL');
    await until('a second worker', () => pids(s.pidFile).length === 2);
    expect(s.log.join('\n')).toMatch(/ended \(signal SIGKILL\); starting another in 100 ms/);
    s.controller.abort();
    await s.done;
  });

  it('kills and replaces a worker that stops answering', async () => {
    const s = start('hang');
    await until('the first worker', () => pids(s.pidFile).length === 1);
    await new Promise((r) => setTimeout(r, 150));
    const first = pids(s.pidFile)[0] as number;
    process.kill(first, 'SIGSTOP');
    await until('a replacement', () => pids(s.pidFile).length === 2);
    expect(s.log.join('\n')).toContain(`guard worker (pid ${first}) did not answer 3 health probes in a row: killing it and starting another`);
    s.controller.abort();
    await s.done;
    expect(() => process.kill(first, 0), 'the hung worker is gone').toThrow();
  });

  it('gives up when the first worker cannot start at all, instead of looping', async () => {
    const s = start('broken', 'broken');
    await expect(s.done).rejects.toThrow(GuardError);
    await expect(s.done).rejects.toThrow(/the guard worker ended before it served anything \(exit code 1\)/);
  });

  it('stops its worker when asked to stop', async () => {
    const s = start('stop');
    await until('the worker', () => pids(s.pidFile).length === 1);
    s.controller.abort();
    await s.done;
    expect(() => process.kill(pids(s.pidFile)[0] as number, 0)).toThrow();
  });
});
