// deploy/kubernetes/builder.yaml cannot be applied here (no cluster): it is checked against
// the Kubernetes API schemas (kubernetes-models validates each object with the OpenAPI
// schema of its kind), and against what the agent and the probe need: files it names are
// mounted, the Service reaches its port, the capabilities are the documented ones, the pod
// is Guaranteed, and its start script, run by /bin/sh, passes cgroup prefixes the probe takes.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Namespace, Service } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

const here = path.dirname(fileURLToPath(import.meta.url));
const text = readFileSync(path.join(here, 'kubernetes', 'builder.yaml'), 'utf8');
const docs = parseAllDocuments(text);
const objects = docs.map((d) => d.toJS() as { kind: string } & Record<string, unknown>);

const byKind = <T>(kind: string): T => objects.find((o) => o.kind === kind) as unknown as T;
const deployment = new Deployment(byKind<ConstructorParameters<typeof Deployment>[0]>('Deployment'));
const pod = deployment.spec!.template.spec!;
const agent = pod.containers.find((c) => c.name === 'tracebuild-agent')!;
const buildkitd = pod.containers.find((c) => c.name === 'buildkitd')!;

/** What the agent's start script runs, with a `tracebuild` on PATH that prints its arguments. */
function agentArgv(podUid: string): string[] {
  const bin = mkdtempSync(path.join(tmpdir(), 'tb-k8s-'));
  try {
    writeFileSync(path.join(bin, 'tracebuild'), '#!/bin/sh\nfor a in "$@"; do printf \'%s\\n\' "$a"; done\n', { mode: 0o755 });
    const env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, POD_UID: podUid, POD_NAME: 'buildkitd-abc' };
    return execFileSync('/bin/sh', ['-c', agent.args![0]!], { env }).toString('utf8').trimEnd().split('\n');
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}
const flag = (argv: string[], name: string): string[] => argv.flatMap((a, i) => (a === name ? [argv[i + 1] as string] : []));

describe('deploy/kubernetes/builder.yaml', () => {
  it('parses as YAML, and each object is valid against its Kubernetes schema', () => {
    expect(docs.flatMap((d) => d.errors)).toEqual([]);
    expect(objects.map((o) => o.kind)).toEqual(['Namespace', 'Deployment', 'Service']);
    expect(() => new Namespace(byKind('Namespace')).validate()).not.toThrow();
    expect(() => deployment.validate()).not.toThrow();
    expect(() => new Service(byKind('Service')).validate()).not.toThrow();
    // the schema check is real: a container without its name and a count that is not a
    // number are refused (a field name the API does not have is not: kubernetes-models'
    // schemas allow additional properties, as the API's OpenAPI documents do)
    type Editable = { spec: { replicas?: unknown; template: { spec: { containers: { name?: string }[] } } } };
    const broken = (edit: (d: Editable) => void): Deployment => {
      const d = structuredClone(byKind<Editable>('Deployment'));
      edit(d);
      return new Deployment(d as unknown as ConstructorParameters<typeof Deployment>[0]);
    };
    expect(() => broken((d) => delete d.spec.template.spec.containers[1]!.name).validate()).toThrow(/name/);
    expect(() => broken((d) => (d.spec.replicas = 'one')).validate()).toThrow(/replicas/);
  });

  it("runs the agent with the documented capabilities only, as root, in the host's pid namespace", () => {
    expect(pod.hostPID).toBe(true);
    expect(agent.securityContext).toMatchObject({ runAsUser: 0, privileged: false, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
    expect(agent.securityContext?.capabilities?.drop).toEqual(['ALL']);
    expect(agent.securityContext?.capabilities?.add).toEqual(['BPF', 'PERFMON', 'SYS_ADMIN', 'KILL', 'SYS_PTRACE', 'DAC_READ_SEARCH']);
    const documented = readFileSync(path.join(here, 'kubernetes', 'README.md'), 'utf8');
    for (const cap of agent.securityContext!.capabilities!.add!) expect(documented).toContain(`\`CAP_${cap}\``);
    // Guaranteed QoS: the pod's cgroup path is the one the script names
    for (const c of pod.containers) expect(c.resources?.requests).toEqual(c.resources?.limits);
  });

  it("names only files the pod mounts, fronts buildkitd's socket, and listens where the Service points", () => {
    const argv = agentArgv('0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0');
    expect(argv.slice(0, 1)).toEqual(['agent']);
    const mounts = (c: typeof agent) => (c.volumeMounts ?? []).map((m) => m.mountPath);
    for (const f of ['--tls-cert', '--tls-key', '--client-ca', '--key']) {
      const file = flag(argv, f)[0]!;
      expect(mounts(agent).some((m) => file.startsWith(`${m}/`)), `${f} ${file}`).toBe(true);
    }
    const socket = flag(argv, '--upstream')[0]!.replace(/^unix:\/\//, '');
    expect(buildkitd.args).toContain(`unix://${socket}`);
    const shared = (c: typeof agent) => (c.volumeMounts ?? []).find((m) => socket.startsWith(`${m.mountPath}/`))?.name;
    expect(shared(agent)).toBeDefined();
    expect(shared(agent)).toBe(shared(buildkitd));
    expect(flag(argv, '--upstream-kind')).toEqual(['buildkitd']);
    const port = Number(flag(argv, '--listen')[0]!.split(':')[1]);
    expect(agent.ports).toContainEqual(expect.objectContaining({ name: 'agent', containerPort: port }));
    const service = byKind<{ spec: { ports: { targetPort: string }[] } }>('Service');
    expect(service.spec.ports[0]?.targetPort).toBe('agent');
    // the state dir is writable (the root filesystem is not)
    expect(mounts(agent)).toContain(flag(argv, '--state-dir')[0]);
    // every volume a container mounts is one the pod declares
    const volumes = new Set((pod.volumes ?? []).map((v) => v.name));
    for (const c of pod.containers) for (const m of c.volumeMounts ?? []) expect(volumes.has(m.name), m.name).toBe(true);
  });

  it("traces cgroups under the pod's own, in the systemd and cgroupfs spellings, within the probe's 63 bytes", () => {
    const uid = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const prefixes = flag(agentArgv(uid), '--cgroup-prefix');
    expect(prefixes).toEqual([`/kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}`.slice(0, 63), `/kubepods/pod${uid}/`]);
    for (const p of prefixes) expect(Buffer.byteLength(p)).toBeLessThanOrEqual(63);
    // a RUN container of this pod's buildkitd (systemd driver) is under the first
    const run = `/kubepods.slice/kubepods-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-0123abcd.scope/buildkit/k2v1`;
    expect(run.startsWith(prefixes[0]!)).toBe(true);
    // and another pod's is not
    expect(run.replace('0f1e2d3c', '0f1e2d3d').startsWith(prefixes[0]!)).toBe(false);
  });
});
