import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { UsageError } from '../errors.js';
import { addExecFlags, execDefaults, parseAddHost, parseShmSize, parseUlimit, type ExecFlags } from './exec-flags.js';

describe('build exec flags', () => {
  it('--add-host takes HOST:IP, HOST=IP and IPv6 (bracketed or not)', () => {
    expect(parseAddHost('db:10.0.0.5')).toEqual({ host: 'db', ip: '10.0.0.5' });
    expect(parseAddHost('db=10.0.0.5')).toEqual({ host: 'db', ip: '10.0.0.5' });
    expect(parseAddHost('v6:::1')).toEqual({ host: 'v6', ip: '::1' });
    expect(parseAddHost('v6=[fe80::1]')).toEqual({ host: 'v6', ip: 'fe80::1' });
    for (const bad of ['db', ':10.0.0.1', 'db:notanip', 'db:host-gateway']) expect(() => parseAddHost(bad)).toThrow(UsageError);
  });

  it('--shm-size reads sizes as docker does (1024-based units)', () => {
    expect(parseShmSize('1048576')).toBe(1048576);
    expect(parseShmSize('64m')).toBe(64 * 1024 * 1024);
    expect(parseShmSize('1g')).toBe(1024 ** 3);
    expect(parseShmSize('512kb')).toBe(512 * 1024);
    expect(parseShmSize('2MiB')).toBe(2 * 1024 * 1024);
    for (const bad of ['', '0', '-1m', 'big', '12x']) expect(() => parseShmSize(bad)).toThrow(UsageError);
  });

  it('--ulimit takes NAME=SOFT[:HARD] for the names docker knows', () => {
    expect(parseUlimit('nofile=1024:2048')).toEqual({ name: 'nofile', soft: 1024, hard: 2048 });
    expect(parseUlimit('nproc=50')).toEqual({ name: 'nproc', soft: 50, hard: 50 });
    expect(parseUlimit('core=-1')).toEqual({ name: 'core', soft: -1, hard: -1 });
    for (const bad of ['nofile', 'files=1', 'nofile=a', 'nofile=10:5', 'nofile=1:2:3']) expect(() => parseUlimit(bad)).toThrow(UsageError);
  });

  it('gathers the flags given, comma-separated stage lists split, and nothing when none is', () => {
    expect(execDefaults({})).toBeUndefined();
    expect(execDefaults({ pull: true, addHost: ['a:10.0.0.1'], shmSize: '1m', ulimit: ['nofile=5'], cacheFilter: ['build,test', 'lint'] })).toEqual({
      pull: true,
      extraHosts: [{ host: 'a', ip: '10.0.0.1' }],
      shmSize: 1048576,
      ulimits: [{ name: 'nofile', soft: 5, hard: 5 }],
      noCacheFilter: ['build', 'test', 'lint'],
    });
    expect(() => execDefaults({ cacheFilter: [','] })).toThrow(UsageError);
    // commander's value when --no-cache-filter is absent
    expect(execDefaults({ cacheFilter: true })).toBeUndefined();
  });

  it('reads the flags from a command line next to --no-cache, which keeps its own meaning', () => {
    const parse = (argv: string[]): ExecFlags & { cache?: boolean } => {
      const cmd = addExecFlags(new Command().option('--no-cache').exitOverride());
      cmd.parse(argv, { from: 'user' });
      return cmd.opts();
    };
    const flags = parse(['--no-cache-filter', 'one', '--no-cache-filter', 'two,three', '--pull', '--ulimit', 'nofile=5', '--add-host', 'h:10.0.0.1', '--shm-size', '2m']);
    expect(flags.cache).toBe(true);
    expect(execDefaults(flags)).toEqual({
      pull: true,
      extraHosts: [{ host: 'h', ip: '10.0.0.1' }],
      shmSize: 2 * 1024 * 1024,
      ulimits: [{ name: 'nofile', soft: 5, hard: 5 }],
      noCacheFilter: ['one', 'two', 'three'],
    });
    const none = parse(['--no-cache']);
    expect(none.cache).toBe(false);
    expect(execDefaults(none)).toBeUndefined();
  });
});
