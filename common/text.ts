// Text helpers for messages.

/** A message on one line: each line trimmed, blank ones dropped, the rest joined by one
 * space. Daemon, registry and library messages sometimes carry newlines and indentation,
 * which would break the one-line errors and log lines we print. */
export function oneLine(text: string): string {
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '')
    .join(' ');
}
