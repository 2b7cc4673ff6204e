// Docker's habits for repeated K=V flags.

import { UsageError } from './errors.js';

/** `--build-arg K=V` sets K; `--build-arg K` takes K from the environment and is ignored
 * when the environment has no K (docker does the same). Later values win. */
export function parseBuildArgs(values: readonly string[], env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq === -1 ? value : value.slice(0, eq);
    if (key === '') throw new UsageError('invalid-build-arg', `invalid argument "${value}" for "--build-arg" flag: empty name`);
    if (eq !== -1) {
      out[key] = value.slice(eq + 1);
      continue;
    }
    const fromEnv = env[key];
    if (fromEnv !== undefined) out[key] = fromEnv;
  }
  return out;
}

/** `--label K=V`; `--label K` sets an empty value, as docker does. */
export function parseLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const value of values) {
    const eq = value.indexOf('=');
    const key = eq === -1 ? value : value.slice(0, eq);
    if (key === '') throw new UsageError('invalid-label', `invalid argument "${value}" for "--label" flag: empty name`);
    out[key] = eq === -1 ? '' : value.slice(eq + 1);
  }
  return out;
}
