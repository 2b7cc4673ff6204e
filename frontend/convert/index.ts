// Dockerfile -> BuildKit LLB, image config and source map (pure; see convert.ts).
export { convertDockerfile, describeConversion } from './convert.js';
export { ConvertError } from './errors.js';
export type { ConvertErrorCode } from './errors.js';
export { NEWEST_CAPABILITIES, V0_8_LLB_CAPS, V0_13_FRONTEND_CAPS, V0_13_LLB_CAPS } from './capabilities.js';
export type {
  Platform,
  ResolvedImage,
  ImageConfigResolver,
  ConvertOptions,
  BuildStep,
  Conversion,
  ContextDirEntry,
  ContextDirReader,
  DaemonCapabilities,
} from './types.js';
