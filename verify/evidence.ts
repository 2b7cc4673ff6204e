// One line naming what a policy violation is about (a process, a file, a peer), made
// visible: the guard's refusals and verify's output print it.
import type { Evidence } from '../attest/index.js';
import { visible } from '../common/index.js';

export function evidenceLine(e: Evidence): string | undefined {
  switch (e.kind) {
    case 'process':
      return `process ${visible(e.exe)} sha256:${e.sha256 ?? '(unknown)'} (pid ${e.pid}${e.argv.length > 0 ? `: ${visible(e.argv.join(' '))}` : ''})`;
    case 'file':
      return e.from === undefined ? `file ${e.change} ${visible(e.path)}` : `file renamed ${visible(e.from)} -> ${visible(e.path)}`;
    case 'network':
      return `network ${e.protocol} ${e.direction} ${visible(e.address)}:${e.port}`;
    default:
      return undefined;
  }
}
