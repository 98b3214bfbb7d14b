/**
 * The swarm benchmark's figures and how they are printed: pure functions
 * over what bench/swarm.ts recorded, so the table and the target verdicts
 * (issue 4) live in one place. The comparison with libtorrent (issue 13)
 * is bench/lib/swarm-compare.ts.
 */

export const MB = 1e6;

export interface LeecherResult {
  host: string;
  /** Seconds from the first leecher's spawn to this one's `complete` event. */
  completeSec?: number;
  /** The leecher's own `elapsedMs` (from its own start to completion). */
  selfMs?: number;
  /** Payload bytes received (its `complete` event). */
  downloaded?: number;
  /** Payload bytes sent, from its last progress line (up to a second stale when it exits on completion). */
  uploaded?: number;
  /** user+sys over its whole life (getrusage at exit). */
  cpuSec?: number;
  /** Peak RSS (getrusage at exit). */
  rssBytes?: number;
  exit: number | string | undefined;
  /** Distinct hosts it was connected to at some point (from its 'peer connected' log lines). */
  peerHosts: string[];
}

export type SwarmClient = 'ours' | 'libtorrent';

export interface RunResult {
  client: SwarmClient;
  n: number;
  /** 0-based run number (--runs). */
  run: number;
  ok: boolean;
  error?: string;
  sizeBytes: number;
  /** Seconds from the first leecher's spawn until the last one completed (or the run gave up). */
  wallSec: number;
  /** Payload bytes the seeder sent during the run (its last progress line). */
  seederUploaded: number;
  /** The seeder's cumulative upload as its progress lines reported it, seconds since the first leecher's spawn. */
  seederTimeline: Array<{ sec: number; uploaded: number; peers: number }>;
  /** user+sys of the seeder between the first leecher's spawn and the last completion. */
  seederCpuSec: number;
  seederRssBytes?: number;
  /** Hosts the seeder saw connect (its 'peer connected' lines). */
  seederPeerHosts: string[];
  trackerCpuSec?: number;
  trackerRssBytes?: number;
  leechers: LeecherResult[];
  loadAvg: string;
  /** Busy share (0..1) of the whole machine's CPU (all cores, other users included) from the spawn to the last completion. */
  machineBusy?: number;
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const defined = (xs: Array<number | undefined>): number[] => xs.filter((x): x is number => x !== undefined && Number.isFinite(x));

export function leecherCpu(r: RunResult): { median: number; max: number } {
  const xs = defined(r.leechers.map((l) => l.cpuSec));
  return { median: median(xs), max: xs.length ? Math.max(...xs) : NaN };
}

export function leecherRss(r: RunResult): { median: number; max: number } {
  const xs = defined(r.leechers.map((l) => l.rssBytes));
  return { median: median(xs), max: xs.length ? Math.max(...xs) : NaN };
}

function medianUpload(r: RunResult): number {
  const xs = defined(r.leechers.map((l) => l.uploaded));
  return xs.length ? median(xs) : 0;
}

const completed = (r: RunResult): number => r.leechers.filter((l) => l.completeSec !== undefined).length;

const f = (x: number, digits = 1): string => (Number.isFinite(x) ? x.toFixed(digits) : 'n/a');
const mb = (bytes: number | undefined): string => (bytes === undefined || !Number.isFinite(bytes) ? 'n/a' : (bytes / MB).toFixed(0));

export const severalRuns = (results: RunResult[]): boolean => results.some((r) => r.run > 0);
const runTag = (r: RunResult, several: boolean): string => (several ? ` run ${r.run + 1}` : '');

export function summaryTable(results: RunResult[]): string[] {
  const several = severalRuns(results);
  const head = ['N', ...(several ? ['run'] : []), 'done', 'all done s', 'self med/max s', 'seeder up x', 'leechers up x', 'CPU s/leecher med (max)', 'RSS MB/leecher med (max)', 'seeder CPU s', 'seeder RSS MB', 'tracker RSS MB'];
  const rows = results.map((r) => {
    const self = defined(r.leechers.map((l) => l.selfMs)).map((ms) => ms / 1000);
    const up = defined(r.leechers.map((l) => l.uploaded)).reduce((a, b) => a + b, 0);
    const cpu = leecherCpu(r);
    const rss = leecherRss(r);
    return [
      String(r.n),
      ...(several ? [String(r.run + 1)] : []),
      `${completed(r)}/${r.n}`,
      f(r.wallSec),
      `${f(median(self))}/${f(self.length ? Math.max(...self) : NaN)}`,
      f(r.seederUploaded / r.sizeBytes, 2),
      f(up / r.sizeBytes, 2),
      `${f(cpu.median, 2)} (${f(cpu.max, 2)})`,
      `${mb(rss.median)} (${mb(rss.max)})`,
      f(r.seederCpuSec, 1),
      mb(r.seederRssBytes),
      mb(r.trackerRssBytes),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => c.padStart(widths[i]!)).join('  ');
  return [fmt(head), ...rows.map(fmt)];
}

/**
 * The seeder's cumulative upload at `sec`, interpolated between its progress
 * lines (once a second, so a short run would otherwise read a stale line).
 */
export function seederUploadedAt(r: RunResult, sec: number): number {
  const tl = r.seederTimeline;
  const after = tl.findIndex((p) => p.sec >= sec);
  if (after === -1) return tl.at(-1)?.uploaded ?? 0;
  const b = tl[after]!;
  const a = after > 0 ? tl[after - 1]! : { sec: 0, uploaded: 0 };
  if (b.sec === a.sec) return b.uploaded;
  return a.uploaded + ((b.uploaded - a.uploaded) * (sec - a.sec)) / (b.sec - a.sec);
}

/** How the work spread over time and peers, for one N: the seeder's share, who talked to whom. */
export function details(r: RunResult, seederHost: string, several = false): string[] {
  const out: string[] = [];
  const size = r.sizeBytes;
  const done = r.leechers.map((l) => l.completeSec).filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  out.push(`N=${r.n}${runTag(r, several)}: ${r.ok ? 'ok' : `FAILED: ${r.error ?? ''}`} (load average at the end: ${r.loadAvg})`);
  if (done.length) {
    out.push(`  completions (s after the first spawn): first ${f(done[0]!)}, median ${f(median(done))}, last ${f(done[done.length - 1]!)}`);
    // The seeder's cumulative upload when a quarter, half, ... of the leechers had finished.
    const ks = [...new Set([0.25, 0.5, 0.75, 1].map((q) => Math.max(1, Math.ceil(q * r.n))))];
    const marks = ks.map((k) => {
      const at = done[k - 1];
      return at === undefined ? `${k} done: -` : `${k} done (${f(at)} s): ${f(seederUploadedAt(r, at) / size, 2)}x`;
    });
    out.push(`  seeder upload as leechers finish: ${marks.join(', ')}`);
  }
  // The seeder's upload per tenth of the run: does it keep serving the whole time, or only at the start?
  if (r.seederTimeline.length && r.wallSec > 0) {
    const slices: string[] = [];
    let prev = 0;
    for (let i = 1; i <= 10; i++) {
      const now = i === 10 ? r.seederUploaded : seederUploadedAt(r, (r.wallSec * i) / 10);
      slices.push(f((now - prev) / size, 2));
      prev = now;
    }
    out.push(`  seeder upload per tenth of the run (file sizes): ${slices.join(' ')}`);
    const peers = r.seederTimeline.map((p) => p.peers);
    out.push(`  seeder connected peers over the run: max ${Math.max(...peers)}, median ${f(median(peers), 0)}; hosts that ever connected to it: ${new Set(r.seederPeerHosts).size}`);
  }
  const downloaded = defined(r.leechers.map((l) => l.downloaded)).reduce((a, b) => a + b, 0);
  const leecherUp = defined(r.leechers.map((l) => l.uploaded)).reduce((a, b) => a + b, 0);
  out.push(
    `  bytes: leechers received ${f(downloaded / size, 2)}x (${r.n}x needed), seeder sent ${f(r.seederUploaded / size, 2)}x, ` +
      `leechers sent ${f(leecherUp / size, 2)}x by their last progress lines (received - seeder = ${f((downloaded - r.seederUploaded) / size, 2)}x)`,
  );
  if (r.n > 1) {
    const ups = defined(r.leechers.map((l) => l.uploaded)).map((u) => u / size);
    out.push(`  upload per leecher (file sizes): min ${f(Math.min(...ups), 2)}, median ${f(median(ups), 2)}, max ${f(Math.max(...ups), 2)}`);
    const leecherPeers = r.leechers.map((l) => l.peerHosts.filter((h) => h !== seederHost).length);
    const metSeeder = r.leechers.filter((l) => l.peerHosts.includes(seederHost)).length;
    out.push(
      `  leecher peers (distinct other leechers connected at some point): min ${Math.min(...leecherPeers)}, median ${f(median(leecherPeers), 0)}, ` +
        `max ${Math.max(...leecherPeers)}; ${metSeeder}/${r.n} connected to the seeder`,
    );
  }
  const failed = r.leechers.filter((l) => l.exit !== 0);
  if (failed.length) out.push(`  leechers that did not exit 0: ${failed.map((l) => `${l.host} (${String(l.exit)})`).join(', ')}`);
  return out;
}

/** The targets of issue 4, each marked met or missed. */
export function targets(results: RunResult[]): string[] {
  const out: string[] = ['targets (issue 4):'];
  const worstUp = results.reduce((m, r) => Math.max(m, r.seederUploaded / r.sizeBytes), 0);
  const allDone = results.every((r) => r.ok);
  out.push(
    `  seeder uploads <= 4 file sizes at every N: ${worstUp <= 4 && allDone ? 'met' : 'MISSED'} (` +
      results.map((r) => `N=${r.n}${runTag(r, severalRuns(results))}: ${f(r.seederUploaded / r.sizeBytes, 2)}x${r.ok ? '' : ' incomplete run'}`).join(', ') +
      ')',
  );
  // "Flat": the median at the largest N within 1.5x of the median at the smallest N (CPU time, so the machine's load matters little).
  // With several runs, each N's figure is the median over its runs.
  const byN = new Map<number, RunResult[]>();
  for (const r of results) if (Number.isFinite(leecherCpu(r).median)) byN.set(r.n, [...(byN.get(r.n) ?? []), r]);
  const ns = [...byN.keys()].sort((a, b) => a - b);
  const cpuAt = (n: number): number => median(byN.get(n)!.map((r) => leecherCpu(r).median));
  const upAt = (n: number): number => median(byN.get(n)!.map((r) => medianUpload(r) / r.sizeBytes));
  if (ns.length >= 2) {
    const lo = ns[0]!;
    const hi = ns[ns.length - 1]!;
    const ratio = cpuAt(hi) / cpuAt(lo);
    out.push(
      `  CPU s per leecher flat as N grows (median at N=${hi} <= 1.5x N=${lo}): ${ratio <= 1.5 ? 'met' : 'MISSED'} (` +
        ns.map((n) => `N=${n}: ${f(cpuAt(n), 2)} s`).join(', ') +
        `; ratio ${f(ratio, 2)})`,
    );
    // A lone leecher only downloads; in a swarm each also uploads about a file size. CPU per file size moved shows whether the cost per byte grows with N.
    out.push(
      `    (per file size moved, down + up: ` +
        ns.map((n) => `N=${n}: ${f(cpuAt(n) / (1 + upAt(n)), 2)} s`).join(', ') +
        '; a lone leecher uploads nothing, so N=1 is not the same work)',
    );
  } else out.push('  CPU s per leecher flat as N grows: n/a (run at least two values of N)');
  const worstRss = results.reduce((m, r) => Math.max(m, leecherRss(r).max), 0);
  out.push(
    `  peak RSS per leecher < 150 MB: ${worstRss > 0 && worstRss < 150 * MB ? 'met' : 'MISSED'} (largest ${mb(worstRss)} MB; ` +
      results.map((r) => `N=${r.n}${runTag(r, severalRuns(results))}: max ${mb(leecherRss(r).max)}`).join(', ') +
      ')',
  );
  return out;
}
