// The build's global scope, as BuildKit's converter sets it up before any stage: the
// platform ARGs, then the ARGs before the first FROM, each overridden by a --build-arg of
// its name. FROM lines (image, --platform) expand in it; a stage's ARG without a default
// takes its value from it; the proxy variables among the build args go to every RUN.
import { ExpansionBudget, expandWord, ExpansionError } from '../../dockerfile-parser/index.js';
import type { DockerfileAst } from '../../dockerfile-parser/index.js';
import type { ProxyEnv } from '../llb/index.js';
import { ConvertError } from './errors.js';
import { formatPlatform } from './platform.js';
import type { Platform } from './types.js';

/** Global ARGs (platform args first), --build-arg overrides applied; no value = declared, unset. */
export type MetaArgs = { key: string; value?: string }[];

export interface GlobalScope {
  metaArgs: MetaArgs;
  /** Expands a word of a FROM line in the global scope; errors name `line`. */
  expand(word: string, line: number): string;
}

export function globalScope(ast: DockerfileAst, buildArgs: Record<string, string>, buildPlatform: Platform, targetPlatform: Platform): GlobalScope {
  const file = ast.fileName;
  const override = (key: string, value: string | undefined): string | undefined =>
    Object.prototype.hasOwnProperty.call(buildArgs, key) ? buildArgs[key] : value;
  const metaArgs: MetaArgs = [];
  const platformArgs: Record<string, string> = {
    BUILDPLATFORM: formatPlatform(buildPlatform),
    BUILDOS: buildPlatform.os,
    BUILDARCH: buildPlatform.architecture,
    BUILDVARIANT: buildPlatform.variant ?? '',
    TARGETPLATFORM: formatPlatform(targetPlatform),
    TARGETOS: targetPlatform.os,
    TARGETARCH: targetPlatform.architecture,
    TARGETVARIANT: targetPlatform.variant ?? '',
  };
  for (const [k, v] of Object.entries(platformArgs)) metaArgs.push({ key: k, value: override(k, v) as string });
  const lookup = (name: string): string | undefined => {
    // Declared-but-unset global ARGs expand to '' (BuildKit maps them to empty strings).
    let v: string | undefined;
    for (const m of metaArgs) if (m.key === name) v = m.value ?? '';
    return v;
  };
  const budget = new ExpansionBudget();
  const expand = (word: string, line: number): string => {
    try {
      return expandWord(word, lookup, ast.directives.escape, budget);
    } catch (e) {
      if (e instanceof ExpansionError) throw new ConvertError('expansion-failed', file, line, e.message, { cause: e });
      throw e;
    }
  };
  for (const inst of ast.globalArgs) {
    for (const a of inst.args) {
      const def = a.defaultValue === undefined ? undefined : expand(a.defaultValue, inst.range.startLine);
      const value = override(a.name, def);
      metaArgs.push(value === undefined ? { key: a.name } : { key: a.name, value });
    }
  }
  return { metaArgs, expand };
}

/** The proxy variables among the build args (any case), for every RUN's exec. */
export function proxyEnvFrom(args: Record<string, string>): ProxyEnv | undefined {
  let found = false;
  const pe: ProxyEnv = {};
  for (const [k, v] of Object.entries(args)) {
    const key = k.toLowerCase();
    if (key === 'http_proxy') pe.httpProxy = v;
    else if (key === 'https_proxy') pe.httpsProxy = v;
    else if (key === 'ftp_proxy') pe.ftpProxy = v;
    else if (key === 'no_proxy') pe.noProxy = v;
    else continue;
    found = true;
  }
  return found ? pe : undefined;
}

/**
 * The build arguments BuildKit's own Dockerfile frontend reads as its options (they are
 * not ARGs of the Dockerfile): BUILDKIT_SANDBOX_HOSTNAME (the hostname of every RUN) and
 * BUILDKIT_CACHE_MOUNT_NS (prefixed to cache mount ids). BUILDKIT_CONTEXT_KEEP_GIT_DIR
 * only applies to a git build context and BUILDKIT_MULTI_PLATFORM to the exporter and
 * vertex names; tracebuild has neither remote contexts nor multi-platform exports, so
 * they change nothing here.
 */
export function frontendArgsFrom(args: Record<string, string>): { hostname?: string; cacheMountNs: string } {
  const hostname = args['BUILDKIT_SANDBOX_HOSTNAME'];
  return { ...(hostname ? { hostname } : {}), cacheMountNs: args['BUILDKIT_CACHE_MOUNT_NS'] ?? '' };
}
