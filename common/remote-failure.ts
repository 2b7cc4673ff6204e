// What a daemon's or a registry's error message says about the remote end: that it wanted
// credentials or refused them, or that it could not be reached. BuildKit, containerd,
// dockerd and the registry report these only as text (the gRPC status of a failed pull is
// UNKNOWN), so the text is all there is to go by; the patterns are the phrasings those
// programs use (Go's net errors, containerd's resolver, the distribution error codes).
import type { ExitKind } from './errors.js';

const AUTH = [
  /\b401 Unauthorized\b/i,
  /\b403 Forbidden\b/i,
  /\bunauthorized\b/i,
  /\bauthentication required\b/i,
  /\binsufficient_scope\b/,
  /\b(?:pull|push) access denied\b/i,
  /\bdenied: requested access to the resource is denied\b/i,
  /\bno basic auth credentials\b/i,
  /\bfailed to authorize\b/i,
];

const UNREACHABLE = [
  /\bconnect: connection refused\b/i,
  /\bno such host\b/i,
  /\bi\/o timeout\b/i,
  /\bnetwork is unreachable\b/i,
  /\bno route to host\b/i,
  /\bTLS handshake timeout\b/i,
  /\bserver misbehaving\b/i,
  /\b(?:ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN)\b/,
];

/** A step's own command failing: its text is the user's command line, not the daemon's word
 * (BuildKit v0.13: `process "..." did not complete successfully`; v0.8: `executor failed
 * running [...]`). */
const PROCESS_FAILED = /did not complete successfully: exit code|executor failed running \[/;

/** `auth` or `unreachable` when the message says so, else undefined (authentication wins:
 * a refused login is the thing to fix, whatever else the message says). */
export function remoteFailureKind(message: string): Extract<ExitKind, 'auth' | 'unreachable'> | undefined {
  if (PROCESS_FAILED.test(message)) return undefined;
  if (AUTH.some((p) => p.test(message))) return 'auth';
  if (UNREACHABLE.some((p) => p.test(message))) return 'unreachable';
  return undefined;
}
