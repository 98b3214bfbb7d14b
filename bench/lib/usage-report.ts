/**
 * Run inside a benchmark child: when the process exits (normally, by
 * process.exit, or after SIGTERM handling), write its own CPU time and peak
 * RSS to the file named by BENCH_REPORT. getrusage is exact where polling
 * /proc from outside could miss the last moments of a process that exits as
 * soon as it completes.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

export interface UsageReport {
  pid: number;
  userSec: number;
  systemSec: number;
  /** Peak resident set size (getrusage ru_maxrss), bytes. */
  maxRssBytes: number;
  /** CPU seconds (user, system) of each thread still alive at exit, by thread id (Linux only). */
  threads?: Array<{ tid: number; userSec: number; systemSec: number }>;
}

/** utime and stime of each thread of this process, from /proc/self/task (empty elsewhere). */
function threadTimes(): Array<{ tid: number; userSec: number; systemSec: number }> {
  try {
    return readdirSync('/proc/self/task').map((tid) => {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { tid: Number(tid), userSec: Number(f[11]) / 100, systemSec: Number(f[12]) / 100 };
    });
  } catch {
    return [];
  }
}

export function reportUsageOnExit(path: string | undefined = process.env.BENCH_REPORT): void {
  if (!path) return;
  process.on('exit', () => {
    const r = process.resourceUsage();
    const report: UsageReport = {
      pid: process.pid,
      userSec: r.userCPUTime / 1e6,
      systemSec: r.systemCPUTime / 1e6,
      maxRssBytes: r.maxRSS * 1024, // Node reports kilobytes
      threads: threadTimes(),
    };
    writeFileSync(path, JSON.stringify(report));
  });
}
