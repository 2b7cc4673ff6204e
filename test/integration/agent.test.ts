// The tracebuild agent (issue 21) in front of Docker 26 on 127.0.0.1, with an openssl PKI:
// clients reach the daemon only through it, over TCP with mutual TLS.
//
//   - a tracebuild client gets the per-instruction trace a local build of the same
//     Dockerfile gets, without loading a probe of its own; it signs, pushes and attaches it,
//     and the agent attaches the builder's signed trace beside it
//   - two clients building at once each get only their own build's steps; neither may
//     read the other's kept trace
//   - a client whose certificate another CA signed is refused
//   - an agent without its probe: a client's build fails before it starts, unless --no-trace
//   - the agent killed mid-build: the client fails, saying so, and pushes no image and no
//     attestation; the trace it writes says it is incomplete
//   - a plain `docker buildx build` (buildx 0.13) through the agent is traced per
//     instruction, kept, readable with agent-trace, signed by the builder, and attached
//     to the image buildx pushes
//   - an agent in front of a buildkitd socket (a stand-in: Docker 26's BuildKit served as
//     plain gRPC, since no buildkitd can be installed here), its client on BUILDKIT_HOST
//
// Docker 26 only (scripts/test.sh leaves it out of the Docker 20.10 run): buildx 0.13 is
// Docker 26's client, and the agent's default cgroup prefix is Docker 26's.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Trace, TraceBuildStep } from '../../model/index.js';
import { startAgent, type AgentProcess } from '../helpers/agent-process.js';
import { startBuildkitdStandIn } from '../helpers/buildkitd-stand-in.js';
import { fetchManifest, tracebuild, writeFiles } from '../helpers/attest.js';
import { dockerCli, ensureCliBuilt, integrationGate, lastLines, run, runId, testDaemons, tracebuildCli } from '../helpers/index.js';
import { makeTestPki, type TestPki } from '../helpers/tls-certs.js';
import { tracingUnavailable } from '../helpers/trace-actions.js';

const gate = await integrationGate();
const noTracing = gate.skip ? undefined : tracingUnavailable();
const DOCKER26 = testDaemons().find((d) => d.id === 'docker26')!;
const REGISTRY = '127.0.0.1:5000';
const PASSWORD = 'agent-test';

/** A Dockerfile whose commands carry `token`, so that a trace shows whose they are. */
const dockerfileFor = (token: string, extraRun = ''): string =>
  [
    'FROM busybox:local',
    `RUN echo ${token} > /${token}.txt`,
    'WORKDIR /w',
    `RUN cat /${token}.txt && ls /w${extraRun}`,
    '',
  ].join('\n');

/** What a trace says each instruction did: its place, its programs and the files it made. */
const shape = (t: Trace) =>
  t.buildSteps.map((s) => ({
    keyword: s.keyword,
    line: s.line,
    endLine: s.endLine,
    argv: s.processes.filter((p) => p.execed).map((p) => p.argv.join(' ')).sort(),
    created: [...s.files.created].sort(),
  }));

const everyArgv = (t: Trace): string => t.buildSteps.flatMap((s: TraceBuildStep) => s.processes.map((p) => p.argv.join(' '))).join('\n');
const readTrace = (file: string): Trace => JSON.parse(readFileSync(file, 'utf8')) as Trace;

describe.skipIf(gate.skip || noTracing !== undefined)('the tracebuild agent in front of Docker 26', () => {
  let work: string;
  let pki: TestPki;
  let agent: AgentProcess;
  let builderKeyId: string;
  let clientKeyId: string;
  const images: string[] = [];
  const local = { DOCKER_HOST: DOCKER26.dockerHost, DOCKER_TLS_VERIFY: undefined, DOCKER_CERT_PATH: undefined };
  const docker = (...args: string[]) => run(dockerCli, args, { env: local, timeoutMs: 60_000 });
  const imageIdOf = async (tag: string): Promise<string> => (await docker('image', 'inspect', '--format', '{{.Id}}', tag)).stdout.trim();
  const tag = (what: string): string => {
    const t = `tracebuild-test/agent-${what}:${runId}`;
    images.push(t);
    return t;
  };
  const keygen = async (name: string): Promise<string> => {
    const r = await tracebuild(['keygen', '--out', path.join(work, name)], { env: { TRACEBUILD_KEY_PASSWORD: PASSWORD } });
    expect(r.exitCode, r.stderr).toBe(0);
    return r.stdout.trim().split('\n').pop() as string;
  };
  /** `tracebuild build` through the agent as `client`; the client must not load a probe. */
  const buildThrough = (a: AgentProcess, client: string, args: readonly string[]) =>
    tracebuild(['build', '--no-cache', '--network', 'host', '--progress', 'plain', ...args], {
      env: { ...a.clientEnv(client), TRACEBUILD_PROBE: '/nonexistent/tracebuild-probe', TRACEBUILD_KEY_PASSWORD: PASSWORD },
      timeoutMs: 240_000,
    });
  const agentTrace = (client: string, query: string, json = true) =>
    tracebuild(['agent-trace', query, ...(json ? ['--json'] : [])], { env: agent.clientEnv(client), timeoutMs: 60_000 });

  beforeAll(async () => {
    await ensureCliBuilt();
    work = mkdtempSync(path.join(tmpdir(), 'tb-agent-'));
    pki = makeTestPki(path.join(work, 'pki'));
    builderKeyId = await keygen('builder');
    clientKeyId = await keygen('client');
    agent = await startAgent({
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      clientCaFile: pki.caCert,
      upstream: DOCKER26.dockerHost,
      stateDir: path.join(work, 'state'),
      extraArgs: ['--key', path.join(work, 'builder.key'), '--builder-id', 'https://builders.test/agent-test'],
      env: { TRACEBUILD_KEY_PASSWORD: PASSWORD },
    });
  });

  afterAll(async () => {
    await agent?.stop();
    for (const t of images) await docker('rmi', '--force', t);
    if (work) rmSync(work, { recursive: true, force: true });
  });

  test('a tracebuild client gets the trace a local build gets, signs, pushes and attaches it; the builder attaches its own', async () => {
    const token = `same${runId.replace(/-/g, '')}`;
    const ctx = path.join(work, 'same');
    writeFiles(ctx, { Dockerfile: dockerfileFor(token) });
    const localOut = path.join(work, 'same-local.json');
    const lr = await tracebuild(['build', '--no-cache', '--network', 'host', '-t', tag('same-local'), '--trace-out', localOut, ctx], { env: local, timeoutMs: 240_000 });
    expect(lr.exitCode, lastLines(lr.stderr, 30)).toBe(0);

    const pushed = `${REGISTRY}/tracebuild-test/agent-same-${runId}:1`;
    const remoteOut = path.join(work, 'same-remote.json');
    const r = await buildThrough(agent, pki.client('alice'), ['-t', pushed, '--push', '--key', path.join(work, 'client.key'), '--trace-out', remoteOut, ctx]);
    expect(r.exitCode, lastLines(r.stderr, 40)).toBe(0);
    images.push(pushed);

    const remote = readTrace(remoteOut);
    expect(remote.complete).toBe(true);
    expect(remote.monitor).toMatchObject({ agent: { address: agent.clientEnv('').DOCKER_HOST, builderId: 'https://builders.test/agent-test' } });
    expect(shape(remote)).toEqual(shape(readTrace(localOut)));
    expect(shape(remote).find((s) => s.line === 2)?.created).toEqual([`/${token}.txt`]);

    // The client's attestations and the builder's runtime trace, each verified by its own key.
    const v = await tracebuild(['verify', pushed, '--key', path.join(work, 'client.pub'), '--key', path.join(work, 'builder.pub'), '--json']);
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
    const verified = JSON.stringify(JSON.parse(v.stdout));
    expect(verified).toContain(builderKeyId);
    expect(verified).toContain(clientKeyId);
    const text = await tracebuild(['verify', pushed, '--key', path.join(work, 'client.pub'), '--key', path.join(work, 'builder.pub')]);
    const okLines = text.stdout.split('\n').filter((l) => /^\s+OK\s/.test(l));
    expect(okLines.filter((l) => l.includes('runtime-trace') && l.includes(builderKeyId))).toHaveLength(1);
    expect(okLines.filter((l) => l.includes('runtime-trace') && l.includes(clientKeyId))).toHaveLength(1);
    expect(okLines.filter((l) => l.includes('provenance') && l.includes(clientKeyId))).toHaveLength(1);
  });

  test('two clients building at once each get only their own steps, and read only their own kept trace', async () => {
    const tokens = { alice: `alice${runId.replace(/-/g, '')}`, bob: `bob${runId.replace(/-/g, '')}` };
    const runs = await Promise.all(
      (['alice', 'bob'] as const).map(async (who) => {
        const ctx = path.join(work, who);
        // the sleep makes the two RUNs overlap
        writeFiles(ctx, { Dockerfile: dockerfileFor(tokens[who], ' && sleep 2') });
        const out = path.join(work, `${who}.json`);
        const t = tag(who);
        const r = await buildThrough(agent, pki.client(who), ['-t', t, '--trace-out', out, ctx]);
        return { who, r, out, t };
      }),
    );
    for (const { who, r, out } of runs) {
      expect(r.exitCode, `${who}: ${lastLines(r.stderr, 30)}`).toBe(0);
      const trace = readTrace(out);
      const other = who === 'alice' ? tokens.bob : tokens.alice;
      expect(trace.complete).toBe(true);
      expect(everyArgv(trace)).toContain(tokens[who]);
      expect(everyArgv(trace)).not.toContain(other);
      expect(shape(trace).map((s) => [s.keyword, s.line])).toEqual([
        ['FROM', 1],
        ['RUN', 2],
        ['WORKDIR', 3],
        ['RUN', 4],
      ]);
      expect(shape(trace)[1]?.argv).toContain(`/bin/sh -c echo ${tokens[who]} > /${tokens[who]}.txt`);
      expect(shape(trace)[3]?.argv).toContain(`/bin/sh -c cat /${tokens[who]}.txt && ls /w && sleep 2`);
    }
    // The agent kept each build's trace for its own client only.
    const alice = runs[0]!;
    const aliceImage = await imageIdOf(alice.t);
    const own = await agentTrace(pki.client('alice'), aliceImage);
    expect(own.exitCode, own.stderr).toBe(0);
    expect(everyArgv(JSON.parse(own.stdout) as Trace)).toContain(tokens.alice);
    const foreign = await agentTrace(pki.client('bob'), aliceImage);
    expect(foreign.exitCode).not.toBe(0);
    expect(foreign.stdout).toBe('');
  });

  test('a client whose certificate another CA signed is refused', async () => {
    const ctx = path.join(work, 'mallory');
    writeFiles(ctx, { Dockerfile: dockerfileFor('mallory') });
    const mallory = pki.foreignClient('mallory');
    const r = await buildThrough(agent, mallory, ['-t', tag('mallory'), ctx]);
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/refuse this client's certificate/);
    const v = await run(dockerCli, ['version', '--format', '{{.Server.Version}}'], { env: agent.clientEnv(mallory), timeoutMs: 60_000 });
    expect(v.exitCode).not.toBe(0);
    expect(v.stdout.trim()).toBe('');
    expect(agent.log()).toMatch(/refused a TLS connection from 127\.0\.0\.1:\d+/);
  });

  test('the agent killed mid-build: the client fails saying so, pushes nothing, and its trace is incomplete', async () => {
    const second = await startAgent({
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      clientCaFile: pki.caCert,
      upstream: DOCKER26.dockerHost,
      stateDir: path.join(work, 'state-killed'),
    });
    const token = `killed${runId.replace(/-/g, '')}`;
    const ctx = path.join(work, 'killed');
    writeFiles(ctx, { Dockerfile: ['FROM busybox:local', `RUN echo started-${token} && sleep 30 && echo done`, ''].join('\n') });
    const pushed = `${REGISTRY}/tracebuild-test/agent-killed-${runId}:1`;
    const out = path.join(work, 'killed.json');
    const args = [tracebuildCli, 'build', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', pushed, '--push', '--key', path.join(work, 'client.key'), '--trace-out', out, ctx];
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...second.clientEnv(pki.client('alice')), TRACEBUILD_PROBE: '/nonexistent/tracebuild-probe', TRACEBUILD_KEY_PASSWORD: PASSWORD },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const exited = new Promise<number | null>((done) => child.once('close', (code) => done(code)));
    // Kill the agent once the RUN is under way (its first line printed).
    await new Promise<void>((running, failed) => {
      const seen = (b: Buffer): void => {
        output += b.toString('utf8');
        if (output.includes(`started-${token}`)) running();
      };
      child.stdout.on('data', seen);
      child.stderr.on('data', seen);
      void exited.then(() => failed(new Error(`the build ended before its RUN started:\n${lastLines(output, 30)}`)));
    });
    await second.stop('SIGKILL');
    const code = await exited;
    expect(code, lastLines(output, 30)).not.toBe(0);
    // Which the client notices first, the build's connection or the trace stream, is a race:
    // either way the error names the agent's loss.
    expect(output).toMatch(/^error: (lost the connection to BuildKit at tcp:\/\/127\.0\.0\.1:\d+|the build's trace from the tracebuild agent broke off)/m);
    expect(output).toMatch(/the trace stream from the tracebuild agent at tcp:\/\/127\.0\.0\.1:\d+ broke off/);
    expect(output).not.toMatch(/^Attested /m);
    const trace = readTrace(out);
    expect(trace.complete).toBe(false);
    expect(trace.monitorGaps.map((g) => g.kind)).toContain('agent-lost');
    // nothing was pushed, so nothing could be attested
    expect(await fetchManifest(REGISTRY, `tracebuild-test/agent-killed-${runId}`, '1')).toBeUndefined();
  });

  test('an agent that cannot trace: a tracebuild build fails before it starts, unless --no-trace', async () => {
    // --allow-untraced-builds keeps it serving without its probe (here: a missing loader)
    const untraced = await startAgent({
      certFile: pki.serverCert,
      keyFile: pki.serverKey,
      clientCaFile: pki.caCert,
      upstream: DOCKER26.dockerHost,
      stateDir: path.join(work, 'state-untraced'),
      extraArgs: ['--allow-untraced-builds'],
      env: { TRACEBUILD_PROBE: '/nonexistent/tracebuild-probe' },
    });
    try {
      const ctx = path.join(work, 'untraced');
      writeFiles(ctx, { Dockerfile: dockerfileFor('untraced') });
      const t = tag('untraced');
      const refused = await buildThrough(untraced, pki.client('alice'), ['-t', t, ctx]);
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stderr).toContain('tracebuild agent: this builder cannot trace builds now: the probe cannot start');
      expect(refused.stderr).toContain('--no-trace');
      expect(refused.stdout + refused.stderr).not.toMatch(/RUN echo untraced/);
      expect((await docker('image', 'inspect', t)).exitCode).not.toBe(0);
      const r = await buildThrough(untraced, pki.client('alice'), ['--no-trace', '-t', t, ctx]);
      expect(r.exitCode, lastLines(r.stderr, 30)).toBe(0);
      expect(untraced.log()).toMatch(/build \S+ from CN=alice .*, untraced/);
    } finally {
      await untraced.stop();
    }
  });

  test('a plain docker buildx build through the agent is traced per instruction, kept, signed and attached to what it pushes', async () => {
    const token = `buildx${runId.replace(/-/g, '')}`;
    const ctx = path.join(work, 'buildx');
    writeFiles(ctx, { Dockerfile: dockerfileFor(token) });
    const t = tag('buildx');
    const bx = await run(dockerCli, ['buildx', 'build', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', t, '--load', ctx], {
      env: agent.clientEnv(pki.client('bob')),
      timeoutMs: 240_000,
    });
    expect(bx.exitCode, lastLines(bx.stderr, 30)).toBe(0);
    const id = await imageIdOf(t);
    const got = await agentTrace(pki.client('bob'), id);
    expect(got.exitCode, got.stderr).toBe(0);
    const trace = JSON.parse(got.stdout) as Trace;
    expect(trace.complete).toBe(true);
    expect(shape(trace).map((s) => [s.keyword, s.line])).toEqual([
      ['FROM', 1],
      ['RUN', 2],
      ['WORKDIR', 3],
      ['RUN', 4],
    ]);
    expect(shape(trace)[1]).toMatchObject({ argv: [`/bin/sh -c echo ${token} > /${token}.txt`], created: [`/${token}.txt`] });
    expect(shape(trace)[3]?.argv).toContain(`/bin/sh -c cat /${token}.txt && ls /w`);
    // the table says how the lines were found and that the builder signed it
    const table = await agentTrace(pki.client('bob'), id, false);
    expect(table.stdout).toContain('instructions located by: the Dockerfile the session sent (Dockerfile)');
    expect(table.stdout).toContain(`signed by the builder (key ${builderKeyId.slice(0, 12)}`);
    // alice did not build it
    expect((await agentTrace(pki.client('alice'), id)).exitCode).not.toBe(0);

    // Pushed by buildx (through the Engine API): the builder's signed trace is attached.
    const pushed = `${REGISTRY}/tracebuild-test/agent-buildx-${runId}:1`;
    const push = await run(dockerCli, ['buildx', 'build', '--no-cache', '--network', 'host', '--progress', 'plain', '-t', pushed, '--push', ctx], {
      env: agent.clientEnv(pki.client('bob')),
      timeoutMs: 240_000,
    });
    expect(push.exitCode, lastLines(push.stderr, 30)).toBe(0);
    images.push(pushed);
    const v = await tracebuild(['verify', pushed, '--key', path.join(work, 'builder.pub')]);
    expect(v.exitCode, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toMatch(new RegExp(`OK\\s+sha256:[0-9a-f]{64}\\s+runtime-trace, signed by (key )?${builderKeyId}`));
  });

  test('in front of a buildkitd socket, a BUILDKIT_HOST client gets its trace and its files; a probe looking elsewhere fails the build', async () => {
    const standIn = await startBuildkitdStandIn(DOCKER26.dockerHost.slice('unix://'.length), { path: path.join(work, 'buildkitd.sock') });
    const token = `bkd${runId.replace(/-/g, '')}`;
    const ctx = path.join(work, 'bkd');
    writeFiles(ctx, { Dockerfile: dockerfileFor(token) });
    const out = path.join(work, 'bkd.json');
    const dest = path.join(work, 'bkd-out');
    const buildVia = (a: AgentProcess) =>
      tracebuild(['build', '--no-cache', '--network', 'host', '--progress', 'plain', '-o', `type=local,dest=${dest}`, '--trace-out', out, ctx], {
        env: { ...a.buildkitEnv(pki.client('alice')), DOCKER_HOST: undefined, TRACEBUILD_PROBE: '/nonexistent/tracebuild-probe' },
        timeoutMs: 240_000,
      });
    const agentFor = (name: string, extraArgs: string[]) =>
      startAgent({
        certFile: pki.serverCert,
        keyFile: pki.serverKey,
        clientCaFile: pki.caCert,
        upstream: standIn.address,
        stateDir: path.join(work, `state-${name}`),
        extraArgs: ['--upstream-kind', 'buildkitd', ...extraArgs],
      });
    try {
      // A buildkitd's RUN containers are under /buildkit/ (the agent's default for one), but
      // this stand-in is Docker 26's BuildKit: its are under /docker/buildkit/. The probe sees
      // none of them, and the trace must not say the RUNs did nothing.
      const elsewhere = await agentFor('bkd-elsewhere', []);
      try {
        const r = await buildVia(elsewhere);
        expect(r.exitCode, lastLines(r.stderr, 30)).toBe(1);
        expect(r.stderr).toContain("error: the eBPF probe saw no process of Dockerfile:2, Dockerfile:4, which ran (are the daemon's RUN containers under a cgroup the probe watches?)");
        const t = readTrace(out);
        expect(t.complete).toBe(false);
        expect(t.losses.unseenSteps).toBe(2);
      } finally {
        await elsewhere.stop();
      }

      const fronting = await agentFor('bkd', ['--cgroup-prefix', '/docker/buildkit/']);
      try {
        const r = await buildVia(fronting);
        expect(r.exitCode, lastLines(r.stderr, 30)).toBe(0);
        expect(readFileSync(path.join(dest, `${token}.txt`), 'utf8')).toBe(`${token}\n`);
        const trace = readTrace(out);
        expect(trace.complete).toBe(true);
        expect(trace.monitor).toMatchObject({ agent: { address: `tcp://127.0.0.1:${fronting.port}` } });
        expect(shape(trace).map((s) => [s.keyword, s.line])).toEqual([
          ['FROM', 1],
          ['RUN', 2],
          ['WORKDIR', 3],
          ['RUN', 4],
        ]);
        expect(shape(trace)[1]).toMatchObject({ argv: [`/bin/sh -c echo ${token} > /${token}.txt`], created: [`/${token}.txt`] });
        expect(fronting.log()).toContain(standIn.address);
      } finally {
        await fronting.stop();
      }
    } finally {
      standIn.close();
    }
  });
});
