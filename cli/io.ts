// What a command may touch of the outside world, injected so that tests use a string sink,
// a fake clock and a fake environment. Only `main.ts` builds the real one.

export interface TextSink {
  write(text: string): void;
}

export interface TerminalSink extends TextSink {
  /** True when the sink is an interactive terminal (drives `--progress auto`). */
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

/** Runs `fn` every `ms` milliseconds until the returned function is called. */
export type Ticker = (fn: () => void, ms: number) => () => void;

export interface CliIo {
  stdout: TextSink;
  stderr: TerminalSink;
  env: NodeJS.ProcessEnv;
  cwd: string;
  clock: Clock;
  ticker: Ticker;
  /** Aborted on Ctrl-C (SIGINT) or SIGTERM. */
  signal?: AbortSignal;
  /** How to start this CLI again (node, its flags, the script): `guard` runs itself as a supervised worker. */
  self?: { command: string; args: string[] };
  pid?: number;
}

export const systemClock: Clock = { now: () => Date.now() };

export const intervalTicker: Ticker = (fn, ms) => {
  const timer = setInterval(fn, ms);
  timer.unref();
  return () => clearInterval(timer);
};
