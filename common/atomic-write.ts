// Writing a file whole or not at all: a temporary file beside the target, synced, then
// renamed over it. A reader never sees half a file, and a failed write leaves the old file
// (if any) alone. Used for every file that claims something (a trace, a report, an image
// id): a half-written one must never look like a result.

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** `content`: the bytes, or text in pieces (written one after the other, never joined: see
 * common/json-text.ts). */
export async function writeFileAtomic(path: string, content: string | Uint8Array | Iterable<string>, mode = 0o644): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let renamed = false;
  try {
    // 'wx': never follows or overwrites an existing file at the temporary name.
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
  } finally {
    if (!renamed) await unlink(temp).catch(() => undefined);
  }
}
