// Enforceable rules: the `enforce:` list of a policy file (POLICY.md "Enforcement"). Unlike
// the CEL `rules`, which judge a trace after the build, these are static allowlists the
// kernel (egress) and the probe's loader (exec) apply while the build runs. Pure: text in,
// rules out. Compiling them for the kernel is tracer/enforce-config.ts's job.

import { createHash } from 'node:crypto';
import { Address4, Address6 } from 'ip-address';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { PolicyError } from './policy-error.js';

/** One allowed destination: an address block, a port range, a protocol. */
export interface EgressAllow {
  /** As written in the policy, for messages. */
  readonly text: string;
  /** The block's first address, 16 bytes; IPv4 as its v4-mapped IPv6 form (::ffff:a.b.c.d),
   * which is also how the kernel sees a v4-mapped destination of an IPv6 socket. */
  readonly address: Uint8Array;
  /** Prefix length over those 16 bytes (IPv4 /n is 96 + n). */
  readonly prefix: number;
  /** Inclusive; 0-65535 when the entry names no port. */
  readonly portLow: number;
  readonly portHigh: number;
  readonly protocol: 'tcp' | 'udp' | 'any';
}

/** `steps:` of a rule: the steps it applies to. Every given field must match; a rule
 * without one applies to every step. */
export interface StepSelector {
  /** A stage's `AS` name (any case) or its 0-based index among the FROMs. */
  readonly stage?: string | number;
  /** An instruction keyword; only RUN runs a process in a step's container. */
  readonly instruction?: 'RUN';
  /** Instructions by their first Dockerfile line. */
  readonly lines?: readonly number[];
  /** 1-based line of `steps:` in the policy file, for messages. */
  readonly line: number;
}

export interface EgressRule {
  readonly kind: 'egress';
  readonly name: string;
  /** 1-based line in the policy file. */
  readonly line: number;
  /** Absent: every step. */
  readonly steps?: StepSelector;
  /** Empty: every connect() and sendto() with a destination is refused. */
  readonly allow: readonly EgressAllow[];
}

/** An executable path and the digests it may have. */
export interface ExecPin {
  readonly path: string;
  readonly sha256: readonly string[];
}

export interface ExecRule {
  readonly kind: 'exec';
  readonly name: string;
  readonly line: number;
  readonly pins: readonly ExecPin[];
  /** What happens to an executable at a path no pin names. */
  readonly unknownPaths: 'allow' | 'deny';
  readonly steps?: StepSelector;
}

export type EnforceRule = EgressRule | ExecRule;

export interface Enforcement {
  readonly file: string;
  readonly rules: readonly EnforceRule[];
  /** sha256 of the rules' canonical JSON: the same rules give the same digest whatever
   * the file's layout, so builds under the same rules share a cgroup parent (and cache). */
  readonly digest: string;
}

/** The most allow entries the kernel program checks (tracer/bpf/events.h TB_EGRESS_MAX). */
export const EGRESS_ALLOW_MAX = 64;
/** The most egress rules, each one bit in the kernel's verdict (TB_EGRESS_RULES_MAX). */
export const EGRESS_RULES_MAX = 16;

const RULE_KEYS = new Set(['name', 'egress', 'exec', 'steps']);
const STEPS_KEYS = new Set(['stage', 'instruction', 'line']);
const EGRESS_KEYS = new Set(['allow']);
const EXEC_KEYS = new Set(['path', 'sha256', 'pins', 'default']);
const SHA256 = /^[0-9a-f]{64}$/;

/**
 * Reads the `enforce:` list of a policy document. Undefined when the document has none.
 * Throws PolicyError `invalid-policy` (message `FILE:LINE: ...`) for anything it cannot
 * enforce exactly as written: unknown keys, bad addresses, bad step selectors. Whether a
 * selector matches a step of the Dockerfile is enforce-steps.ts's question.
 */
export function parseEnforcement(yamlText: string, fileName: string): Enforcement | undefined {
  const lineCounter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter, uniqueKeys: true });
  const lineOf = (node: YamlNode | null | undefined): number => {
    const offset = node?.range?.[0];
    return offset === undefined ? 0 : lineCounter.linePos(offset).line;
  };
  const invalid = (node: YamlNode | null | undefined, message: string, rule?: string): never => {
    const line = lineOf(node);
    throw new PolicyError('invalid-policy', `${line === 0 ? fileName : `${fileName}:${line}`}: ${rule === undefined ? '' : `enforce rule '${rule}': `}${message}`, {
      file: fileName,
      ...(rule === undefined ? {} : { rule }),
    });
  };
  const yamlError = doc.errors[0];
  if (yamlError !== undefined) throw new PolicyError('invalid-policy', `${fileName}: invalid YAML: ${yamlError.message}`, { file: fileName, cause: yamlError });
  const root = doc.contents;
  if (!isMap(root)) return undefined;
  const pair = root.items.find((p) => isScalar(p.key) && p.key.value === 'enforce');
  if (pair === undefined) return undefined;
  const list = pair.value as YamlNode | null;
  if (!isSeq(list) || list.items.length === 0) return invalid(list ?? (pair.key as YamlNode), '"enforce" must be a non-empty list of { name, egress | exec }');

  const rules: EnforceRule[] = [];
  const names = new Set<string>();
  list.items.forEach((item, i) => {
    const node = item as YamlNode;
    if (!isMap(node)) return invalid(node, `enforce[${i}] must be a mapping with a name and one of egress, exec`);
    const nameNode = node.get('name', true) as YamlNode | undefined;
    const name = isScalar(nameNode) && typeof nameNode.value === 'string' && nameNode.value.trim() !== '' ? nameNode.value : undefined;
    if (name === undefined) return invalid(node, `enforce[${i}] needs a "name" (a non-empty string)`);
    if (names.has(name)) return invalid(node, 'duplicate rule name', name);
    names.add(name);
    for (const p of node.items) {
      const key = isScalar(p.key) ? p.key.value : undefined;
      if (key === 'stage' || key === 'instruction' || key === 'line') {
        invalid(p.key as YamlNode, `"${String(key)}" belongs under "steps" (steps: { stage, instruction, line })`, name);
      }
      if (typeof key !== 'string' || !RULE_KEYS.has(key)) invalid(p.key as YamlNode, `unknown key ${JSON.stringify(String(key))} (expected ${[...RULE_KEYS].join(', ')})`, name);
    }
    const egress = node.get('egress', true) as YamlNode | undefined;
    const exec = node.get('exec', true) as YamlNode | undefined;
    if ((egress === undefined) === (exec === undefined)) return invalid(node, 'needs exactly one of "egress" and "exec"', name);
    const line = lineOf(node);
    const stepsNode = node.get('steps', true) as YamlNode | undefined;
    const steps = stepsNode === undefined ? {} : { steps: parseSteps(stepsNode, name) };
    if (egress !== undefined) rules.push({ kind: 'egress', name, line, allow: parseEgress(egress, name), ...steps });
    else if (exec !== undefined) rules.push({ kind: 'exec', name, line, ...parseExec(exec, name), ...steps });
  });
  if (rules.filter((r) => r.kind === 'egress').length > EGRESS_RULES_MAX) invalid(list, `at most ${EGRESS_RULES_MAX} egress rules`);
  const entries = rules.reduce((n, r) => n + (r.kind === 'egress' ? r.allow.length : 0), 0);
  if (entries > EGRESS_ALLOW_MAX) invalid(list, `at most ${EGRESS_ALLOW_MAX} egress allow entries in all (${entries} given)`);
  return { file: fileName, rules, digest: rulesDigest(rules) };

  function parseSteps(node: YamlNode, rule: string): StepSelector {
    if (!isMap(node) || node.items.length === 0) return invalid(node, '"steps" must be a mapping { stage, instruction, line } with at least one of them', rule);
    let selector: { stage?: string | number; instruction?: 'RUN'; lines?: number[]; line: number } = { line: lineOf(node) };
    for (const p of node.items) {
      const key = isScalar(p.key) ? p.key.value : undefined;
      if (typeof key !== 'string' || !STEPS_KEYS.has(key)) invalid(p.key as YamlNode, `unknown key ${JSON.stringify(String(key))} in steps (expected ${[...STEPS_KEYS].join(', ')})`, rule);
      const v = p.value as YamlNode | null;
      const value: unknown = isScalar(v) ? v.value : isSeq(v) ? v.toJSON() : undefined;
      if (key === 'stage') {
        const ok = (typeof value === 'string' && value.trim() !== '') || (typeof value === 'number' && Number.isInteger(value) && value >= 0);
        if (!ok) invalid(v ?? node, '"steps.stage" must be a stage name or its 0-based index', rule);
        selector = { ...selector, stage: typeof value === 'string' ? value.trim().toLowerCase() : (value as number) };
      } else if (key === 'instruction') {
        if (typeof value !== 'string' || value.trim() === '') return invalid(v ?? node, '"steps.instruction" must be an instruction keyword', rule);
        const keyword = value.trim().toUpperCase();
        if (keyword !== 'RUN') {
          const why = DOCKERFILE_KEYWORDS.has(keyword) ? `${keyword} runs no process in a step's container` : `${JSON.stringify(value)} is not a Dockerfile instruction`;
          invalid(v ?? node, `"steps.instruction": ${why}; only RUN steps can be enforced`, rule);
        }
        selector = { ...selector, instruction: 'RUN' };
      } else {
        const lines = typeof value === 'number' ? [value] : value;
        if (!Array.isArray(lines) || lines.length === 0 || !lines.every((n) => typeof n === 'number' && Number.isInteger(n) && n >= 1)) {
          return invalid(v ?? node, '"steps.line" must be a Dockerfile line (1-based) or a non-empty list of them', rule);
        }
        if (new Set(lines).size !== lines.length) invalid(v ?? node, '"steps.line" names a line twice', rule);
        selector = { ...selector, lines: [...(lines as number[])].sort((a, b) => a - b) };
      }
    }
    return selector;
  }

  function parseEgress(node: YamlNode, rule: string): EgressAllow[] {
    if (!isMap(node)) return invalid(node, '"egress" must be a mapping { allow: [...] }', rule);
    for (const p of node.items) {
      const key = isScalar(p.key) ? p.key.value : undefined;
      if (typeof key !== 'string' || !EGRESS_KEYS.has(key)) invalid(p.key as YamlNode, `unknown key ${JSON.stringify(String(key))} in egress (expected allow)`, rule);
    }
    const allow = node.get('allow', true) as YamlNode | undefined;
    if (!isSeq(allow)) return invalid(allow ?? node, '"egress.allow" must be a list of "ADDRESS[/PREFIX][:PORT[-PORT]][/tcp|/udp]" ([] refuses everything)', rule);
    return allow.items.map((entry) => {
      const e = entry as YamlNode;
      if (!isScalar(e) || typeof e.value !== 'string') return invalid(e, 'an egress.allow entry must be a string', rule);
      const parsed = parseEgressEntry(e.value);
      if (typeof parsed === 'string') return invalid(e, `${JSON.stringify(e.value)}: ${parsed}`, rule);
      return parsed;
    });
  }

  function parseExec(node: YamlNode, rule: string): { pins: ExecPin[]; unknownPaths: 'allow' | 'deny' } {
    if (!isMap(node)) return invalid(node, '"exec" must be a mapping { path, sha256 } or { pins, default }', rule);
    for (const p of node.items) {
      const key = isScalar(p.key) ? p.key.value : undefined;
      if (typeof key !== 'string' || !EXEC_KEYS.has(key)) invalid(p.key as YamlNode, `unknown key ${JSON.stringify(String(key))} in exec (expected ${[...EXEC_KEYS].join(', ')})`, rule);
    }
    const json = node.toJSON() as { path?: unknown; sha256?: unknown; pins?: unknown; default?: unknown };
    const def = json.default ?? 'allow';
    if (def !== 'allow' && def !== 'deny') return invalid(node, '"exec.default" must be allow or deny', rule);
    const single = json.path !== undefined || json.sha256 !== undefined;
    if (single === (json.pins !== undefined)) return invalid(node, 'exec needs either { path, sha256 } or { pins: [{ path, sha256 }] }', rule);
    const raw = single ? [{ path: json.path, sha256: json.sha256 }] : json.pins;
    if (!Array.isArray(raw) || raw.length === 0) return invalid(node, '"exec.pins" must be a non-empty list of { path, sha256 }', rule);
    const seen = new Set<string>();
    const pins = raw.map((pin: unknown): ExecPin => {
      const p = pin as { path?: unknown; sha256?: unknown } | null;
      if (typeof p?.path !== 'string' || !p.path.startsWith('/') || p.path.includes('\0')) return invalid(node, 'an exec path must be an absolute path', rule);
      if (seen.has(p.path)) return invalid(node, `${p.path} is pinned twice`, rule);
      seen.add(p.path);
      const digests = typeof p.sha256 === 'string' ? [p.sha256] : p.sha256;
      if (!Array.isArray(digests) || digests.length === 0 || !digests.every((d) => typeof d === 'string' && SHA256.test(d.replace(/^sha256:/, '')))) {
        return invalid(node, `${p.path}: "sha256" must be one or more 64-hex-digit digests (lower case)`, rule);
      }
      return { path: p.path, sha256: (digests as string[]).map((d) => d.replace(/^sha256:/, '')) };
    });
    return { pins, unknownPaths: def };
  }
}

const PROTOCOLS = new Set(['tcp', 'udp']);

/** Every instruction keyword of a Dockerfile, to tell a keyword that runs nothing from a typo. */
const DOCKERFILE_KEYWORDS = new Set([
  'ADD', 'ARG', 'CMD', 'COPY', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'FROM', 'HEALTHCHECK', 'LABEL',
  'MAINTAINER', 'ONBUILD', 'RUN', 'SHELL', 'STOPSIGNAL', 'USER', 'VOLUME', 'WORKDIR',
]);

/**
 * One allow entry: `ADDRESS[/PREFIX][:PORT[-PORT]][/PROTO]`, an IPv6 address in brackets
 * when a port or protocol follows (`[::1]:53/udp`; a bare `fd00::/8` is a block). Returns
 * the reason as a string when it is not one.
 */
export function parseEgressEntry(text: string): EgressAllow | string {
  let rest = text.trim();
  let protocol: EgressAllow['protocol'] = 'any';
  const proto = /\/(tcp|udp)$/i.exec(rest);
  if (proto !== null) {
    protocol = proto[1]!.toLowerCase() as 'tcp' | 'udp';
    rest = rest.slice(0, proto.index);
  } else if (/\/[a-z]+$/i.test(rest)) {
    return `unknown protocol (expected ${[...PROTOCOLS].join(' or ')})`;
  }
  let host: string;
  let ports: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.+))?$/.exec(rest);
  if (bracketed !== null) {
    host = bracketed[1]!;
    ports = bracketed[2];
  } else if (rest.includes('.') && !rest.includes('::') && rest.split(':').length === 2) {
    [host, ports] = rest.split(':') as [string, string];
  } else {
    host = rest;
  }
  const block = parseBlock(host);
  if (typeof block === 'string') return block;
  let portLow = 0;
  let portHigh = 65535;
  if (ports !== undefined) {
    const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(ports);
    if (m === null) return 'the port must be a number or a range LOW-HIGH';
    portLow = Number(m[1]);
    portHigh = m[2] === undefined ? portLow : Number(m[2]);
    if (portLow < 1 || portHigh > 65535 || portLow > portHigh) return 'ports are 1-65535, LOW <= HIGH';
  }
  return { text, ...block, portLow, portHigh, protocol };
}

function parseBlock(host: string): { address: Uint8Array; prefix: number } | string {
  if (/^[0-9.]+(\/\d+)?$/.test(host)) {
    if (!Address4.isValid(host)) return 'not an IPv4 address or block';
    const a = new Address4(host);
    const mapped = new Uint8Array(16);
    mapped[10] = 0xff;
    mapped[11] = 0xff;
    mapped.set(a.startAddress().toArray(), 12);
    return { address: mapped, prefix: 96 + a.subnetMask };
  }
  if (!Address6.isValid(host)) return 'not an IP address or block (write IPv6 with a port as [ADDR]:PORT)';
  const a = new Address6(host);
  const bytes = a.startAddress().toByteArray();
  const address = new Uint8Array(16);
  address.set(bytes, 16 - bytes.length);
  return { address, prefix: a.subnetMask };
}

/** The canonical form of the rules, for their digest and the attestation: with their step
 * selectors, unless `withSteps` is false (what a step is under, whatever selected it). */
export function describeRules(rules: readonly EnforceRule[], withSteps = true): unknown[] {
  return rules.map((r) => {
    const body =
      r.kind === 'egress'
        ? { name: r.name, egress: { allow: r.allow.map(canonicalEntry) } }
        : { name: r.name, exec: { pins: r.pins.map((p) => ({ path: p.path, sha256: [...p.sha256].sort() })), default: r.unknownPaths } };
    return withSteps && r.steps !== undefined ? { ...body, steps: canonicalSteps(r.steps) } : body;
  });
}

function canonicalSteps(s: StepSelector): object {
  return {
    ...(s.stage === undefined ? {} : { stage: s.stage }),
    ...(s.instruction === undefined ? {} : { instruction: s.instruction }),
    ...(s.lines === undefined ? {} : { line: s.lines }),
  };
}

/** sha256 of a set of rules in force on a step (without their selectors): names the step's
 * cgroup parent, so that a step keeps its cache unless its own rules change. */
export function ruleSetDigest(rules: readonly EnforceRule[]): string {
  return createHash('sha256').update(JSON.stringify(describeRules(rules, false))).digest('hex');
}

function canonicalEntry(e: EgressAllow): string {
  const v4 = e.prefix >= 96 && e.address.subarray(0, 10).every((b) => b === 0) && e.address[10] === 0xff && e.address[11] === 0xff;
  const host = v4 ? `${[...e.address.subarray(12)].join('.')}/${e.prefix - 96}` : `[${Address6.fromByteArray([...e.address]).correctForm()}/${e.prefix}]`;
  return `${host}:${e.portLow}-${e.portHigh}/${e.protocol}`;
}

function rulesDigest(rules: readonly EnforceRule[]): string {
  return createHash('sha256').update(JSON.stringify(describeRules(rules))).digest('hex');
}
