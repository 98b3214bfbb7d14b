/**
 * `npx tsx bench/lib/cpu-profile-summary.ts FILE.cpuprofile... [--top N] [--by-file]`:
 * self time per function (name, file:line) from V8 CPU profiles written by
 * `node --cpu-prof` (bench:transfer --cpu-prof), biggest first. "(idle)"
 * is time the thread waited; "(garbage collector)" and "(program)" are V8's.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export function selfTimes(p: Profile, by: 'function' | 'file' = 'function'): { totalMs: number; rows: Array<{ key: string; ms: number }> } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!);
    if (!n) continue;
    const f = n.callFrame;
    const where = f.url ? ` ${basename(f.url)}:${f.lineNumber + 1}` : '';
    const key = by === 'file' ? (f.url ? basename(f.url) : f.functionName || '(native)') : `${f.functionName || '(anonymous)'}${where}`;
    // timeDeltas[i] is the gap before sample i: charge it to the sample's frame.
    ms.set(key, (ms.get(key) ?? 0) + (p.timeDeltas[i] ?? 0) / 1000);
  }
  const rows = [...ms].map(([key, v]) => ({ key, ms: v })).sort((a, b) => b.ms - a.ms);
  return { totalMs: (p.endTime - p.startTime) / 1000, rows };
}

if (process.argv[1] && /cpu-profile-summary\.[jt]s$/.test(process.argv[1])) {
  const args = process.argv.slice(2);
  const ti = args.indexOf('--top');
  const top = ti >= 0 ? Number(args.splice(ti, 2)[1]) : 15;
  const fi = args.indexOf('--by-file');
  const by = fi >= 0 ? (args.splice(fi, 1), 'file' as const) : ('function' as const);
  for (const file of args) {
    const { totalMs, rows } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as Profile, by);
    const busy = rows.filter((r) => r.key !== '(idle)').reduce((s, r) => s + r.ms, 0);
    process.stdout.write(`${basename(file)}: ${(totalMs / 1000).toFixed(2)} s profiled, ${(busy / 1000).toFixed(2)} s not idle\n`);
    for (const r of rows.slice(0, top)) {
      process.stdout.write(`  ${(r.ms / 1000).toFixed(3).padStart(8)} s ${((100 * r.ms) / totalMs).toFixed(1).padStart(5)}%  ${r.key}\n`);
    }
  }
}
