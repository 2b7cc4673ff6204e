// The second pass, nodes -> typed instructions, as BuildKit's `instructions` package
// parses each node into a typed command: argument counts, the flags (checked, then typed
// on the instruction), HEALTHCHECK durations, FROM/stage names, ONBUILD triggers.
//
// Words stay raw: expanding them needs the ARG/ENV scope at that point of the stage, which
// only the converter has. For the same reason the values of RUN's flags are decoded by the
// converter at dispatch (run-options.ts); what can be checked from the text alone is
// checked here.
import { ExpansionError, fail } from './errors.js';
import { lex } from './expand.js';
import { parseGoDuration } from './duration.js';
import { boolFlag, flagValue, flagValues, parseFlags } from './flags.js';
import { goQuote, trimSpace } from './gostring.js';
import { parseHeredocMarker } from './heredoc.js';
import type { RawNode } from './node.js';
import { KEYWORDS } from './types.js';
import type {
  ArgInstruction,
  CommandForm,
  CopyInstruction,
  FromInstruction,
  HealthcheckInstruction,
  Heredoc,
  Instruction,
  InstructionFlag,
  KeyValue,
  OnbuildInstruction,
  RunInstruction,
  SourceRange,
} from './types.js';

export interface ParseOptions {
  /** Reject an unterminated quote in ENV/LABEL keys and values and ARG defaults
   * (`unterminated-quote`). Docker's parser accepts them and only fails when the
   * instruction is expanded during the build, so the default is false: BuildKit's own
   * parser test file `testfiles/env` has `ENV name='a\'b'`, which parses but cannot build. */
  checkQuotes?: boolean;
}

/** What every instruction carries besides its keyword. */
interface Common {
  text: string;
  range: SourceRange;
  flags: InstructionFlag[];
}

const KNOWN_INSTRUCTIONS = new Set<string>(KEYWORDS.map((k) => k.toLowerCase()));
const RE_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;
const MIN_INTERVAL_NS = 1_000_000n;

/** The entries of `o` that are defined: optional fields stay absent rather than undefined. */
function defined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function commandForm(node: RawNode): CommandForm {
  return node.json ? { form: 'exec', args: [...node.args] } : { form: 'shell', command: node.args[0] ?? '' };
}

/** Rejects an unterminated quote in a word that the converter will expand later. */
function checkQuotes(word: string, escape: string): void {
  try {
    lex(word, () => undefined, { escape, skipUnset: true });
  } catch (e) {
    if (e instanceof ExpansionError && e.code === 'unterminated-quote') fail('unterminated-quote', e.message);
  }
}

export function toInstruction(node: RawNode, escape: string, opts: ParseOptions): Instruction {
  const lower = node.keyword.toLowerCase();
  if (!KNOWN_INSTRUCTIONS.has(lower)) fail('unknown-instruction', `unknown instruction: ${node.keyword}`);
  const keyword = lower.toUpperCase();
  const range: SourceRange = { startLine: node.startLine, endLine: node.endLine };
  if (node.continuedAtEof && node.args.length === 0 && !node.sub) {
    fail('unterminated-continuation', `${keyword} ends with a line continuation at the end of the file and has no arguments`);
  }
  const flags = parseFlags(node, range);
  const base: Common = { text: trimSpace(node.original), range, flags };
  const args = node.args;
  const exactlyOne = (): string => {
    if (args.length !== 1) fail(args.length === 0 ? 'missing-arguments' : 'too-many-arguments', `${keyword} requires exactly one argument`);
    return args[0] as string;
  };

  switch (lower) {
    case 'from':
      return fromInstruction(args, base);
    case 'run':
      return runInstruction(node, base);
    case 'cmd':
      return { ...base, keyword: 'CMD', command: commandForm(node) };
    case 'entrypoint':
      return { ...base, keyword: 'ENTRYPOINT', command: commandForm(node) };
    case 'shell':
      if (args.length === 0) fail('missing-arguments', 'SHELL requires at least one argument');
      if (!node.json) fail('invalid-json', 'SHELL requires the arguments to be in JSON form');
      return { ...base, keyword: 'SHELL', args: [...args] };
    case 'copy':
    case 'add':
      return copyInstruction(node, keyword as CopyInstruction['keyword'], base);
    case 'env':
    case 'label': {
      const pairs = keyValuePairs(args, keyword, escape, opts);
      return lower === 'env' ? { ...base, keyword: 'ENV', pairs } : { ...base, keyword: 'LABEL', pairs };
    }
    case 'arg':
      return argInstruction(args, base, escape, opts);
    case 'workdir':
      return { ...base, keyword: 'WORKDIR', path: exactlyOne() };
    case 'user':
      return { ...base, keyword: 'USER', user: exactlyOne() };
    case 'stopsignal':
      return { ...base, keyword: 'STOPSIGNAL', signal: exactlyOne() };
    case 'maintainer':
      return { ...base, keyword: 'MAINTAINER', maintainer: exactlyOne() };
    case 'expose':
      if (args.length === 0) fail('missing-arguments', 'EXPOSE requires at least one argument');
      return { ...base, keyword: 'EXPOSE', ports: [...args] };
    case 'volume': {
      if (args.length === 0) fail('missing-arguments', 'VOLUME requires at least one argument');
      const paths = args.map((v) => trimSpace(v));
      if (paths.some((p) => p === '')) fail('missing-arguments', 'VOLUME specified can not be an empty string');
      return { ...base, keyword: 'VOLUME', paths };
    }
    case 'healthcheck':
      return healthcheckInstruction(node, base);
    case 'onbuild':
      return onbuildInstruction(node, base);
    default:
      return fail('unknown-instruction', `unknown instruction: ${node.keyword}`);
  }
}

function fromInstruction(args: string[], base: Common): FromInstruction {
  let stageName: string | undefined;
  if (args.length === 3 && (args[1] as string).toLowerCase() === 'as') {
    stageName = (args[2] as string).toLowerCase();
    if (!RE_STAGE_NAME.test(stageName)) {
      fail('invalid-stage-name', `invalid name for build stage: ${goQuote(args[2] as string)}, name can't start with a number or contain symbols`);
    }
  } else if (args.length !== 1) {
    fail(args.length === 0 ? 'missing-arguments' : 'too-many-arguments', 'FROM requires either one or three arguments');
  }
  return { ...base, keyword: 'FROM', image: args[0] as string, ...defined({ stageName, platform: flagValue(base.flags, 'platform') }) };
}

function runInstruction(node: RawNode, base: Common): RunInstruction {
  const flags = base.flags;
  return {
    ...base,
    keyword: 'RUN',
    command: commandForm(node),
    heredocs: node.heredocs,
    mounts: flagValues(flags, 'mount'),
    ...defined({ network: flagValue(flags, 'network'), security: flagValue(flags, 'security') }),
  };
}

function copyInstruction(node: RawNode, keyword: CopyInstruction['keyword'], base: Common): CopyInstruction {
  const args = node.args;
  if (args.length < 2) {
    fail('missing-arguments', `${keyword} requires at least two arguments, but only one was provided. Destination could not be determined`);
  }
  const destination = args[args.length - 1] as string;
  if (!node.json && parseHeredocMarker(destination)) fail('invalid-instruction', `${keyword} cannot accept a heredoc as a destination`);
  const sources: string[] = [];
  const heredocs: Heredoc[] = [];
  for (const src of args.slice(0, -1)) {
    const marker = node.json ? undefined : parseHeredocMarker(src);
    const doc = marker && node.heredocs.find((h) => h.name === marker.name);
    if (doc) heredocs.push(doc);
    else sources.push(src);
  }
  const flags = base.flags;
  return {
    ...base,
    keyword,
    sources,
    destination,
    heredocs,
    exclude: flagValues(flags, 'exclude'),
    ...defined({
      from: flagValue(flags, 'from'),
      chown: flagValue(flags, 'chown'),
      chmod: flagValue(flags, 'chmod'),
      link: boolFlag(flags, 'link'),
      parents: boolFlag(flags, 'parents'),
      checksum: flagValue(flags, 'checksum'),
      keepGitDir: boolFlag(flags, 'keep-git-dir'),
      unpack: boolFlag(flags, 'unpack'),
    }),
  };
}

function keyValuePairs(args: string[], keyword: string, escape: string, opts: ParseOptions): KeyValue[] {
  if (args.length === 0) fail('missing-arguments', `${keyword} requires at least one argument`);
  const pairs: KeyValue[] = [];
  for (let j = 0; j + 1 < args.length; j += 2) {
    const key = args[j] as string;
    const value = args[j + 1] as string;
    if (key === '') fail('missing-arguments', `${keyword} names can not be blank`);
    if (opts.checkQuotes) {
      checkQuotes(key, escape);
      checkQuotes(value, escape);
    }
    pairs.push({ key, value });
  }
  return pairs;
}

function argInstruction(args: string[], base: Common, escape: string, opts: ParseOptions): ArgInstruction {
  if (args.length === 0) fail('missing-arguments', 'ARG requires at least one argument');
  const out: ArgInstruction['args'] = [];
  for (const a of args) {
    const eq = a.indexOf('=');
    if (eq < 0) {
      out.push({ name: a });
      continue;
    }
    if (eq === 0) fail('missing-arguments', 'ARG names can not be blank');
    const defaultValue = a.slice(eq + 1);
    if (opts.checkQuotes) checkQuotes(defaultValue, escape);
    out.push({ name: a.slice(0, eq), defaultValue });
  }
  return { ...base, keyword: 'ARG', args: out };
}

function parseInterval(flags: InstructionFlag[], name: string): number | undefined {
  const v = flagValue(flags, name);
  if (v === undefined || v === '') return undefined;
  const r = parseGoDuration(v);
  if (!r.ok) fail('invalid-duration', r.error);
  if (r.ns !== 0n && r.ns < MIN_INTERVAL_NS) fail('invalid-duration', `Interval ${goQuote(name)} cannot be less than 1ms`);
  return Number(r.ns);
}

function healthcheckInstruction(node: RawNode, base: Common): HealthcheckInstruction {
  if (node.args.length === 0) fail('missing-arguments', 'HEALTHCHECK requires at least one argument');
  const typ = (node.args[0] as string).toUpperCase();
  const rest = node.args.slice(1);
  if (typ === 'NONE') {
    if (rest.length !== 0) fail('too-many-arguments', 'HEALTHCHECK NONE takes no arguments');
    return { ...base, keyword: 'HEALTHCHECK', check: { kind: 'none' } };
  }
  if (typ !== 'CMD') fail('invalid-instruction', `Unknown type ${goQuote(typ)} in HEALTHCHECK (try CMD)`);
  if (rest.length === 0 || (!node.json && rest[0] === '')) fail('missing-arguments', 'Missing command after HEALTHCHECK CMD');
  const command: CommandForm = node.json ? { form: 'exec', args: rest } : { form: 'shell', command: rest[0] as string };
  const check: HealthcheckInstruction['check'] & { kind: 'cmd' } = { kind: 'cmd', command };
  const interval = parseInterval(base.flags, 'interval');
  const timeout = parseInterval(base.flags, 'timeout');
  const startPeriod = parseInterval(base.flags, 'start-period');
  const startInterval = parseInterval(base.flags, 'start-interval');
  if (interval !== undefined) check.intervalNs = interval;
  if (timeout !== undefined) check.timeoutNs = timeout;
  if (startPeriod !== undefined) check.startPeriodNs = startPeriod;
  if (startInterval !== undefined) check.startIntervalNs = startInterval;
  const retries = flagValue(base.flags, 'retries');
  if (retries !== undefined && retries !== '') {
    if (!/^[+-]?\d+$/.test(retries)) fail('invalid-flag', `invalid value for --retries: ${goQuote(retries)}`);
    const n = Number(retries);
    if (n > 2147483647 || n < -2147483648) fail('invalid-flag', `--retries value out of range: ${goQuote(retries)}`);
    if (n < 0) fail('invalid-flag', `--retries cannot be negative (${n})`);
    check.retries = n;
  }
  return { ...base, keyword: 'HEALTHCHECK', check };
}

function onbuildInstruction(node: RawNode, base: Common): OnbuildInstruction {
  if (!node.sub) fail('missing-arguments', 'ONBUILD requires at least one argument');
  const trigger = node.sub.keyword.toUpperCase();
  if (trigger === 'ONBUILD') fail('invalid-instruction', "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  if (trigger === 'MAINTAINER' || trigger === 'FROM') fail('invalid-instruction', `${trigger} isn't allowed as an ONBUILD trigger`);
  let expression = node.original.replace(/^\s*ONBUILD\s*/i, '');
  for (const h of node.heredocs) expression += '\n' + h.content + h.name;
  return { ...base, keyword: 'ONBUILD', trigger: expression };
}
