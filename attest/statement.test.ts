import { describe, expect, it } from 'vitest';
import {
  AttestationError,
  buildRuntimeTraceStatement,
  buildSlsaProvenanceStatement,
  type RuntimeTraceStatementInput,
  type SlsaProvenanceInput,
} from './index.js';
import { normalizeTrace, type Trace } from '../model/index.js';

const IMAGE = {
  name: '127.0.0.1:5000/hello',
  digest: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};

/** A trace as a file holds it, completed as every reader gets one (model/trace-schema.ts). */
function sampleTrace(): Trace {
  return normalizeTrace({
    monitor: { name: 'tracebuild-probe', version: '0.1.0', kernel: '6.18.0' },
    lostEvents: 2,
    buildSteps: [
      {
        instruction: 'FROM busybox:local',
        line: 1,
        stage: 0,
        vertex: 'sha256:1111111111111111111111111111111111111111111111111111111111111111',
        cached: true,
        startedOn: null,
        finishedOn: null,
        processes: [],
        files: { created: [], modified: [], deleted: [], renamed: [] },
        network: [],
        resources: null,
        lostEvents: 0,
      },
      {
        instruction: 'RUN wget -O /out http://127.0.0.1:8080/x && mv /out /data',
        line: 2,
        stage: 0,
        vertex: 'sha256:2222222222222222222222222222222222222222222222222222222222222222',
        cached: false,
        startedOn: '2025-01-02T03:04:05.000Z',
        finishedOn: '2025-01-02T03:04:06.500Z',
        processes: [
          {
            pid: 10,
            ppid: 1,
            argv: ['/bin/sh', '-c', 'wget -O /out http://127.0.0.1:8080/x && mv /out /data'],
            exe: '/bin/busybox',
            exeSha256: 'aa'.repeat(32),
            exitCode: 0,
            startedOn: '2025-01-02T03:04:05.010Z',
            finishedOn: '2025-01-02T03:04:06.400Z',
          },
          {
            pid: 11,
            ppid: 10,
            argv: ['wget', '-O', '/out', 'http://127.0.0.1:8080/x'],
            exe: '/bin/busybox',
            exeSha256: 'aa'.repeat(32),
            exitCode: 0,
            startedOn: '2025-01-02T03:04:05.020Z',
            finishedOn: '2025-01-02T03:04:06.000Z',
          },
        ],
        files: {
          created: ['/out'],
          modified: ['/etc/my file'],
          deleted: ['/tmp/x'],
          renamed: [{ from: '/out', to: '/data' }],
        },
        network: [
          { protocol: 'TCP', address: '127.0.0.1', port: 8080, direction: 'outbound', bytesSent: 90 },
          { protocol: 'udp', address: 'resolver.local', port: 53, direction: 'outbound' },
        ],
        resources: { wallMs: 1500, cpuUserMs: 12, cpuSystemMs: 8, maxRssKb: 2048 },
        lostEvents: 1,
      },
    ],
  });
}

function runtimeInput(): RuntimeTraceStatementInput {
  return {
    image: IMAGE,
    trace: sampleTrace(),
    monitoredProcess: { hostID: 'https://tracebuild.dev/hosts/builder-1', event: 'inv-0001' },
    timestamps: { buildStartedOn: new Date('2025-01-02T03:04:00Z'), buildFinishedOn: '2025-01-02T03:04:10Z' },
  };
}

function provenanceInput(): SlsaProvenanceInput {
  return {
    image: IMAGE,
    dockerfile: { path: 'Dockerfile', sha256: 'sha256:' + 'dd'.repeat(32) },
    context: '.',
    buildArgs: { VERSION: '1.2.3', ALPHA: 'a' },
    target: 'final',
    baseImages: [{ name: 'busybox:local', digest: 'sha256:' + 'bb'.repeat(32), stage: 'build' }],
    contextFiles: [
      { path: 'src/main.c', sha256: 'cc'.repeat(32) },
      { path: 'a b.txt', sha256: 'sha256:' + 'ee'.repeat(32) },
    ],
    builder: { version: { tracebuild: '0.1.0', buildkit: 'v0.8' } },
    invocationId: 'inv-0001',
    startedOn: '2025-01-02T03:04:00Z',
    finishedOn: new Date('2025-01-02T03:04:10Z'),
  };
}

describe('buildRuntimeTraceStatement', () => {
  it('builds the runtime-trace v0.1 statement', () => {
    expect(buildRuntimeTraceStatement(runtimeInput())).toMatchInlineSnapshot(`
      {
        "_type": "https://in-toto.io/Statement/v1",
        "predicate": {
          "ambiguities": [],
          "buildSteps": [
            {
              "cached": true,
              "cgroup": null,
              "durationMs": null,
              "endLine": 1,
              "files": {
                "attributes": [],
                "created": [],
                "deleted": [],
                "links": [],
                "modified": [],
                "renamed": [],
                "transient": [],
              },
              "finishedOn": null,
              "instruction": "FROM busybox:local",
              "keyword": "FROM",
              "line": 1,
              "lostEvents": 0,
              "network": [],
              "processes": [],
              "resources": null,
              "runcSetupEvents": 0,
              "stage": "0",
              "startedOn": null,
              "status": "cached",
              "vertex": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
              "warnings": [],
            },
            {
              "cached": false,
              "cgroup": null,
              "durationMs": 1500,
              "endLine": 2,
              "files": {
                "attributes": [],
                "created": [
                  "/out",
                ],
                "deleted": [
                  "/tmp/x",
                ],
                "links": [],
                "modified": [
                  "/etc/my file",
                ],
                "renamed": [
                  {
                    "from": "/out",
                    "to": "/data",
                  },
                ],
                "transient": [],
              },
              "finishedOn": "2025-01-02T03:04:06.500Z",
              "instruction": "RUN wget -O /out http://127.0.0.1:8080/x && mv /out /data",
              "keyword": "RUN",
              "line": 2,
              "lostEvents": 1,
              "network": [
                {
                  "address": "127.0.0.1",
                  "attempts": 1,
                  "bytesSent": 90,
                  "direction": "outbound",
                  "failures": 0,
                  "family": "",
                  "port": 8080,
                  "protocol": "TCP",
                },
                {
                  "address": "resolver.local",
                  "attempts": 1,
                  "direction": "outbound",
                  "failures": 0,
                  "family": "",
                  "port": 53,
                  "protocol": "udp",
                },
              ],
              "processes": [
                {
                  "argv": [
                    "/bin/sh",
                    "-c",
                    "wget -O /out http://127.0.0.1:8080/x && mv /out /data",
                  ],
                  "exe": "/bin/busybox",
                  "exeSha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "execed": true,
                  "exitCode": 0,
                  "finishedOn": "2025-01-02T03:04:06.400Z",
                  "pid": 10,
                  "ppid": 1,
                  "startedOn": "2025-01-02T03:04:05.010Z",
                },
                {
                  "argv": [
                    "wget",
                    "-O",
                    "/out",
                    "http://127.0.0.1:8080/x",
                  ],
                  "exe": "/bin/busybox",
                  "exeSha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                  "execed": true,
                  "exitCode": 0,
                  "finishedOn": "2025-01-02T03:04:06.000Z",
                  "pid": 11,
                  "ppid": 10,
                  "startedOn": "2025-01-02T03:04:05.020Z",
                },
              ],
              "resources": {
                "cpuSystemMs": 8,
                "cpuUserMs": 12,
                "maxRssKb": 2048,
                "wallMs": 1500,
              },
              "runcSetupEvents": 0,
              "stage": "0",
              "startedOn": "2025-01-02T03:04:05.000Z",
              "status": "done",
              "vertex": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
              "warnings": [],
            },
          ],
          "complete": false,
          "losses": {
            "argsUnread": 0,
            "attributedToSteps": 1,
            "digestFailed": 0,
            "digestSkipped": 0,
            "monitorGaps": 0,
            "netSuppressed": 0,
            "output": 0,
            "pendingFull": 0,
            "ringbuf": {
              "cgroup-mkdir": 0,
              "cgroup-rmdir": 0,
              "exec": 0,
              "exit": 0,
              "file": 0,
              "fork": 0,
              "net": 0,
            },
            "scratchBusy": 0,
            "signalFailed": 0,
            "tracedFull": 0,
            "unattributedToSteps": 1,
            "undecodedRecords": 0,
            "unseenSteps": 0,
          },
          "lostEvents": 2,
          "metadata": {
            "buildFinishedOn": "2025-01-02T03:04:10.000Z",
            "buildStartedOn": "2025-01-02T03:04:00.000Z",
          },
          "monitor": {
            "details": {
              "kernel": "6.18.0",
              "name": "tracebuild-probe",
              "version": "0.1.0",
            },
            "type": "https://tracebuild.dev/monitors/ebpf/v1",
          },
          "monitorGaps": [],
          "monitorLog": {
            "fileAccess": [
              {
                "annotations": {
                  "access": "created",
                  "buildStep": 1,
                },
                "name": "/out",
                "uri": "file:///out",
              },
              {
                "annotations": {
                  "access": "modified",
                  "buildStep": 1,
                },
                "name": "/etc/my file",
                "uri": "file:///etc/my%20file",
              },
              {
                "annotations": {
                  "access": "deleted",
                  "buildStep": 1,
                },
                "name": "/tmp/x",
                "uri": "file:///tmp/x",
              },
              {
                "annotations": {
                  "access": "renamed-from",
                  "buildStep": 1,
                },
                "name": "/out",
                "uri": "file:///out",
              },
              {
                "annotations": {
                  "access": "renamed-to",
                  "buildStep": 1,
                },
                "name": "/data",
                "uri": "file:///data",
              },
            ],
            "network": [
              {
                "buildStep": 1,
                "direction": "outbound",
                "ip": "127.0.0.1",
                "port": 8080,
                "protocol": "tcp",
              },
              {
                "buildStep": 1,
                "direction": "outbound",
                "hostname": "resolver.local",
                "port": 53,
                "protocol": "udp",
              },
            ],
            "process": [
              {
                "argv": [
                  "/bin/sh",
                  "-c",
                  "wget -O /out http://127.0.0.1:8080/x && mv /out /data",
                ],
                "buildStep": 1,
                "exe": "/bin/busybox",
                "exeSha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "execed": true,
                "exitCode": 0,
                "finishedOn": "2025-01-02T03:04:06.400Z",
                "pid": 10,
                "ppid": 1,
                "startedOn": "2025-01-02T03:04:05.010Z",
              },
              {
                "argv": [
                  "wget",
                  "-O",
                  "/out",
                  "http://127.0.0.1:8080/x",
                ],
                "buildStep": 1,
                "exe": "/bin/busybox",
                "exeSha256": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                "execed": true,
                "exitCode": 0,
                "finishedOn": "2025-01-02T03:04:06.000Z",
                "pid": 11,
                "ppid": 10,
                "startedOn": "2025-01-02T03:04:05.020Z",
              },
            ],
          },
          "monitoredProcess": {
            "event": "inv-0001",
            "hostID": "https://tracebuild.dev/hosts/builder-1",
            "type": "https://tracebuild.dev/buildtypes/dockerfile/v1",
          },
          "runcSetupEvents": 0,
          "unattributedCgroups": [],
          "unattributedEvents": 0,
          "untracedCgroups": [],
        },
        "predicateType": "https://in-toto.io/attestation/runtime-trace/v0.1",
        "subject": [
          {
            "digest": {
              "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            },
            "name": "127.0.0.1:5000/hello",
          },
        ],
      }
    `);
  });

  it('is deterministic and does not alias the caller trace', () => {
    const input = runtimeInput();
    const a = buildRuntimeTraceStatement(input);
    const b = buildRuntimeTraceStatement(runtimeInput());
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    (input.trace.buildSteps[1]?.processes[0]?.argv as string[]).push('changed');
    (input.trace.monitor as Record<string, unknown>)['kernel'] = 'changed';
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });

  it('carries fields the tracer adds to a step', () => {
    const input = runtimeInput();
    const step = { ...sampleTrace().buildSteps[1]!, candidates: ['sha256:x', 'sha256:y'] };
    input.trace = { ...input.trace, buildSteps: [step] };
    const s = buildRuntimeTraceStatement(input);
    expect(s.predicate.buildSteps[0]).toHaveProperty('candidates', ['sha256:x', 'sha256:y']);
  });

  it('takes monitor type, config and policy from the caller', () => {
    const s = buildRuntimeTraceStatement({
      ...runtimeInput(),
      monitor: { type: 'https://example.com/m/v2', tracePolicy: { probes: ['exec'] }, configSource: { uri: 'file:///etc/m.conf' } },
      monitoredProcess: { hostID: 'https://h', event: 'e', type: 'https://example.com/bt' },
    });
    expect(s.predicate.monitor).toMatchObject({ type: 'https://example.com/m/v2', tracePolicy: { probes: ['exec'] }, configSource: { uri: 'file:///etc/m.conf' } });
    expect(s.predicate.monitoredProcess).toEqual({ hostID: 'https://h', event: 'e', type: 'https://example.com/bt' });
  });

  it.each([
    ['no prefix', '0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef'],
    ['short', 'sha256:abcd'],
    ['upper case', 'sha256:' + 'AB'.repeat(32)],
    ['other algorithm', 'sha512:' + 'ab'.repeat(32)],
  ])('rejects an image digest with %s', (_what, digest) => {
    expect(() => buildRuntimeTraceStatement({ ...runtimeInput(), image: { name: 'x', digest } })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });

  it('rejects an invalid timestamp', () => {
    const input = runtimeInput();
    input.timestamps = { buildStartedOn: 'yesterday', buildFinishedOn: new Date(0) };
    expect(() => buildRuntimeTraceStatement(input)).toThrow(AttestationError);
    expect(() => buildRuntimeTraceStatement(input)).toThrow(expect.objectContaining({ code: 'invalid-argument' }));
  });
});

describe('buildSlsaProvenanceStatement', () => {
  it('builds the SLSA provenance v1 statement', () => {
    expect(buildSlsaProvenanceStatement(provenanceInput())).toMatchInlineSnapshot(`
      {
        "_type": "https://in-toto.io/Statement/v1",
        "predicate": {
          "buildDefinition": {
            "buildType": "https://tracebuild.dev/buildtypes/dockerfile/v1",
            "externalParameters": {
              "buildArgs": {
                "ALPHA": "a",
                "VERSION": "1.2.3",
              },
              "context": ".",
              "dockerfile": {
                "digest": {
                  "sha256": "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
                },
                "path": "Dockerfile",
              },
              "target": "final",
            },
            "resolvedDependencies": [
              {
                "annotations": {
                  "stage": "build",
                },
                "digest": {
                  "sha256": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                },
                "name": "busybox:local",
                "uri": "docker-image://busybox:local",
              },
              {
                "digest": {
                  "sha256": "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
                },
                "name": "a b.txt",
                "uri": "local://context/a%20b.txt",
              },
              {
                "digest": {
                  "sha256": "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
                },
                "name": "src/main.c",
                "uri": "local://context/src/main.c",
              },
            ],
          },
          "runDetails": {
            "builder": {
              "id": "https://tracebuild.dev/builders/local/v1",
              "version": {
                "buildkit": "v0.8",
                "tracebuild": "0.1.0",
              },
            },
            "metadata": {
              "finishedOn": "2025-01-02T03:04:10.000Z",
              "invocationId": "inv-0001",
              "startedOn": "2025-01-02T03:04:00.000Z",
            },
          },
        },
        "predicateType": "https://slsa.dev/provenance/v1",
        "subject": [
          {
            "digest": {
              "sha256": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            },
            "name": "127.0.0.1:5000/hello",
          },
        ],
      }
    `);
  });

  it('serializes with buildArgs in sorted order and the SLSA field order', () => {
    const json = JSON.stringify(buildSlsaProvenanceStatement({ ...provenanceInput(), internalParameters: { frontend: 'tracebuild' } }));
    expect(json.indexOf('"ALPHA"')).toBeLessThan(json.indexOf('"VERSION"'));
    const order = ['"buildType"', '"externalParameters"', '"internalParameters"', '"resolvedDependencies"', '"runDetails"'].map((k) => json.indexOf(k));
    expect(order.every((v, i) => v > 0 && (i === 0 || v > order[i - 1]!))).toBe(true);
  });

  it('omits optional fields that were not given', () => {
    const s = buildSlsaProvenanceStatement({
      image: IMAGE,
      dockerfile: { path: 'Dockerfile', sha256: 'dd'.repeat(32) },
      context: '.',
      invocationId: 'i',
      startedOn: '2025-01-01T00:00:00Z',
      finishedOn: '2025-01-01T00:00:01Z',
    });
    expect(s.predicate.buildDefinition).toEqual({
      buildType: 'https://tracebuild.dev/buildtypes/dockerfile/v1',
      externalParameters: { dockerfile: { path: 'Dockerfile', digest: { sha256: 'dd'.repeat(32) } }, context: '.', buildArgs: {} },
      resolvedDependencies: [],
    });
    expect(s.predicate.runDetails.builder).toEqual({ id: 'https://tracebuild.dev/builders/local/v1' });
  });

  it('records build args only as given (no secret channel here)', () => {
    const s = buildSlsaProvenanceStatement({ ...provenanceInput(), buildArgs: { GITHUB_TOKEN: '(not a secret: caller passes none)' } });
    expect(s.predicate.buildDefinition.externalParameters.buildArgs).toEqual({ GITHUB_TOKEN: '(not a secret: caller passes none)' });
  });

  it('rejects a base image without a sha256 digest', () => {
    expect(() => buildSlsaProvenanceStatement({ ...provenanceInput(), baseImages: [{ name: 'alpine', digest: 'latest' }] })).toThrow(
      expect.objectContaining({ code: 'invalid-argument' }),
    );
  });
});
