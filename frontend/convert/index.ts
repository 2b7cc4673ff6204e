// Dockerfile -> BuildKit LLB, image config and source map (pure; see convert.ts).
export { convertDockerfile, describeConversion } from './convert.js';
export { ConvertError } from './errors.js';
export type { ConvertErrorCode } from './errors.js';
export type {
  Platform,
  ResolvedImage,
  ImageConfigResolver,
  ConvertOptions,
  BuildStep,
  Conversion,
  ContextDirEntry,
  ContextDirReader,
} from './types.js';
