// Instruction flags, as BuildKit's BFlags: which `--flags` each keyword takes and of what
// kind, checked when an instruction is parsed (unknown, repeated, missing or non-boolean
// values), then read typed onto the instruction (see instructions.ts).
import { fail } from './errors.js';
import { goQuote } from './gostring.js';
import type { RawNode } from './node.js';
import type { InstructionFlag, SourceRange } from './types.js';

type FlagKind = 'string' | 'bool' | 'array';

const FLAG_SPECS: Record<string, Record<string, FlagKind>> = {
  from: { platform: 'string' },
  run: { mount: 'array', network: 'string', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'array' },
  add: {
    chown: 'string',
    chmod: 'string',
    link: 'bool',
    checksum: 'string',
    'keep-git-dir': 'bool',
    unpack: 'bool',
    exclude: 'array',
  },
  healthcheck: {
    interval: 'string',
    timeout: 'string',
    'start-period': 'string',
    'start-interval': 'string',
    retries: 'string',
  },
};

/** The node's flag words as `{name, value}`, or a ParseFailure naming the first bad one. */
export function parseFlags(node: RawNode, range: SourceRange): InstructionFlag[] {
  const spec = FLAG_SPECS[node.keyword.toLowerCase()] ?? {};
  const seen = new Set<string>();
  const out: InstructionFlag[] = [];
  for (const word of node.flags) {
    if (!word.startsWith('--')) fail('invalid-flag', `Arg ${goQuote(word)} must start with "--"`);
    let name = word.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    const kind = Object.prototype.hasOwnProperty.call(spec, name) ? spec[name] : undefined;
    if (kind === undefined) fail('invalid-flag', `unknown flag: ${name}`);
    if (kind !== 'array' && seen.has(name)) fail('invalid-flag', `duplicate flag specified: ${name}`);
    seen.add(name);
    if (kind === 'bool') {
      if (value !== undefined && !['', 'true', 'false'].includes(value.toLowerCase())) {
        fail('invalid-flag', `expecting boolean value for flag ${name}, not: ${value}`);
      }
    } else if (value === undefined) {
      fail('invalid-flag', `missing a value on flag: ${name}`);
    }
    out.push({ name, value: value ?? true, range: { ...range } });
  }
  return out;
}

/** The value of a string flag (the parser takes it once at most); undefined when not given. */
export function flagValue(flags: InstructionFlag[], name: string): string | undefined {
  const f = flags.find((x) => x.name === name);
  return f === undefined || f.value === true ? undefined : f.value;
}


/** A boolean flag: given alone, empty or `true` (any case) is true, `false` false. */
export function boolFlag(flags: InstructionFlag[], name: string): boolean | undefined {
  const f = flags.find((x) => x.name === name);
  if (f === undefined) return undefined;
  return f.value === true || f.value.toLowerCase() !== 'false';
}

/** Every value of a repeatable flag, in order. */
export function flagValues(flags: InstructionFlag[], name: string): string[] {
  return flags.flatMap((f) => (f.name === name && f.value !== true ? [f.value] : []));
}
