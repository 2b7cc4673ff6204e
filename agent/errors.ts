// The agent's errors: on the builder (`tracebuild agent`) and on the client (reaching the
// agent, reading a trace from it). Messages say what and where: the agent's address, the
// certificate file, the build.
import { TracebuildError, type ExitKind } from '../common/index.js';

export type AgentErrorCode =
  /** The server's certificate, key or client CA cannot be used (names the file). */
  | 'tls-config'
  /** The agent cannot listen on its address. */
  | 'listen-failed'
  /** The daemon the agent fronts does not answer. */
  | 'upstream-unreachable'
  /** The agent cannot trace (its probe could not start or died). */
  | 'tracing-unavailable'
  /** A client could not reach the agent, or lost it. */
  | 'agent-unreachable'
  /** The agent refused the request (another client's build, a build already started). */
  | 'refused'
  /** No trace matches, or none this client may read. */
  | 'not-found'
  /** The agent answered something this client does not understand. */
  | 'protocol'
  /** The agent's signing key cannot be used. */
  | 'signing-key';

const EXIT: Record<AgentErrorCode, ExitKind> = {
  'tls-config': 'input',
  'listen-failed': 'unreachable',
  'upstream-unreachable': 'unreachable',
  'tracing-unavailable': 'trace',
  'agent-unreachable': 'unreachable',
  refused: 'auth',
  'not-found': 'input',
  protocol: 'remote',
  'signing-key': 'input',
};

export class AgentError extends TracebuildError<AgentErrorCode> {
  override readonly name = 'AgentError';
  readonly exit: ExitKind;
  constructor(code: AgentErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.exit = EXIT[code];
  }
}
