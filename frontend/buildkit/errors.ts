// Typed errors with a string-union `code` (asserted by tests) and the underlying `cause`;
// `exit` says how the command ends (common/errors.ts). Messages are one line: the CLI
// prints them as they are.
import { TracebuildError, oneLine, remoteFailureKind, type ExitKind } from '../../common/index.js';

export type BuildKitConnectionErrorCode =
  | 'unreachable' // nothing listens / refused / timed out at the address
  | 'not-buildkit' // something answered, but not BuildKit (e.g. HTTP 404 on /grpc)
  | 'unsupported-address' // an address scheme this client cannot dial
  | 'grpc-failed'; // the upgrade worked but the gRPC call failed

export class BuildKitConnectionError extends TracebuildError<BuildKitConnectionErrorCode> {
  override readonly name = 'BuildKitConnectionError';
  readonly exit: ExitKind = 'unreachable';
  readonly address: string;

  constructor(code: BuildKitConnectionErrorCode, address: string, reason: string, options?: { cause?: unknown }) {
    super(code, `cannot connect to BuildKit at ${address}: ${oneLine(reason)}`, options);
    this.address = address;
  }
}

export type SolveErrorCode =
  | 'solve-failed' // the daemon failed the build; message is the daemon's
  | 'cancelled' // the caller's AbortSignal fired
  | 'session-failed' // the session (context upload, secrets) could not be attached
  | 'gateway-failed' // an LLBBridge call failed (e.g. image config resolution)
  | 'connection-lost'; // the daemon went away mid-build

export class SolveError extends TracebuildError<SolveErrorCode> {
  override readonly name = 'SolveError';
  readonly exit: ExitKind;

  constructor(code: SolveErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    if (code === 'cancelled') this.exit = 'canceled';
    else if (code === 'connection-lost') this.exit = 'unreachable';
    // A pull the registry refused, or a registry the daemon could not reach, is not a
    // failed build step (the daemon's message is the only place that says which).
    else if (code === 'solve-failed' || code === 'gateway-failed') this.exit = remoteFailureKind(message) ?? 'build';
    else this.exit = 'build';
  }
}
