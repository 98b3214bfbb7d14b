/**
 * `bench:swarm --lan [LEECHERS] [SIZE] [RATE] [--runs R]` (issue 13): the
 * swarm on the namespace LAN of scripts/lan.sh, one host per peer, each
 * host's upload and download shaped by tbf to RATE, where bandwidth, not
 * CPU, is what the swarm shares. Host 1 runs our tracker, host 2 the
 * seeder, hosts 3.. one leecher each (exit on completion). Each run is done
 * twice, by our `peer` (dist/) and by libtorrent (test/py/lt_peer.py, one
 * process per host), against the same tracker binary and torrent; with
 * R >= 2 runs the order alternates (ours first, then libtorrent first, ...).
 *
 * Printed per run and client: the time until the last leecher completed,
 * the floor (size / RATE: no leecher can download faster than its link),
 * the share of the floor reached (floor / time), the seeder's upload in
 * copies of the file (bytes its host sent on the wire, headers included),
 * and the first / median / last completion; then a timeline of the tail
 * (seeder's upload and the swarm's download per second, leechers done).
 * The LAN is always taken down, also on failure or Ctrl-C.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import { join } from 'node:path';
import type { UsageReport } from './usage-report.js';
import { isRunning, machineCpuTicks as cpuTicks, startSwarmChild, stopSwarmChild, usageOf, type SwarmChild, type JsonEvent } from './swarm-child.js';

export interface LanArgs {
  leechers: number;
  sizeBytes: number;
  rate: string;
  runs: number;
  timeoutS?: number;
  keep: boolean;
  /** Run only one of the clients (default both). */
  only?: Client;
  /** Write each of our leechers' V8 CPU profile to this folder. */
  cpuProfDir?: string;
  /** Another build's dist/peer.js (--before DIR): run as client "before" in the same rotation. */
  beforePeerJs?: string;
  /** Node flags for client "ours" (--node-flags): with --before DIR naming this same build, an A/B of the flags. */
  nodeFlags?: string[];
}

export interface LanEnv {
  root: string;
  work: string;
  /** bench/lib/launch-peer.js, transpiled. */
  launch: string;
  peerJs: string;
  makeTorrentJs: string;
  payload: string;
  name: string;
  pieceLength?: string;
  log: (s: string) => void;
}

export type Client = 'ours' | 'before' | 'libtorrent';

interface LanRun {
  client: Client;
  run: number;
  ok: boolean;
  error?: string;
  /** Seconds from the leechers' spawn to each completion, ascending (missing ones left out). */
  completions: number[];
  /** Bytes the seeder's host sent during the run. */
  seederWireBytes: number;
  /** Per second since the spawn: seeder's host upload, all leechers' hosts download (bytes), leechers complete so far. */
  /** Bytes all leechers' hosts received during the run (duplicates and headers included). */
  leechersWireBytes: number;
  /** Packets (and bytes) all hosts sent during the run: what the kernel's network work scales with. */
  wirePackets: number;
  wireBytesSent: number;
  /** Our peers' 'peer connected' events, and the connections they refused as a second one from an address (NaN for libtorrent). */
  connections: number;
  refusals: number;
  /** Seconds from the spawn until every piece had left the seeder once (our seeder's log; NaN when it did not say). */
  firstCopySec: number;
  /** Pieces the seeder sent again before that (from the same line). */
  earlyRepeats: number;
  /** CPU seconds (user + system) of our seeder and of all our leechers, from their exit reports (NaN for libtorrent). */
  seederCpuSec: number;
  leechersCpuSec: number;
  /** All our leechers' read- and write-type system calls and context switches, summed (undefined for libtorrent, or where not reported). */
  leechersCalls?: { reads: number; writes: number; voluntary: number; involuntary: number; userSec: number; systemSec: number };
  /** Busy CPU seconds of the whole machine (all cores) from the spawn to the last completion. */
  cpuSec: number;
  timeline: Array<{ sec: number; seederUp: number; swarmDown: number; done: number; cpuBusy: number }>;
}

const LAN_SH = 'scripts/lan.sh';
const TRACKER_PORT = 6969;
const PEER_PORT = 6881;
const PYTHON = '/usr/bin/python3';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** tc rate syntax (40mbit, 1gbit, 500kbit) in bits per second. */
export function rateBitsPerSec(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(rate);
  if (!m) throw new Error(`--lan rate '${rate}': expected e.g. 40mbit`);
  const mult = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']!;
  return Number(m[1]) * mult;
}

interface Host {
  i: number;
  ns: string;
  addr: string;
  ifname: string;
}

class Lan {
  readonly prefix = `sw${randomBytes(2).toString('hex')}n`;
  hosts: Host[] = [];
  constructor(readonly root: string) {}

  #sh(args: string[]): string {
    const r = spawnSync('bash', [join(this.root, LAN_SH), ...args, '--prefix', this.prefix], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`lan.sh ${args.join(' ')} --prefix ${this.prefix}: ${r.stderr || r.error}`);
    return r.stdout;
  }

  up(n: number, rate: string): void {
    this.#sh(['up', String(n), rate]);
    this.hosts = this.#sh(['list'])
      .trim()
      .split('\n')
      .map((l) => {
        const [i, ns, addr, ifname] = l.split(' ');
        return { i: Number(i), ns: ns!, addr: addr!, ifname: ifname! };
      });
    if (this.hosts.length !== n) throw new Error(`lan.sh list shows ${this.hosts.length} hosts, not ${n}`);
  }

  down(): void {
    try {
      this.#sh(['down']);
    } catch (err) {
      process.stderr.write(`[swarm] ${(err as Error).message}\n`);
    }
  }

  host(i: number): Host {
    return this.hosts[i - 1]!;
  }

  wrap(i: number): string[] {
    return ['ip', 'netns', 'exec', this.host(i).ns];
  }

  /** Bytes through the bridge side of host i's veth: rx = the host's upload, tx = its download. */
  counter(i: number, which: 'rx_bytes' | 'tx_bytes' | 'rx_packets' | 'tx_packets'): number {
    return Number(readFileSync(`/sys/class/net/${this.host(i).ifname}/statistics/${which}`, 'utf8').trim());
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function runClient(lan: Lan, env: LanEnv, args: LanArgs, client: Client, run: number, torrent: string): Promise<LanRun> {
  const { log } = env;
  const n = args.leechers;
  const dir = join(env.work, `lan-${run}-${client}`);
  await mkdir(dir, { recursive: true });
  const timeoutMs = (args.timeoutS ?? Math.max(120, 20 * (args.sizeBytes * 8) / rateBitsPerSec(args.rate))) * 1000;
  const childEnv = { BENCH_PEER_JS: client === 'before' ? args.beforePeerJs! : env.peerJs };
  const children: SwarmChild[] = [];
  const result: LanRun = { client, run, ok: false, completions: [], seederWireBytes: NaN, leechersWireBytes: NaN, wirePackets: NaN, wireBytesSent: NaN, connections: NaN, refusals: NaN, cpuSec: NaN, firstCopySec: NaN, earlyRepeats: NaN, seederCpuSec: NaN, leechersCpuSec: NaN, timeline: [] };
  const ours = (i: number, name: string, argv: string[]): SwarmChild => {
    const prof = args.cpuProfDir && name.startsWith('leecher') ? ['--cpu-prof', `--cpu-prof-dir=${args.cpuProfDir}`] : [];
    const flags = client === 'ours' ? (args.nodeFlags ?? []) : [];
    const c = startSwarmChild(name, [...flags, ...prof, env.launch, ...argv], childEnv, join(dir, `${name}.usage.json`), env.root, { wrap: lan.wrap(i) });
    children.push(c);
    return c;
  };
  const lt = (i: number, name: string, argv: string[]): SwarmChild => {
    const c = startSwarmChild(
      name,
      [join(env.root, 'test', 'py', 'lt_peer.py'), '--torrent', torrent, '--listen', `${lan.host(i).addr}:${PEER_PORT}`, '--timeout', String(timeoutMs / 1000 + 60), ...argv],
      {},
      join(dir, `${name}.usage.json`),
      env.root,
      { wrap: lan.wrap(i), command: PYTHON },
    );
    children.push(c);
    return c;
  };
  // LSD off, as libtorrent's is here: peers meet through the tracker only (a build from before LSD has no such flag).
  const noLsd = spawnSync(process.execPath, [childEnv.BENCH_PEER_JS, 'leech', '--help'], { encoding: 'utf8' }).stdout.includes('--no-lsd') ? ['--no-lsd'] : [];
  const common = (i: number): string[] => ['--host', lan.host(i).addr, '--port', String(PEER_PORT), '--state', join(dir, `state-${i}`), '--json', '--no-dht', ...noLsd, '--log-level', 'info'];
  let sampler: NodeJS.Timeout | undefined;
  let seederChild: SwarmChild | undefined;
  try {
    const tracker = ours(1, 'tracker', ['tracker', '--host', lan.host(1).addr, '--port', String(TRACKER_PORT), '--json']);
    await tracker.waitFor((e) => e.event === 'listening', 30_000, 'the tracker to listen');
    if (client !== 'libtorrent') {
      const seeder = (seederChild = ours(2, 'seeder', ['seed', torrent, '--data', env.payload, ...common(2)]));
      await seeder.waitFor((e) => e.event === 'progress' && e.have === e.pieces, 300_000, 'the seeder to verify its data');
      await sleep(2000); // its first announce
    } else {
      const seeder = lt(2, 'seeder', ['--save', join(env.payload, '..')]);
      await seeder.waitFor((e) => e.event === 'complete', 300_000, 'the libtorrent seeder to check its data');
      await seeder.waitFor((e) => e.event === 'tracker' && e.kind === 'tracker_reply_alert', 30_000, 'the libtorrent seeder to announce');
    }

    const leecherIdx = Array.from({ length: n }, (_, k) => k + 3);
    const seedUp0 = lan.counter(2, 'rx_bytes');
    const senders = [2, ...leecherIdx];
    const sent = (which: 'rx_packets' | 'rx_bytes'): number => senders.reduce((a, i) => a + lan.counter(i, which), 0);
    const packets0 = sent('rx_packets');
    const bytesSent0 = sent('rx_bytes');
    const down0 = leecherIdx.map((i) => lan.counter(i, 'tx_bytes'));
    const t0 = performance.now();
    const cpu0 = cpuTicks();
    const leechers = leecherIdx.map((i) =>
      client !== 'libtorrent'
        ? ours(i, `leecher-${i}`, ['leech', torrent, '--out', join(dir, `out-${i}`), '--exit-on-complete', ...common(i)])
        : lt(i, `leecher-${i}`, ['--save', join(dir, `out-${i}`), '--exit-on-complete']),
    );
    let done = 0;
    let prev = { up: seedUp0, down: down0.reduce((a, b) => a + b, 0), cpu: cpuTicks() };
    sampler = setInterval(() => {
      const up = lan.counter(2, 'rx_bytes');
      const down = leecherIdx.reduce((a, i) => a + lan.counter(i, 'tx_bytes'), 0);
      const cpu = cpuTicks();
      const cpuBusy = (cpu.busy - prev.cpu.busy) / Math.max(1, cpu.total - prev.cpu.total);
      result.timeline.push({ sec: Math.round((performance.now() - t0) / 1000), seederUp: up - prev.up, swarmDown: down - prev.down, done, cpuBusy });
      prev = { up, down, cpu };
    }, 1000);
    const deadline = t0 + timeoutMs;
    const waits = await Promise.allSettled(
      leechers.map((l) =>
        l.waitFor((e: JsonEvent) => e.event === 'complete', Math.max(1, deadline - performance.now()), 'completion').then((te) => {
          done++;
          return te;
        }),
      ),
    );
    result.seederWireBytes = lan.counter(2, 'rx_bytes') - seedUp0;
    const out = seederChild?.spreadLines.find((l) => l.line.includes('every piece has left the seed once'));
    if (out) {
      result.firstCopySec = (out.t - t0) / 1000;
      result.earlyRepeats = Number(/\((\d+) pieces went out again/.exec(out.line)?.[1] ?? NaN);
    }
    result.cpuSec = (cpuTicks().busy - cpu0.busy) / 100; // USER_HZ
    result.leechersWireBytes = leecherIdx.reduce((a, i, k) => a + lan.counter(i, 'tx_bytes') - down0[k]!, 0);
    result.wirePackets = sent('rx_packets') - packets0;
    if (client !== 'libtorrent') {
      const peers = children.filter((c) => c.name !== 'tracker');
      result.connections = peers.reduce((a, c) => a + c.events.filter((x) => x.e.event === 'peer' && x.e.state === 'connected').length, 0);
      result.refusals = peers.reduce((a, c) => a + c.refusals, 0);
    }
    result.wireBytesSent = sent('rx_bytes') - bytesSent0;
    result.completions = waits.flatMap((w) => (w.status === 'fulfilled' ? [(w.value.t - t0) / 1000] : [])).sort((a, b) => a - b);
    const failures = waits.flatMap((w) => (w.status === 'rejected' ? [(w.reason as Error).message.slice(0, 300)] : []));
    result.ok = failures.length === 0;
    if (failures.length) result.error = `${failures.length} leecher(s) failed; first: ${failures[0]}`;
  } catch (err) {
    result.error = (err as Error).message.slice(0, 600);
  } finally {
    clearInterval(sampler);
    await Promise.all(children.filter(isRunning).map((c) => stopSwarmChild(c, 5000)));
    if (client !== 'libtorrent') {
      const cpu = (u: UsageReport | undefined): number => (u ? u.userSec + u.systemSec : NaN);
      result.seederCpuSec = cpu(seederChild && usageOf(seederChild));
      const reports = children.filter((c) => c.name.startsWith('leecher')).map((c) => usageOf(c));
      result.leechersCpuSec = reports.reduce((a, u) => a + cpu(u), 0);
      if (reports.every((u) => u?.syscalls && u.contextSwitches)) {
        const calls = { reads: 0, writes: 0, voluntary: 0, involuntary: 0, userSec: 0, systemSec: 0 };
        for (const u of reports as Required<UsageReport>[]) {
          calls.reads += u.syscalls.reads;
          calls.writes += u.syscalls.writes;
          calls.voluntary += u.contextSwitches.voluntary;
          calls.involuntary += u.contextSwitches.involuntary;
          calls.userSec += u.userSec;
          calls.systemSec += u.systemSec;
        }
        result.leechersCalls = calls;
      }
    }
    if (!args.keep) await rm(dir, { recursive: true, force: true });
  }
  log(`${client} run ${run + 1}: ${result.ok ? 'ok' : `FAILED (${result.error})`}, last complete ${result.completions.at(-1)?.toFixed(1) ?? '-'} s`);
  return result;
}

function report(args: LanArgs, sizeLabel: string, runs: LanRun[]): string[] {
  const floor = (args.sizeBytes * 8) / rateBitsPerSec(args.rate);
  const f = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(1));
  const lines = [
    `swarm benchmark --lan: ${sizeLabel} (${args.sizeBytes} bytes), 1 seeder + ${args.leechers} leechers, one namespace host each at ${args.rate} (tbf, both ways), tracker on its own host; floor (size / rate) ${floor.toFixed(1)} s`,
    'client      run  time s  of floor  seeder up x  first s  median s  last s  CPU s  leechers down x  seed 1st copy s  early repeats  seeder CPU s  leechers CPU s',
  ];
  for (const r of runs) {
    const last = r.ok ? r.completions.at(-1) : undefined;
    lines.push(
      `${r.client.padEnd(10)}  ${String(r.run + 1).padStart(3)}  ${f(last).padStart(6)}  ${(last ? `${((floor / last) * 100).toFixed(0)}%` : '-').padStart(8)}  ` +
        `${(r.seederWireBytes / args.sizeBytes).toFixed(2).padStart(11)}  ${f(r.completions[0]).padStart(7)}  ${f(median(r.completions)).padStart(8)}  ${f(r.completions.at(-1)).padStart(6)}  ${f(r.cpuSec).padStart(5)}  ${(r.leechersWireBytes / (args.sizeBytes * args.leechers)).toFixed(3).padStart(15)}  ${f(r.firstCopySec).padStart(15)}  ${(Number.isFinite(r.earlyRepeats) ? String(r.earlyRepeats) : '-').padStart(13)}  ${f(r.seederCpuSec).padStart(12)}  ${f(r.leechersCpuSec).padStart(14)}` +
        (r.ok ? '' : `  FAILED: ${r.error}`),
    );
  }
  lines.push(`("seeder up x": bytes the seeder's host sent on the wire, headers included, in file sizes; "leechers down x": bytes all leechers' hosts received, per leecher, in file sizes (duplicates and headers included); "CPU s": busy CPU seconds of the whole ${cpus().length}-core machine during the run; "seed 1st copy s": when every piece had left our seeder once, "early repeats": pieces it sent again before that (from its log; '-' where the build does not say); "seeder/leechers CPU s": our processes' own user + system seconds, the rest of "CPU s" is the kernel's network work, the bench and anything else on the machine)`);
  const withCalls = runs.filter((r) => r.leechersCalls);
  if (withCalls.length) {
    const k = (x: number): string => `${(x / 1000).toFixed(0)} k`;
    lines.push(
      `our leechers, per run (all ${args.leechers} summed): CPU user + system s / read calls / write calls / context switches (waits + preemptions): ` +
        withCalls
          .map((r) => {
            const c = r.leechersCalls!;
            return `${r.client} run ${r.run + 1}: ${c.userSec.toFixed(1)} + ${c.systemSec.toFixed(1)} s / ${k(c.reads)} / ${k(c.writes)} / ${k(c.voluntary)} + ${k(c.involuntary)}`;
          })
          .join('; '),
    );
  }
  lines.push('');
  const mbit = (b: number): string => ((b * 8) / 1e6).toFixed(0);
  for (const r of runs) {
    lines.push(`${r.client} run ${r.run + 1}, per second (seeder up Mbit/s / all leechers down Mbit/s / leechers done / machine CPU busy %):`);
    lines.push('  ' + r.timeline.map((s) => `${s.sec}:${mbit(s.seederUp)}/${mbit(s.swarmDown)}/${s.done}/${(s.cpuBusy * 100).toFixed(0)}`).join(' '));
    // Where the time went: the seeder's upload left unused, and the leechers' links below their line rate, while some leecher still downloaded.
    const busy = r.timeline.filter((s) => s.done < args.leechers && s.sec > 0);
    const rateBytes = rateBitsPerSec(args.rate) / 8;
    const idle = busy.filter((s) => s.seederUp < rateBytes / 2).length;
    const use = busy.reduce((a, s) => a + s.swarmDown / (rateBytes * (args.leechers - s.done)), 0) / Math.max(1, busy.length);
    lines.push(`  seeder under half its rate for ${idle} of ${busy.length} s; leechers still downloading used ${(use * 100).toFixed(0)}% of their download links on average`);
    if (Number.isFinite(r.connections)) lines.push(`  connections our seeder and leechers made or took: ${r.connections}; refused as a second one from an address (maxConnectionsPerAddress): ${r.refusals} (log lines, at most one a minute per address)`);
    lines.push(`  packets the seeder and leechers sent: ${(r.wirePackets / 1e3).toFixed(0)} k, ${(r.wireBytesSent / r.wirePackets).toFixed(0)} B on average (${(r.wirePackets / (args.sizeBytes * args.leechers / 1048576)).toFixed(0)} per MiB delivered)`);
  }
  lines.push('');
  const ok = (c: Client): LanRun[] => runs.filter((r) => r.client === c && r.ok);
  const worst = (c: Client): number => Math.max(...ok(c).map((r) => r.completions.at(-1)!));
  const best = (c: Client): number => Math.min(...ok(c).map((r) => r.completions.at(-1)!));
  if (ok('ours').length && ok('libtorrent').length) {
    lines.push(
      `target (issue 13): all done within 1.25x the floor (${(1.25 * floor).toFixed(1)} s): ours worst ${worst('ours').toFixed(1)} s -> ${worst('ours') <= 1.25 * floor ? 'MET' : 'MISSED'}; ` +
        `faster than libtorrent: ours best ${best('ours').toFixed(1)} s vs libtorrent best ${best('libtorrent').toFixed(1)} s, ` +
        `per run ${runs.filter((r) => r.client === 'ours').every((r) => r.ok && runs.some((q) => q.client === 'libtorrent' && q.run === r.run && q.ok && q.completions.at(-1)! > r.completions.at(-1)!)) ? 'MET' : 'MISSED'}`,
    );
  }
  return lines;
}

/** The whole --lan mode: LAN up, torrent made, runs, LAN down. Returns the report's lines. */
export async function runLanBench(args: LanArgs, sizeLabel: string, env: LanEnv): Promise<{ lines: string[]; ok: boolean }> {
  if (process.getuid?.() !== 0) throw new Error('--lan needs root (network namespaces)');
  const lan = new Lan(env.root);
  const onSignal = (): void => lan.down();
  process.once('exit', onSignal);
  const runs: LanRun[] = [];
  try {
    env.log(`lan.sh up ${args.leechers + 2} ${args.rate} --prefix ${lan.prefix}`);
    lan.up(args.leechers + 2, args.rate);
    const torrent = join(env.work, `${env.name}.torrent`);
    const announce = `http://${lan.host(1).addr}:${TRACKER_PORT}/announce`;
    const mk = spawnSync(process.execPath, [env.makeTorrentJs, env.payload, '-a', announce, '-o', torrent, '--force', '--json', ...(env.pieceLength ? ['-l', env.pieceLength] : [])], {
      cwd: env.root,
      encoding: 'utf8',
    });
    if (mk.status !== 0) throw new Error(`make-torrent failed: ${mk.stderr}`);
    const meta = JSON.parse(mk.stdout) as { pieces: number; pieceLength: number };
    env.log(`torrent: ${meta.pieces} pieces of ${meta.pieceLength / 1024} KiB, tracker ${announce}`);
    for (let run = 0; run < args.runs; run++) {
      const clients: Client[] = args.beforePeerJs ? ['before', 'ours', 'libtorrent'] : ['ours', 'libtorrent'];
      // Each run starts with the next client, so none is always first (or always after the same one).
      const order = clients.map((_, k) => clients[(k + run) % clients.length]!);
      // --client ours with --before: the two builds only, no libtorrent.
      for (const client of order) if (!args.only || args.only === client || (args.only === 'ours' && client === 'before')) runs.push(await runClient(lan, env, args, client, run, torrent));
    }
  } finally {
    lan.down();
    process.removeListener('exit', onSignal);
  }
  const rank: Record<Client, number> = { before: 0, ours: 1, libtorrent: 2 };
  runs.sort((a, b) => a.run - b.run || rank[a.client] - rank[b.client]);
  return { lines: report(args, sizeLabel, runs), ok: runs.every((r) => r.ok) };
}
