// Why a build cannot be traced here: the tracer raises it when its probe cannot start, and
// the CLI when it has no tracer at all, each with what to do. One error for both, so that
// every reader (the exit code table, the build's message) knows it by one class.
import { TracebuildError, type ExitKind } from '../common/index.js';

export type TracerUnavailableCode =
  | 'not-root'
  | 'bpf-unavailable'
  | 'probe-not-built'
  | 'no-tracer'
  | 'start-failed'
  /** The daemon runs on another host with no tracebuild agent in front of it. */
  | 'remote-daemon'
  /** The tracebuild agent in front of the daemon cannot trace now. */
  | 'agent-cannot-trace';

/** The tracer cannot run here; the message says why and what to do. */
export class TracerUnavailableError extends TracebuildError<TracerUnavailableCode> {
  override readonly name = 'TracerUnavailableError';
  readonly exit: ExitKind = 'trace';
  constructor(code: TracerUnavailableCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
