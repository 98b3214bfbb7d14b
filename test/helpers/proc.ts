/**
 * What a child process holds, read from /proc (Linux): resident memory and
 * open file descriptors, for tests that check a process returns to its
 * baseline after an attack.
 */
import { readFile, readdir } from 'node:fs/promises';

/** Resident set size of `pid` in bytes (VmRSS). */
export async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]) * 1024;
}

/** Open file descriptors of `pid`. */
export async function fdCount(pid: number): Promise<number> {
  return (await readdir(`/proc/${pid}/fd`)).length;
}

/**
 * The lowest RSS seen over `ms` (sampled every 250 ms): V8 frees memory
 * lazily, so one sample right after an attack overstates what is held.
 */
export async function settledRss(pid: number, ms = 3000): Promise<number> {
  let low = Infinity;
  const end = Date.now() + ms;
  do {
    low = Math.min(low, await rssBytes(pid));
    await new Promise((r) => setTimeout(r, 250));
  } while (Date.now() < end);
  return low;
}
