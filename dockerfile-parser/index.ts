export * from './types.js';
export { DockerfileError, ExpansionError } from './errors.js';
export type { DockerfileErrorCode, DockerfileErrorOptions, ExpansionErrorCode } from './errors.js';
export { expandWord, expandWords, expandWordDetailed, expandHeredoc, unquoteWord } from './expand.js';
export type { VariableLookup, EscapeChar, ExpansionDetail } from './expand.js';
export { goQuote } from './gostring.js';
export { parseHeredocMarker } from './lines.js';
export { parseDockerfile } from './parse.js';
export type { ParseOptions } from './instructions.js';
