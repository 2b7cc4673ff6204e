// Building HTML where escaping is the default: the `html` tag escapes every interpolated
// value unless it is itself `Html` (made by `html` or `raw`). Strings are also made visible
// (control and bidi characters as escapes, see model.ts): trace strings are untrusted.

import { visible } from '../../common/index.js';

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type HtmlPart = Html | string | number | boolean | null | undefined | readonly HtmlPart[];

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c);
}

function part(v: HtmlPart): string {
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false || v === true) return '';
  return escapeHtml(visible(String(v)));
}

/** Tagged template: literal parts are markup, interpolations are escaped text. */
export function html(strings: TemplateStringsArray, ...values: readonly HtmlPart[]): Html {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += part(v) + (strings[i + 1] ?? '');
  });
  return new Html(out);
}

/** Markup written by this program (never from a trace). */
export function raw(markup: string): Html {
  return new Html(markup);
}
