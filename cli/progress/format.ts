// Small formatting helpers shared by the renderers.

import type { StatusView, VertexView } from './state.js';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** Decimal sizes with three significant digits, as docker prints them: `37B`, `2.81MB`. */
export function humanBytes(size: number): string {
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${Number(value.toPrecision(3))}${UNITS[unit]}`;
}

/** Seconds with one decimal: `0.2s`. */
export function seconds(milliseconds: number): string {
  return `${(Math.max(0, milliseconds) / 1000).toFixed(1)}s`;
}

/** `transferring context: 1.05MB / 2.81MB`: the status ID is its display text (BuildKit
 * puts the words there, e.g. `writing image sha256:...`, and a short action in `name`);
 * the progress part only when there is something to say. */
export function statusProgress(status: StatusView): string {
  const label = status.id !== '' ? status.id : status.name;
  if (status.total > 0) return `${label} ${humanBytes(status.current)} / ${humanBytes(status.total)}`;
  if (status.current > 0) return `${label} ${humanBytes(status.current)}`;
  return label;
}

/** How long a vertex has been running (or ran); 0 for a cached vertex never started. */
export function vertexDuration(vertex: VertexView, now: number): number {
  if (vertex.started === undefined) return 0;
  return (vertex.completed ?? now) - vertex.started;
}

/** Seconds since the vertex started, three decimals: the prefix of its output lines. */
export function logOffset(vertex: VertexView, time: number): string {
  const start = vertex.started ?? vertex.firstSeen;
  return (Math.max(0, time - start) / 1000).toFixed(3);
}
