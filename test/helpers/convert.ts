// Converting a Dockerfile given as text, for the converter's unit tests: options with the
// defaults of `tracebuild convert` (no build args, no daemon), and the ConvertError a
// Dockerfile must fail with.
import { parseDockerfile } from '../../dockerfile-parser/index.js';
import { ConvertError, convertDockerfile, V0_13_FRONTEND_CAPS, V0_13_LLB_CAPS, V0_8_LLB_CAPS, type Conversion, type ConvertOptions } from '../../frontend/convert/index.js';

export function convertOptions(text: string, extra: Partial<ConvertOptions> = {}): ConvertOptions {
  return {
    dockerfile: parseDockerfile(text, 'Dockerfile'),
    buildArgs: {},
    labels: {},
    network: 'default',
    noCache: false,
    excludePatterns: [],
    ...extra,
  };
}

export const convertText = (text: string, extra: Partial<ConvertOptions> = {}): Promise<Conversion> => convertDockerfile(convertOptions(text, extra));

/** The ConvertError converting `text` fails with; throws when it succeeds or fails otherwise. */
export async function convertError(text: string, extra: Partial<ConvertOptions> = {}): Promise<ConvertError> {
  try {
    await convertText(text, extra);
  } catch (e) {
    if (e instanceof ConvertError) return e;
    throw new Error(`expected a ConvertError, got ${String(e)}`, { cause: e });
  }
  throw new Error('expected a ConvertError, but the conversion succeeded');
}

/** Conversion options for dockerd 20.10's BuildKit v0.8 (its LLB caps, Engine API 1.41). */
export const ON_V0_8: Partial<ConvertOptions> = {
  capabilities: { llb: V0_8_LLB_CAPS, engineApiVersion: '1.41', name: "dockerd 20.10.24's BuildKit (v0.8.x)" },
};

/** Conversion options for dockerd 26's BuildKit v0.13 (its LLB caps, Engine API 1.45). */
export const ON_V0_13: Partial<ConvertOptions> = {
  capabilities: { llb: V0_13_LLB_CAPS, frontend: V0_13_FRONTEND_CAPS, engineApiVersion: '1.45', name: "dockerd 26.1.5's BuildKit (v0.13.x)" },
};
