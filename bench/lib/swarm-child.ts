/**
 * Child processes of the swarm benchmark (bench/swarm.ts): each `peer`
 * process runs from dist/ through bench/lib/launch-peer.ts, prints --json
 * events on stdout (kept with the bench clock's time of arrival) and logs on
 * stderr (a tail is kept for error messages; 'peer connected' lines are
 * collected to see who talked to whom). Nothing here is timed against a
 * target: the caller reads the records after the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { UsageReport } from './usage-report.js';

export type JsonEvent = Record<string, unknown>;

export interface TimedEvent {
  /** Milliseconds on the bench clock (performance.now()) when the line arrived. */
  t: number;
  e: JsonEvent;
}

export interface SwarmChild {
  name: string;
  proc: ChildProcess;
  reportPath: string;
  events: TimedEvent[];
  /** Hosts (no port) named by 'peer connected' log lines, in order, repeats kept. */
  connectedHosts: string[];
  stderrTail: string;
  /** 'refusing more connections from X' warnings: a second connection from an address (a crossing dial, mostly). */
  refusals: number;
  /** Log lines of the seed's spreading (session/seed-spreading.ts), with the bench clock's time of arrival. */
  spreadLines: Array<{ t: number; line: string }>;
  /**
   * Peak RSS (VmHWM of /proc/PID/status, polled every RSS_POLL_MS while it
   * runs). The high-water mark only grows, so polling misses at most the
   * last interval. getrusage's ru_maxrss is no good for a child: Linux
   * starts it at the parent's peak (fork copies the high-water mark, exec
   * keeps it), so every child would show at least this bench's own RSS.
   */
  peakRssBytes?: number;
  /** Resolves with the exit code, or the signal name. */
  exited: Promise<number | string>;
  /** Resolves with the first event for which `pred` holds; rejects on exit or after `ms`. */
  waitFor(pred: (e: JsonEvent) => boolean, ms: number, what: string): Promise<TimedEvent>;
}

// `peer connected: 127.0.0.5:6881 (outgoing)`; IPv4 only (loopback, or the namespace LAN's 10.x addresses).
const CONNECTED_RE = /peer connected: (\d+\.\d+\.\d+\.\d+):\d+/;

const live = new Set<SwarmChild>();
const RSS_POLL_MS = 250;

/**
 * `how.wrap` runs the child through a prefix (`ip netns exec NS`, for the
 * LAN mode); `how.command` replaces node (e.g. python3 for libtorrent).
 */
export function startSwarmChild(
  name: string,
  args: string[],
  env: Record<string, string>,
  reportPath: string,
  cwd: string,
  how: { wrap?: string[]; command?: string } = {},
): SwarmChild {
  const argv = [...(how.wrap ?? []), how.command ?? process.execPath, ...args];
  const proc = spawn(argv[0]!, argv.slice(1), {
    cwd,
    env: { ...process.env, ...env, BENCH_REPORT: reportPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const waiters: Array<{ pred: (e: JsonEvent) => boolean; resolve: (e: TimedEvent) => void }> = [];
  const child: SwarmChild = {
    name,
    proc,
    reportPath,
    events: [],
    connectedHosts: [],
    spreadLines: [],
    refusals: 0,
    stderrTail: '',
    exited: new Promise((res) => {
      proc.on('close', (code, sig) => {
        clearInterval(rssPoll);
        live.delete(child);
        res(code ?? sig ?? 'unknown');
      });
      // A spawn failure (no node binary, EMFILE) still settles the child.
      proc.on('error', (err) => {
        child.stderrTail += `\nspawn error: ${err.message}`;
      });
    }),
    waitFor(pred, ms, what) {
      const seen = child.events.find((x) => pred(x.e));
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`${name}: timed out after ${ms / 1000} s waiting for ${what}; stderr: ${child.stderrTail.slice(-1000)}`)), ms);
        void child.exited.then((code) => {
          clearTimeout(timer);
          rej(new Error(`${name} exited (${code}) before ${what}; stderr: ${child.stderrTail.slice(-1000)}`));
        });
        waiters.push({
          pred,
          resolve: (e) => {
            clearTimeout(timer);
            res(e);
          },
        });
      });
    },
  };
  live.add(child);
  const pollRss = (): void => {
    const hwm = peakRssOf(proc.pid);
    if (hwm !== undefined) child.peakRssBytes = Math.max(child.peakRssBytes ?? 0, hwm);
  };
  const rssPoll = setInterval(pollRss, RSS_POLL_MS);
  rssPoll.unref();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let e: JsonEvent;
    try {
      e = JSON.parse(line) as JsonEvent;
    } catch {
      return;
    }
    const te = { t: performance.now(), e };
    child.events.push(te);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(te);
      }
    }
  });
  createInterface({ input: proc.stderr! }).on('line', (line) => {
    const m = CONNECTED_RE.exec(line);
    if (m) child.connectedHosts.push(m[1]!);
    if (line.includes('seed spread: ')) child.spreadLines.push({ t: performance.now(), line });
    if (line.includes('refusing more connections from')) child.refusals++;
    child.stderrTail = (child.stderrTail + line + '\n').slice(-4000);
  });
  return child;
}

export function isRunning(c: SwarmChild): boolean {
  return c.proc.exitCode === null && c.proc.signalCode === null;
}

/** SIGINT (the peer's clean stop: trackers told, state saved, exit 0), then SIGKILL after `ms`. */
export async function stopSwarmChild(c: SwarmChild, ms = 15_000): Promise<void> {
  if (!isRunning(c)) return;
  c.proc.kill('SIGINT');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), ms);
  await c.exited;
  clearTimeout(t);
}

/** Last resort at bench exit (also on an uncaught error): no child outlives the bench. */
export function killAllSwarmChildren(): void {
  for (const c of live) if (isRunning(c)) c.proc.kill('SIGKILL');
}

const CLK_TCK = 100; // Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat

/** utime+stime of a live process in seconds, or NaN once it is gone. */
export function cpuSecondsOf(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After "pid (comm) ", field 3 (state) is index 0; utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** The whole machine's busy and total CPU ticks so far (/proc/stat, all cores, every user's processes). */
export function machineCpuTicks(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  // idle and iowait are not busy
  return { busy: total - f[3]! - (f[4] ?? 0), total };
}

/** Peak RSS so far (VmHWM) of a live process in bytes. */
export function peakRssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** What the child wrote about itself at exit (bench/lib/usage-report.ts); undefined if it was killed. */
export function usageOf(c: SwarmChild): UsageReport | undefined {
  try {
    return JSON.parse(readFileSync(c.reportPath, 'utf8')) as UsageReport;
  } catch {
    return undefined;
  }
}
