// --progress rawjson against buildx's own (Docker 26's buildx 0.13): the same Dockerfile built
// by both, each stderr read as a stream of JSON objects, and what a tool parsing buildx's raw
// progress relies on compared: the object kinds and their field names, the time format,
// the RUN's vertex and its output in base64. The values differ (digests, times), the form
// must not.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tracebuild, writeFiles } from '../helpers/attest.js';
import { currentDaemon, ensureCliBuilt, integrationGate, lastLines, run, runId } from '../helpers/index.js';
import { jsonValues } from '../helpers/json-stream.js';

const gate = await integrationGate();
const daemon = currentDaemon();

type Obj = Record<string, unknown>;
interface Status {
  vertexes?: Obj[];
  statuses?: Obj[];
  logs?: Obj[];
  warnings?: Obj[];
}

/** The status objects of a stderr (anything else in it fails the test, naming it). */
function statuses(stderr: string, who: string): Status[] {
  return jsonValues(stderr, who) as Status[];
}

/** The field names used, by kind of object. */
function fieldsByKind(all: Status[]): Record<string, string[]> {
  const out: Record<string, Set<string>> = { top: new Set(), vertexes: new Set(), statuses: new Set(), logs: new Set() };
  for (const s of all) {
    for (const k of Object.keys(s)) out.top?.add(k);
    for (const kind of ['vertexes', 'statuses', 'logs'] as const) for (const o of s[kind] ?? []) for (const k of Object.keys(o)) out[kind]?.add(k);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, [...v].sort()]));
}

/** What the RUN printed, from the logs of the vertex named after it. */
function runOutput(all: Status[], marker: string): string {
  const vertex = all.flatMap((s) => s.vertexes ?? []).find((v) => typeof v.name === 'string' && v.name.includes(`RUN echo ${marker}`));
  if (vertex === undefined) return '';
  return all
    .flatMap((s) => s.logs ?? [])
    .filter((l) => l.vertex === vertex.digest)
    .map((l) => Buffer.from(String(l.data), 'base64').toString())
    .join('');
}

const GO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;

describe.skipIf(gate.skip || daemon.id !== 'docker26')(`--progress rawjson (${daemon.name})`, () => {
  let work = '';
  const marker = `rawjson-${runId}`;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-rawjson-'));
    writeFiles(work, { Dockerfile: `FROM busybox:local\nRUN echo ${marker} && echo "<&>" \n` });
  });

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("the form buildx writes: the same kinds of objects, field names, times and base64 logs; buildx's fields a superset of ours", async () => {
    const { oracle, dockerHost } = daemon;
    const buildx = await run(oracle.command, [...oracle.args, '--progress', 'rawjson', '--no-cache', '--network', 'host', work], {
      env: { ...oracle.env, DOCKER_HOST: dockerHost },
      timeoutMs: 180_000,
    });
    expect(buildx.exitCode, `${buildx.command}\n${lastLines(buildx.stderr, 30)}`).toBe(0);
    const ours = await tracebuild(['build', '--progress', 'rawjson', '--no-cache', '--network', 'host', work], { timeoutMs: 180_000 });
    expect(ours.exitCode, `${ours.command}\n${lastLines(ours.stderr, 30)}`).toBe(0);

    const theirs = statuses(buildx.stderr, 'buildx');
    const mine = statuses(ours.stderr, 'tracebuild');
    expect(runOutput(theirs, marker), 'buildx printed the RUN output').toBe(`${marker}\n<&>\n`);
    expect(runOutput(mine, marker)).toBe(`${marker}\n<&>\n`);

    const theirFields = fieldsByKind(theirs);
    const myFields = fieldsByKind(mine);
    // no field of ours that buildx does not write (which optional ones appear depends on the
    // build's own vertices: a transfer's total, a cached step), and the ones a parser needs
    for (const kind of ['top', 'vertexes', 'statuses', 'logs']) {
      expect(theirFields[kind], `buildx's ${kind} fields hold ours`).toEqual(expect.arrayContaining(myFields[kind] ?? []));
    }
    const needed = { top: ['logs', 'statuses', 'vertexes'], vertexes: ['completed', 'digest', 'inputs', 'name', 'started'], statuses: ['current', 'id', 'timestamp', 'vertex'], logs: ['data', 'stream', 'timestamp', 'vertex'] };
    for (const [kind, fields] of Object.entries(needed)) {
      expect(theirFields[kind], `buildx writes ${kind}: ${fields.join(', ')}`).toEqual(expect.arrayContaining(fields));
      expect(myFields[kind], `we write ${kind}: ${fields.join(', ')}`).toEqual(expect.arrayContaining(fields));
    }
    const times = (all: Status[]): unknown[] =>
      all.flatMap((s) => [...(s.vertexes ?? []), ...(s.statuses ?? []), ...(s.logs ?? [])]).flatMap((o) => [o.started, o.completed, o.timestamp].filter((t) => t !== undefined));
    for (const t of [...times(theirs), ...times(mine)]) expect(t).toMatch(GO_TIME);
    // Go's encoder escapes <, > and & in strings: so do we (the RUN's name carries them)
    expect(buildx.stderr).toContain('\\u003c\\u0026\\u003e');
    expect(ours.stderr).toContain('\\u003c\\u0026\\u003e');
    // and the layout: each object's first lines as buildx indents them
    expect(ours.stderr.split('\n').slice(0, 3)).toEqual(buildx.stderr.split('\n').slice(0, 3));
  });
});
