/**
 * Run inside a benchmark child: when the process exits (normally, by
 * process.exit, or after SIGTERM handling), write its own CPU time and peak
 * RSS to the file named by BENCH_REPORT. getrusage is exact where polling
 * /proc from outside could miss the last moments of a process that exits as
 * soon as it completes.
 */
import { writeFileSync } from 'node:fs';

export interface UsageReport {
  pid: number;
  userSec: number;
  systemSec: number;
  /** Peak resident set size (getrusage ru_maxrss), bytes. */
  maxRssBytes: number;
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
    };
    writeFileSync(path, JSON.stringify(report));
  });
}
