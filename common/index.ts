// The foundation every module may import: Docker's and Go's behaviour re-implemented once
// (paths, ignore patterns and globs, daemon addresses), the error model, and small helpers.
// It imports no other module of tracebuild.
export { cleanPath, joinPath } from './go-path.js';
export {
  BadPatternError,
  PatternMatcher,
  containsWildcards,
  goMatch,
  normalizeDockerignore,
  parseDockerignore,
} from './patterns.js';
export {
  DEFAULT_DOCKER_HOST,
  DEFAULT_DOCKER_TCP_PORT,
  UnsupportedAddressError,
  describeTarget,
  dockerHostFromEnv,
  dockerHostTarget,
  parseDaemonAddress,
  parseSshAddress,
  type DialTarget,
  type SshTarget,
} from './docker-host.js';
export { SshDialError, dialSsh, sshDialArgs } from './ssh-dial.js';
export {
  DEFAULT_DOCKER_TLS_PORT,
  TlsConfigError,
  buildkitTlsFromEnv,
  describeTlsError,
  dockerTlsFromEnv,
  loadTlsClientMaterial,
  tlsConnectOptions,
  type TlsClientFiles,
  type TlsClientMaterial,
  type TlsConfigErrorCode,
} from './tls.js';
export { Glob, codePoints, type GlobClassItem, type GlobToken } from './glob.js';
export { oneLine, visible } from './text.js';
export { writeFileAtomic } from './atomic-write.js';
export { jsonPieces } from './json-text.js';
export { TracebuildError, isTracebuildError, type ExitKind, type SourceLocation, type TracebuildErrorOptions } from './errors.js';
export { remoteFailureKind } from './remote-failure.js';
export {
  DOCKER_HUB,
  InvalidReferenceError,
  checkDigest,
  familiarImageReference,
  formatImageReference,
  isValidTag,
  parseImageReference,
  parseImageReferenceWithDefaultTag,
  type ImageReferenceParts,
} from './image-reference.js';
export { USER_FILE_LIMITS, UserFileError, readUserFile, type ReadUserFileOptions, type UserFileErrorCode } from './user-file.js';
