// Converting a Dockerfile given as text, for the converter's unit tests: options with the
// defaults of `tracebuild convert` (no build args, no daemon), and the ConvertError a
// Dockerfile must fail with.
import { parseDockerfile } from '../../dockerfile-parser/index.js';
import { ConvertError, convertDockerfile, type Conversion, type ConvertOptions } from '../../frontend/convert/index.js';

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
