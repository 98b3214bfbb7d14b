/**
 * The loopback swarm of bench/swarm.ts, ours beside libtorrent (issue 13):
 * one line per run, each client's medians over its runs, the ratio, and the
 * target "Loopback 1 seeder + 20 leechers at 256 MiB: ours no slower than
 * libtorrent" (ours median time until all leechers are complete <= libtorrent's).
 * Pure functions over the RunResults; a run that failed counts as slower
 * than any that finished, so a flaky client cannot win on its good runs.
 */
import { cpus } from 'node:os';
import type { RunResult, SwarmClient } from './swarm-report.js';

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const f = (x: number | undefined, digits = 1): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits));

const completions = (r: RunResult): number[] =>
  r.leechers.map((l) => l.completeSec).filter((x): x is number => x !== undefined).sort((a, b) => a - b);

/** The seeder's CPU during the run plus every leecher's over its whole life (all from the same clock: user + system). */
export function swarmCpuSec(r: RunResult): number {
  return r.seederCpuSec + r.leechers.reduce((a, l) => a + (l.cpuSec ?? NaN), 0);
}

/** Time until all leechers were complete; +Infinity for a run that failed. */
const doneSec = (r: RunResult): number => (r.ok ? r.wallSec : Infinity);

export function comparison(results: RunResult[], sizeLabel: string): string[] {
  const lines: string[] = [];
  const head = ['client', 'N', 'run', 'all done s', 'first s', 'median s', 'last s', 'seeder up x', 'CPU s', 'leecher CPU s med', 'machine busy', 'load avg (end)'];
  const rows = results.map((r) => {
    const c = completions(r);
    const leecherCpu = median(r.leechers.map((l) => l.cpuSec).filter((x): x is number => x !== undefined));
    return [
      r.client,
      String(r.n),
      String(r.run + 1),
      r.ok ? f(r.wallSec) : `FAILED`,
      f(c[0]),
      f(median(c)),
      f(c.at(-1)),
      f(r.seederUploaded / r.sizeBytes, 2),
      f(swarmCpuSec(r)),
      f(leecherCpu, 2),
      r.machineBusy === undefined ? '-' : `${(r.machineBusy * 100).toFixed(0)}%`,
      r.loadAvg,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const fmt = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  lines.push(`swarm comparison (issue 13): ${sizeLabel}, 1 seeder + N leechers on 127.0.0.x, tracker on 127.0.0.1 (ours, for both clients), runs interleaved`);
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push(
    '("all done s": from the leechers\' spawn until the last one was complete (= "last s" when all finished); "seeder up x": payload bytes the seeder sent, ' +
      'in file sizes (its own counter); "CPU s": user + system of the seeder during the run plus every leecher over its life; ' +
      `"machine busy": the whole ${cpus().length}-core machine during the run, other users included)`,
  );
  for (const r of results) if (!r.ok) lines.push(`  ${r.client} N=${r.n} run ${r.run + 1} FAILED: ${r.error ?? ''}`);

  const clients = [...new Set(results.map((r) => r.client))];
  for (const n of [...new Set(results.map((r) => r.n))]) {
    const of = (c: SwarmClient): RunResult[] => results.filter((r) => r.n === n && r.client === c);
    const med = (c: SwarmClient): { done: number; cpu: number; up: number; runs: number; failed: number } => {
      const rs = of(c);
      return {
        done: median(rs.map(doneSec)),
        cpu: median(rs.filter((r) => r.ok).map(swarmCpuSec)),
        up: median(rs.filter((r) => r.ok).map((r) => r.seederUploaded / r.sizeBytes)),
        runs: rs.length,
        failed: rs.filter((r) => !r.ok).length,
      };
    };
    lines.push('');
    lines.push(`N=${n}, medians over runs (a failed run counts as the slowest):`);
    for (const c of clients) {
      const m = med(c);
      lines.push(
        `  ${c.padEnd(10)} all done ${f(m.done).padStart(6)} s  seeder up ${f(m.up, 2)}x  CPU ${f(m.cpu)} s  (${m.runs} run(s)${m.failed ? `, ${m.failed} FAILED` : ''})`,
      );
    }
    if (clients.includes('ours') && clients.includes('libtorrent')) {
      const o = med('ours');
      const l = med('libtorrent');
      lines.push(`  ours / libtorrent: time ${f(o.done / l.done, 2)}x, CPU ${f(o.cpu / l.cpu, 2)}x, seeder upload ${f(o.up / l.up, 2)}x`);
      const verdict = !Number.isFinite(l.done)
        ? 'n/a (libtorrent did not finish in most runs)'
        : o.done <= l.done
          ? 'MET'
          : 'MISSED';
      const issueCase = n === 20 && /^256M(iB)?$/i.test(sizeLabel) ? '' : ` (the issue's case is N=20 at 256M; this is N=${n} at ${sizeLabel})`;
      lines.push(`target (issue 13): ours median <= libtorrent median: ${verdict} (${f(o.done)} s vs ${f(l.done)} s)${issueCase}`);
    }
  }
  return lines;
}
