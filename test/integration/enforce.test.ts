// build --enforce (issue #22): egress rules the kernel applies while the build runs, on the
// trojan-compiler scenario (testdata/trojan: a clean and a trojanized static compiler at
// /usr/local/bin/cc; the trojan connects to a TCP server this test runs on 127.0.0.1 and
// ignores the result) and on testdata/enforce/netprobe.c (one connect or unconnected
// sendto, its error ignored). Real dockerd, real BuildKit, real probe:
//   - under `egress: { allow: [] }` the trojan build fails at the compiler's RUN: its
//     connect is refused (the server sees nothing), the process is killed, the error names
//     the Dockerfile line, the rule and the address; the trace has the denied entry and the
//     rules; the clean compiler builds under the same rules;
//   - under `allow: ["127.0.0.1:PORT/tcp"]` a RUN reaching that port succeeds, also as
//     ::ffff:127.0.0.1 from an IPv6 socket; ::1 and a UDP sendto to that port are refused;
//   - a build without --enforce running at the same time is not affected;
//   - nothing is left behind (the cgroup parent, in every hierarchy);
//   - a sendmmsg whose second message the rule refuses: killed at that call, recorded;
//   - rules for selected steps (line, stage, instruction): only the selected RUNs are under
//     them; a selector that matches no RUN is refused before the build; a step whose rules
//     did not change stays CACHED when another step's rule changes;
//   - exec rules are not enforced yet: --enforce with one is refused before anything runs.
// On Docker 20.10 (BuildKit v0.8, no exec.meta.cgroup.parent) --enforce is refused, naming
// the daemon.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sha256Hex, tracebuild } from '../helpers/attest.js';
import { currentDaemon, dockerBuild, dockerCli, ensureCliBuilt, integrationGate, lastLines, removeImage, run, runId, testdataDir, uniqueTag } from '../helpers/index.js';

const gate = await integrationGate();
const daemon = currentDaemon();
const scenario = path.join(testdataDir, 'trojan');
const RUN_LINE = 4;

interface TraceNet {
  address: string;
  port: number;
  protocol: string;
  verdict?: string;
  deniedRule?: number;
}
interface TraceFile {
  buildSteps: { line: number; instruction: string; network: TraceNet[] }[];
  enforcement?: {
    policy: string;
    rulesDigest: string;
    cgroupParents: string[];
    egressRules: string[];
    rules: unknown[];
    steps: { line: number; stage: string | number; rules: string[]; cgroupParent?: string; onbuild?: true }[];
  };
}

/** A TCP server on 127.0.0.1 that counts who connected. */
async function countingServer(): Promise<{ server: net.Server; port: number; connections: () => number }> {
  let n = 0;
  const server = net.createServer((socket) => {
    n++;
    socket.resume();
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port, connections: () => n };
}

/** The cgroup parents build --enforce makes, in the unified hierarchy and the v1 ones. */
function enforceCgroups(): string[] {
  const found: string[] = [];
  for (const h of readdirSync('/sys/fs/cgroup')) {
    let entries: string[] = [];
    try {
      entries = readdirSync(path.join('/sys/fs/cgroup', h));
    } catch {
      continue;
    }
    for (const e of entries) if (e.startsWith('tracebuild-enforce-')) found.push(`${h}/${e}`);
  }
  return found;
}

describe.skipIf(gate.skip || daemon.id !== 'docker26')(`build --enforce (${daemon.name})`, () => {
  let work = '';
  let implant: Awaited<ReturnType<typeof countingServer>>;
  let mirror: Awaited<ReturnType<typeof countingServer>>;
  const sha = { clean: '', trojan: '' };
  const bases = { clean: `tracebuild-test/enforce-cc-clean:${runId}`, trojan: `tracebuild-test/enforce-cc-trojan:${runId}` };
  const policy = (name: string): string => path.join(work, `${name}.yaml`);

  async function buildBase(kind: 'clean' | 'trojan'): Promise<void> {
    const dir = path.join(work, `base-${kind}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'Dockerfile'), readFileSync(path.join(scenario, 'base', 'Dockerfile')));
    const defines = kind === 'trojan' ? ['-DTROJAN', `-DIMPLANT_PORT=${implant.port}`] : [];
    const cc = await run('gcc', ['-static', '-O2', ...defines, '-o', path.join(dir, 'cc'), path.join(scenario, 'cc.c')]);
    expect(cc.exitCode, `${cc.command}\n${cc.stderr}`).toBe(0);
    sha[kind] = sha256Hex(readFileSync(path.join(dir, 'cc')));
    const built = await dockerBuild(dir, { tag: bases[kind] });
    expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 30)}`).toBe(0);
  }

  function buildApp(kind: 'clean' | 'trojan', policyName: string, traceOut: string): ReturnType<typeof tracebuild> {
    return tracebuild([
      'build', '--network', 'host', '--progress', 'plain', '--no-cache', '--enforce', policy(policyName),
      '--build-arg', `BASE=${bases[kind]}`, '--trace-out', traceOut, path.join(scenario, 'app'),
    ]);
  }

  /** A context with netprobe and a Dockerfile of these RUN lines (line 3 is the first). */
  function netContext(name: string, runs: string[]): string {
    const dir = path.join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'netprobe'), readFileSync(path.join(work, 'netprobe')), { mode: 0o755 });
    writeFileSync(path.join(dir, 'Dockerfile'), ['FROM busybox:local', 'COPY netprobe /usr/local/bin/netprobe', ...runs.map((r) => `RUN ${r}`), ''].join('\n'));
    return dir;
  }

  function buildNet(dir: string, args: string[]): ReturnType<typeof tracebuild> {
    return tracebuild(['build', '--network', 'host', '--progress', 'plain', '--no-cache', '--trace-out', path.join(dir, 'trace.json'), ...args, dir]);
  }

  const traceOf = (file: string): TraceFile => JSON.parse(readFileSync(file, 'utf8')) as TraceFile;

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-enforce-'));
    implant = await countingServer();
    mirror = await countingServer();
    const probe = await run('gcc', ['-static', '-O2', '-o', path.join(work, 'netprobe'), path.join(testdataDir, 'enforce', 'netprobe.c')]);
    expect(probe.exitCode, `${probe.command}\n${probe.stderr}`).toBe(0);
    await buildBase('clean');
    await buildBase('trojan');
    writeFileSync(policy('no-egress'), 'enforce:\n  - name: no-egress\n    egress: { allow: [] }\n');
    writeFileSync(policy('only-mirror'), `enforce:\n  - name: only-mirror\n    egress: { allow: ["127.0.0.1:${mirror.port}/tcp"] }\n`);
  });

  afterAll(async () => {
    for (const s of [implant, mirror]) await new Promise<void>((resolve) => (s === undefined ? resolve() : s.server.close(() => resolve())));
    for (const tag of Object.values(bases)) await removeImage(tag);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('egress rule: the trojan compiler is refused and killed at its connect, and the step fails saying so', async () => {
    const out = path.join(work, 'trojan.json');
    const before = implant.connections();
    const r = await buildApp('trojan', 'no-egress', out);
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).not.toBe(0);
    expect(r.stderr, shown).toContain(
      `error: Dockerfile:${RUN_LINE}: enforce rule 'no-egress' of ${policy('no-egress')} denied a tcp connection or send to 127.0.0.1:${implant.port}; the process was killed and the step failed`,
    );
    expect(implant.connections(), 'the refused connect never reached the server').toBe(before);
    const trace = traceOf(out);
    const step = trace.buildSteps.find((s) => s.line === RUN_LINE);
    expect(step?.network).toContainEqual(expect.objectContaining({ address: '127.0.0.1', port: implant.port, protocol: 'tcp', verdict: 'denied', deniedRule: 0 }));
    expect(trace.enforcement).toMatchObject({ policy: policy('no-egress'), egressRules: ['no-egress'], rules: [{ name: 'no-egress', egress: { allow: [] } }] });
    // one parent (the rule applies to every step), named after the rules in force
    expect(trace.enforcement?.cgroupParents).toHaveLength(1);
    expect(trace.enforcement?.cgroupParents[0]).toMatch(/^\/tracebuild-enforce-[0-9a-f]{16}$/);
    expect(trace.enforcement?.steps).toContainEqual({ line: RUN_LINE, stage: expect.anything() as unknown, rules: ['no-egress'], cgroupParent: trace.enforcement?.cgroupParents[0] });
  });

  test('the clean compiler builds under the same rule', async () => {
    const out = path.join(work, 'clean.json');
    const r = await buildApp('clean', 'no-egress', out);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    const trace = traceOf(out);
    expect(trace.enforcement?.egressRules).toEqual(['no-egress']);
    // the RUN's cgroup is below the build's own parent, and still traced
    const step = trace.buildSteps.find((s) => s.line === RUN_LINE);
    expect(step?.instruction).toBe('RUN cc -o /out/app /src/main.c');
    expect(step?.network).toEqual([]);
  });

  test('an allowed 127.0.0.1 port is reached, also as ::ffff:127.0.0.1 from an IPv6 socket', async () => {
    const dir = netContext('allowed', [`netprobe tcp 127.0.0.1 ${mirror.port}`, `netprobe tcp ::ffff:127.0.0.1 ${mirror.port}`]);
    const before = mirror.connections();
    const r = await buildNet(dir, ['--enforce', policy('only-mirror')]);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
    expect(r.stdout + r.stderr).toContain(`netprobe tcp 127.0.0.1 ${mirror.port}: ok`);
    expect(r.stdout + r.stderr).toContain(`netprobe tcp ::ffff:127.0.0.1 ${mirror.port}: ok`);
    expect(mirror.connections() - before).toBe(2);
  });

  test('::1 is another address: refused under a rule that allows 127.0.0.1', async () => {
    const dir = netContext('v6-loopback', [`netprobe tcp ::1 ${mirror.port}`]);
    const r = await buildNet(dir, ['--enforce', policy('only-mirror')]);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).not.toBe(0);
    expect(r.stderr).toContain(`error: Dockerfile:3: enforce rule 'only-mirror' of ${policy('only-mirror')} denied a tcp connection or send to [::1]:${mirror.port}`);
  });

  test('a UDP sendto to a destination the rule does not allow (tcp only) is refused', async () => {
    const dir = netContext('udp', [`netprobe udp 127.0.0.1 ${mirror.port}`]);
    const r = await buildNet(dir, ['--enforce', policy('only-mirror')]);
    expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).not.toBe(0);
    expect(r.stderr).toContain(`error: Dockerfile:3: enforce rule 'only-mirror' of ${policy('only-mirror')} denied a udp connection or send to 127.0.0.1:${mirror.port}`);
    // killed at the sendto: the program never printed what the call returned
    expect(r.stdout + r.stderr).not.toMatch(new RegExp(`netprobe udp 127\\.0\\.0\\.1 ${mirror.port}: (ok|Operation not permitted)`));
    const trace = traceOf(path.join(dir, 'trace.json'));
    expect(trace.buildSteps.find((s) => s.line === 3)?.network).toContainEqual(expect.objectContaining({ protocol: 'udp', port: mirror.port, verdict: 'denied' }));
  });

  test('a refused action stops the build even when the step goes on: nothing is tagged', async () => {
    const dir = netContext('shell-goes-on', [`netprobe tcp 127.0.0.1 ${mirror.port}; echo the shell went on`, 'echo never-""reached']);
    const tag = uniqueTag('enforce-goes-on', 'tracebuild');
    try {
      const r = await buildNet(dir, ['--enforce', policy('no-egress'), '-t', tag]);
      const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
      expect(r.exitCode, shown).toBe(1);
      expect(r.stderr, shown).toContain(`error: Dockerfile:3: enforce rule 'no-egress' of ${policy('no-egress')} denied a tcp connection or send to 127.0.0.1:${mirror.port}`);
      expect(r.stderr, shown).toMatch(/the process was killed and the build stopped$/m);
      expect(r.stdout + r.stderr).not.toContain('never-reached');
      expect((await run(dockerCli, ['image', 'inspect', tag])).exitCode, 'no image is tagged').not.toBe(0);
    } finally {
      await removeImage(tag);
    }
  });

  test('a build without --enforce at the same time on the same daemon is not affected', async () => {
    const enforced = netContext('concurrent-enforced', [`sleep 3; netprobe tcp 127.0.0.1 ${mirror.port}`]);
    const free = netContext('concurrent-free', [`sleep 1; netprobe tcp 127.0.0.1 ${mirror.port}`]);
    const before = mirror.connections();
    const [a, b] = await Promise.all([buildNet(enforced, ['--enforce', policy('no-egress')]), buildNet(free, [])]);
    expect(a.exitCode, `${a.command}\n${lastLines(a.stdout + a.stderr, 40)}`).not.toBe(0);
    expect(a.stderr).toContain(`error: Dockerfile:3: enforce rule 'no-egress'`);
    expect(b.exitCode, `${b.command}\n${lastLines(b.stdout + b.stderr, 40)}`).toBe(0);
    expect(b.stdout + b.stderr).toContain(`netprobe tcp 127.0.0.1 ${mirror.port}: ok`);
    expect(mirror.connections() - before).toBe(1);
    expect(traceOf(path.join(free, 'trace.json')).enforcement).toBeUndefined();
  });

  test('a denied message of a sendmmsg (the second of two) kills the process and is recorded', async () => {
    const allowed = mirror.port;
    const refused = mirror.port === 65535 ? mirror.port - 1 : mirror.port + 1;
    writeFileSync(policy('udp-mirror'), `enforce:\n  - name: udp-mirror\n    egress: { allow: ["127.0.0.1:${allowed}/udp"] }\n`);
    const dir = netContext('mmsg', [`netprobe mmsg 127.0.0.1 ${allowed} 127.0.0.1 ${refused}`]);
    const r = await buildNet(dir, ['--enforce', policy('udp-mirror')]);
    const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
    expect(r.exitCode, shown).not.toBe(0);
    expect(r.stderr, shown).toContain(`error: Dockerfile:3: enforce rule 'udp-mirror' of ${policy('udp-mirror')} denied a udp connection or send to 127.0.0.1:${refused}`);
    // killed at the sendmmsg: the program never printed what the call returned
    expect(r.stdout + r.stderr, shown).not.toMatch(/netprobe mmsg .*: (\d+ sent|Operation not permitted)/);
    const step = traceOf(path.join(dir, 'trace.json')).buildSteps.find((s) => s.line === 3);
    expect(step?.network).toContainEqual(expect.objectContaining({ address: '127.0.0.1', protocol: 'udp', port: refused, verdict: 'denied', deniedRule: 0 }));
  });

  describe('rules for selected steps', () => {
    // line 3: RUN in stage 0 ("fetch"), line 5: RUN in stage 1 ("app")
    function stagedContext(name: string, fetch: string, app: string, base = 'busybox:local'): string {
      const dir = path.join(work, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(path.join(dir, 'netprobe'), readFileSync(path.join(work, 'netprobe')), { mode: 0o755 });
      writeFileSync(
        path.join(dir, 'Dockerfile'),
        [`FROM ${base} AS fetch`, 'COPY netprobe /usr/local/bin/netprobe', `RUN ${fetch}`, 'FROM fetch AS app', `RUN ${app}`, ''].join('\n'),
      );
      return dir;
    }
    const wideAndLine = (line: number): string =>
      `enforce:\n  - name: only-mirror\n    egress: { allow: ["127.0.0.1:${mirror.port}/tcp"] }\n  - name: none-at-${line}\n    egress: { allow: [] }\n    steps: { line: ${line} }\n`;

    test('a rule selecting one RUN by line: that RUN is refused (naming the line and the rule), the other RUN reaches the same destination', async () => {
      writeFileSync(policy('line5'), wideAndLine(5));
      writeFileSync(policy('line3'), wideAndLine(3));
      const probe = `netprobe tcp 127.0.0.1 ${mirror.port}`;
      // the selected RUN (line 5) is refused
      const refused = stagedContext('line-refused', `${probe} # fetch`, `${probe} # app`);
      const before = mirror.connections();
      const r = await buildNet(refused, ['--enforce', policy('line5')]);
      const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
      expect(r.exitCode, shown).not.toBe(0);
      expect(r.stderr, shown).toContain(`error: Dockerfile:5: enforce rule 'none-at-5' of ${policy('line5')} denied a tcp connection or send to 127.0.0.1:${mirror.port}`);
      expect(r.stdout + r.stderr, 'the unselected RUN of line 3 ran first and connected').toContain(`netprobe tcp 127.0.0.1 ${mirror.port}: ok`);
      expect(mirror.connections() - before).toBe(1);
      const trace = traceOf(path.join(refused, 'trace.json'));
      const [wide, both] = trace.enforcement?.cgroupParents ?? [];
      expect(trace.enforcement?.cgroupParents).toHaveLength(2);
      expect(wide).not.toBe(both);
      // each FROM too: the rules of its base image's ONBUILD RUNs, were there any
      expect(trace.enforcement?.steps).toEqual([
        { line: 1, stage: 'fetch', rules: ['only-mirror'], cgroupParent: wide, onbuild: true },
        { line: 3, stage: 'fetch', rules: ['only-mirror'], cgroupParent: wide },
        { line: 4, stage: 'app', rules: ['only-mirror'], cgroupParent: wide, onbuild: true },
        { line: 5, stage: 'app', rules: ['only-mirror', 'none-at-5'], cgroupParent: both },
      ]);
      expect(trace.buildSteps.find((s) => s.line === 5)?.network).toContainEqual(expect.objectContaining({ port: mirror.port, verdict: 'denied', deniedRule: 1 }));
      // another build: the same RUN at line 5 is not selected when the rule selects line 3 (which then fails)
      const other = stagedContext('line-other', 'true', `${probe} # app`);
      const r2 = await buildNet(other, ['--enforce', policy('line3')]);
      expect(r2.exitCode, `${r2.command}\n${lastLines(r2.stdout + r2.stderr, 40)}`).toBe(0);
      expect(r2.stdout + r2.stderr).toContain(`netprobe tcp 127.0.0.1 ${mirror.port}: ok`);
    });

    test('stage and instruction selectors', async () => {
      writeFileSync(
        policy('stage-app'),
        `enforce:\n  - name: app-offline\n    egress: { allow: [] }\n    steps: { stage: app, instruction: RUN }\n`,
      );
      const dir = stagedContext('stage', `netprobe tcp 127.0.0.1 ${mirror.port}`, `netprobe udp 127.0.0.1 ${mirror.port}`);
      const r = await buildNet(dir, ['--enforce', policy('stage-app')]);
      const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
      expect(r.exitCode, shown).not.toBe(0);
      expect(r.stdout + r.stderr, 'stage fetch is under no rule').toContain(`netprobe tcp 127.0.0.1 ${mirror.port}: ok`);
      expect(r.stderr, shown).toContain(`error: Dockerfile:5: enforce rule 'app-offline' of ${policy('stage-app')} denied a udp connection or send to 127.0.0.1:${mirror.port}`);
      const trace = traceOf(path.join(dir, 'trace.json'));
      expect(trace.enforcement?.steps).toEqual([
        { line: 1, stage: 'fetch', rules: [], onbuild: true },
        { line: 3, stage: 'fetch', rules: [] },
        { line: 4, stage: 'app', rules: ['app-offline'], cgroupParent: trace.enforcement?.cgroupParents[0], onbuild: true },
        { line: 5, stage: 'app', rules: ['app-offline'], cgroupParent: trace.enforcement?.cgroupParents[0] },
      ]);
    });

    test('a selector whose stage the target does not need: the build runs, and a warning names the rule that enforced nothing', async () => {
      writeFileSync(policy('stage-side'), `enforce:\n  - name: side-offline\n    egress: { allow: [] }\n    steps: { stage: side }\n`);
      const dir = path.join(work, 'target-skips');
      mkdirSync(dir, { recursive: true });
      // stage app does not build on stage side
      writeFileSync(path.join(dir, 'Dockerfile'), 'FROM busybox:local AS side\nRUN true\nFROM busybox:local AS app\nRUN true\n');
      const warning = `warning: ${policy('stage-side')}:4: enforce rule 'side-offline' selects no step this build ran (its stages are not among those --target app needs): it enforced nothing`;
      const r = await buildNet(dir, ['--enforce', policy('stage-side'), '--target', 'app']);
      expect(r.exitCode, `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`).toBe(0);
      expect(r.stderr).toContain(warning);
      expect(traceOf(path.join(dir, 'trace.json')).buildSteps.map((s) => s.line)).not.toContain(2);
      // the stage built: the rule is in force there, nothing to say
      const built = await buildNet(dir, ['--enforce', policy('stage-side'), '--target', 'side']);
      expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 40)}`).toBe(0);
      expect(built.stderr).not.toContain('enforced nothing');
      expect(traceOf(path.join(dir, 'trace.json')).enforcement?.steps).toContainEqual(expect.objectContaining({ line: 2, rules: ['side-offline'] }));
    });

    test("a base image's ONBUILD RUN is under the rules of the stage that builds on it (reported at the FROM line)", async () => {
      const base = path.join(work, 'onbuild-base');
      mkdirSync(base, { recursive: true });
      writeFileSync(path.join(base, 'netprobe'), readFileSync(path.join(work, 'netprobe')), { mode: 0o755 });
      writeFileSync(path.join(base, 'Dockerfile'), `FROM busybox:local\nCOPY netprobe /usr/local/bin/netprobe\nONBUILD RUN netprobe tcp 127.0.0.1 ${mirror.port}\n`);
      const tag = uniqueTag('enforce-onbuild', 'tracebuild');
      try {
        const built = await dockerBuild(base, { tag });
        expect(built.exitCode, `${built.command}\n${lastLines(built.stdout + built.stderr, 30)}`).toBe(0);
        writeFileSync(policy('onbuild'), `enforce:\n  - name: app-offline\n    egress: { allow: [] }\n    steps: { stage: app }\n`);
        const dir = path.join(work, 'onbuild-app');
        mkdirSync(dir, { recursive: true });
        writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${tag} AS app\nRUN true\n`);
        const r = await buildNet(dir, ['--enforce', policy('onbuild')]);
        const shown = `${r.command}\n${lastLines(r.stdout + r.stderr, 40)}`;
        expect(r.exitCode, shown).not.toBe(0);
        expect(r.stderr, shown).toContain(`error: Dockerfile:1: enforce rule 'app-offline' of ${policy('onbuild')} denied a tcp connection or send to 127.0.0.1:${mirror.port}`);
      } finally {
        await removeImage(tag);
      }
    });

    test('a selector that matches no step is refused before anything is built', async () => {
      writeFileSync(policy('typo'), `enforce:\n  - name: wide\n    egress: { allow: [] }\n  - name: typo\n    egress: { allow: [] }\n    steps: { stage: aap }\n`);
      const dir = stagedContext('typo', 'true', 'true');
      const r = await buildNet(dir, ['--enforce', policy('typo')]);
      expect(r.exitCode).toBe(1);
      expect(r.stderr).toContain(`${policy('typo')}:6: enforce rule 'typo': steps.stage "aap": the Dockerfile has no such stage; the build was not started`);
      expect(r.stderr).not.toContain('#1 ');
    });

    test("cache: changing only one step's rule keeps the other step CACHED", async () => {
      // FROM a base tag of its own, as in cache.test.ts: BuildKit merges a vertex into the same
      // vertex of a concurrent build, and after one of a --no-cache build (of busybox:local,
      // say) the steps built on it find no cache at all
      const base = `tracebuild-test/enforce-cache-base:${runId}`;
      const tagged = await run(dockerCli, ['tag', 'busybox:local', base]);
      expect(tagged.exitCode, tagged.stderr).toBe(0);
      try {
        const dir = stagedContext('cache', `echo fetch-step-${runId}`, `echo app-step-${runId}`, base);
        // the trace goes outside the context, which stays the same between the two builds
        const cached = (args: string[]): ReturnType<typeof tracebuild> =>
          tracebuild(['build', '--network', 'host', '--progress', 'plain', '--trace-out', path.join(work, 'cache-trace.json'), ...args, dir]);
        const at = (port: number): string =>
          `enforce:\n  - name: wide\n    egress: { allow: [] }\n  - name: app-mirror\n    egress: { allow: ["127.0.0.1:${port}/tcp"] }\n    steps: { line: 5 }\n`;
        writeFileSync(policy('cache-a'), at(mirror.port));
        writeFileSync(policy('cache-b'), at(implant.port));
        const first = await cached(['--enforce', policy('cache-a')]);
        expect(first.exitCode, `${first.command}\n${lastLines(first.stdout + first.stderr, 40)}`).toBe(0);
        const second = await cached(['--enforce', policy('cache-b')]);
        const out = second.stdout + second.stderr;
        expect(second.exitCode, `${second.command}\n${lastLines(out, 40)}`).toBe(0);
        // the progress vertex of each step ("#N [stage i/n] RUN echo ..."), then whether "#N CACHED" follows
        const isCached = (instruction: string): boolean => {
          const lines = out.split('\n');
          const vertex = lines.find((l) => /^#\d+ \[/.test(l) && l.endsWith(instruction))?.split(' ')[0];
          expect(vertex, `a progress vertex for ${instruction}`).toBeDefined();
          return lines.includes(`${vertex} CACHED`);
        };
        // the COPY has no cgroup parent: it is cached whatever the rules
        expect(isCached('COPY netprobe /usr/local/bin/netprobe'), lastLines(out, 40)).toBe(true);
        expect(isCached(`RUN echo fetch-step-${runId}`), lastLines(out, 40)).toBe(true);
        expect(isCached(`RUN echo app-step-${runId}`), lastLines(out, 40)).toBe(false);
      } finally {
        await removeImage(base);
      }
    });
  });

  test('nothing is left behind: no cgroup parent in any hierarchy', () => {
    expect(enforceCgroups()).toEqual([]);
  });

  test('exec rules are not enforced yet: --enforce with one is refused before anything is built', async () => {
    writeFileSync(policy('pinned'), `enforce:\n  - name: pinned-compiler\n    exec: { path: /usr/local/bin/cc, sha256: ["${sha.clean}"] }\n`);
    const r = await buildApp('trojan', 'pinned', path.join(work, 'pinned.json'));
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toContain(`${policy('pinned')}:2: enforce rule 'pinned-compiler': exec rules are not enforced yet (only egress); the build was not started`);
    expect(r.stderr).not.toContain('#1 ');
  });
});

describe.skipIf(gate.skip || daemon.id !== 'docker20')(`build --enforce (${daemon.name})`, () => {
  let work = '';
  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tracebuild-enforce-'));
  });
  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test("is refused: BuildKit v0.8 cannot put a RUN under a cgroup parent; the error names the daemon", async () => {
    writeFileSync(path.join(work, 'p.yaml'), 'enforce:\n  - name: no-egress\n    egress: { allow: [] }\n');
    writeFileSync(path.join(work, 'Dockerfile'), 'FROM busybox:local\nRUN true\n');
    const r = await tracebuild(['build', '--progress', 'plain', '--enforce', path.join(work, 'p.yaml'), work]);
    expect(r.exitCode, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/Dockerfile:2: --enforce needs a cgroup parent on execs \(LLB cap exec\.meta\.cgroup\.parent\); dockerd 20\.10\.\S+ BuildKit \(v0\.8\.\S*\) cannot run it/);
    expect(enforceCgroups()).toEqual([]);
  });
});
