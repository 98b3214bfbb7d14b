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
  /** read-type and write-type system calls of the whole life (/proc/self/io syscr, syscw; Linux only): sockets and files alike. */
  syscalls?: { reads: number; writes: number };
  /** Context switches: waits (voluntary) and preemptions (involuntary). */
  contextSwitches?: { voluntary: number; involuntary: number };
}

/** syscr and syscw of /proc/self/io, or undefined where there is none. */
function ioCalls(): { reads: number; writes: number } | undefined {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const n = (k: string): number => Number(new RegExp(`^${k}: (\\d+)`, 'm').exec(io)?.[1] ?? NaN);
    return { reads: n('syscr'), writes: n('syscw') };
  } catch {
    return undefined;
  }
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
      contextSwitches: { voluntary: r.voluntaryContextSwitches, involuntary: r.involuntaryContextSwitches },
    };
    const calls = ioCalls();
    if (calls) report.syscalls = calls;
    writeFileSync(path, JSON.stringify(report));
  });
}
