/**
 * `mkdir -p` that always ends. Node 20's recursive mkdir (fs.mkdir with
 * `recursive: true`, sync or not) loops for ever at full CPU when a folder
 * exists but refuses a child with ENOENT: `leech --out /proc/x` hung, and so
 * did a daemon whose working folder was deleted under it (its relative
 * state folder). Here each missing folder is made once, from the top down,
 * and the first refusal is the error.
 */
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

function fsError(code: string, message: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

/** Makes `dir` and its missing parents; a folder already there is fine, a file there is EEXIST (ENOTDIR for a parent). */
export async function makeDir(dir: string): Promise<void> {
  // resolve() asks for the working folder, which throws ENOENT if it was deleted: an error, not a loop.
  const target = resolve(dir);
  const missing: string[] = [];
  for (let p = target; ; p = dirname(p)) {
    try {
      const st = await stat(p);
      if (!st.isDirectory()) throw fsError(p === target ? 'EEXIST' : 'ENOTDIR', `not a folder, mkdir '${p === target ? p : target}'`);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw err;
      missing.push(p);
    }
  }
  for (const p of missing.reverse()) {
    try {
      await mkdir(p);
    } catch (err) {
      // Made meanwhile by someone else: fine. Anything else (ENOENT under /proc, EACCES, ENOSPC) is the answer.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
}
