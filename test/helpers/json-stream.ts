// The JSON objects of a stream printed one after another, each indented with its closing
// brace alone on a line (Go's encoder with an indent, as buildx's --progress rawjson). A
// line of anything else fails, naming it.
export function jsonValues(text: string, who = 'the output'): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  let pending: string[] = [];
  for (const line of text.split('\n')) {
    if (pending.length === 0 && line.trim() === '') continue;
    pending.push(line);
    if (line !== '}' && line !== '{}') continue;
    const chunk = pending.join('\n');
    pending = [];
    try {
      out.push(JSON.parse(chunk) as Record<string, unknown>);
    } catch {
      throw new Error(`${who}: not a JSON object: ${chunk.slice(0, 300)}`);
    }
  }
  if (pending.length > 0) throw new Error(`${who}: not a JSON object: ${pending.join('\n').slice(0, 300)}`);
  return out;
}
