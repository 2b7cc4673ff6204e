// Typed errors with a string-union `code` (asserted by tests, mapped to exit codes by the
// CLI) and the underlying `cause`. Messages are one line: the CLI prints them as they are.

export type BuildKitConnectionErrorCode =
  | 'unreachable' // nothing listens / refused / timed out at the address
  | 'not-buildkit' // something answered, but not BuildKit (e.g. HTTP 404 on /grpc)
  | 'unsupported-address' // an address scheme this client cannot dial
  | 'grpc-failed'; // the upgrade worked but the gRPC call failed

export class BuildKitConnectionError extends Error {
  override readonly name = 'BuildKitConnectionError';
  readonly code: BuildKitConnectionErrorCode;
  readonly address: string;

  constructor(code: BuildKitConnectionErrorCode, address: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot connect to BuildKit at ${address}: ${oneLine(reason)}`, options);
    this.code = code;
    this.address = address;
  }
}

export type SolveErrorCode =
  | 'solve-failed' // the daemon failed the build; message is the daemon's
  | 'cancelled' // the caller's AbortSignal fired
  | 'session-failed' // the session (context upload, secrets) could not be attached
  | 'gateway-failed' // an LLBBridge call failed (e.g. image config resolution)
  | 'connection-lost'; // the daemon went away mid-build

export class SolveError extends Error {
  override readonly name = 'SolveError';
  readonly code: SolveErrorCode;

  constructor(code: SolveErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Keeps an error message on one line (daemon messages sometimes carry newlines). */
export function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}
