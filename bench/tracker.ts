/**
 * `npm run bench:tracker`: our tracker against Debian's opentracker on
 * loopback, with the same client.
 *
 * HTTP: 10,000 distinct peers over 100 torrents announce twice (Node client,
 * keep-alive agent, fixed concurrency).
 *
 * UDP (BEP 15): a Node client saturates long before opentracker does, so the
 * load comes from udp-flood (bench/lib/udp-flood.c, compiled here): several
 * processes, each with its own socket, keep a window of pre-encoded announces
 * (the same 10,000 peers, numwant 50) outstanding and count the answers. Its
 * own ceiling is measured against a trivial echo server, and a single
 * Node thread's against a Node dgram server doing no work. The four targets
 * (echo, Node echo, ours, opentracker) are run in turn, REPEATS times, and the medians
 * compared, since other work shares the machine.
 *
 * Our server runs in a child process (this file with --serve) so its RSS is
 * its own; the per-address rate limit is off there, since all the load comes
 * from one address. opentracker serves a whitelist of the bench's info-hashes.
 */
import { execFileSync, spawn } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { silentLogger } from '../src/log.js';
import { buildAnnounceUrl } from '../src/tracker/http-codec.js';
import { TrackerServer } from '../src/tracker/server.js';
import { encodeUdpRequest } from '../src/tracker/udp-codec.js';
import { toHex } from '../src/util/bytes.js';
import { sha1 } from '../src/util/hash.js';
import { buildFlood, flood, startEcho, startNodeEcho, startOpentracker, type Child, type FloodResult } from './lib/udp-flood.js';

const PEERS = 10_000;
const TORRENTS = 100;
const ROUNDS = 2;
const HTTP_CONCURRENCY = 32;
/** udp-flood processes (each its own socket), announces each keeps outstanding, seconds per run, runs per target. */
const UDP_PROCESSES = Number(process.env.BENCH_UDP_PROCESSES ?? 2);
const UDP_WINDOW = Number(process.env.BENCH_UDP_WINDOW ?? 256);
const UDP_SECONDS = Number(process.env.BENCH_UDP_SECONDS ?? 3);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);
/** Whole run bound: the benchmark never hangs. */
const DEADLINE_MS = 180_000;

function peakRssBytes(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

async function serve(): Promise<void> {
  const server = new TrackerServer({ host: '127.0.0.1', port: 0, rateLimit: false, logger: silentLogger });
  await server.start();
  process.stdout.write(JSON.stringify({ port: server.port, rssBefore: process.memoryUsage().rss }) + '\n');
  // The parent closes our stdin when it is done: report and leave.
  process.stdin.resume();
  await new Promise<void>((r) => process.stdin.on('end', () => r()));
  const stats = server.registry.stats();
  await server.stop();
  process.stdout.write(JSON.stringify({ peakRss: peakRssBytes(), stats }) + '\n');
}

const infoHashes = Array.from({ length: TORRENTS }, (_, i) => sha1(Buffer.from(`bench torrent ${i}`)));
function peer(i: number): { infoHash: Uint8Array; peerId: Uint8Array; port: number; left: number } {
  const peerId = Buffer.alloc(20);
  peerId.write('-BN0001-');
  peerId.writeUInt32BE(i, 16);
  // One peer in ten is a seed, so selections see both kinds.
  return { infoHash: infoHashes[i % TORRENTS]!, peerId, port: 10_000 + (i % 50_000), left: i % 10 === 0 ? 0 : 1_000_000 };
}

async function httpRound(port: number, agent: http.Agent, round: number, deadline: number): Promise<number> {
  let next = 0;
  let served = 0;
  const worker = async (): Promise<void> => {
    while (next < PEERS && Date.now() < deadline) {
      const p = peer(next++);
      const url = buildAnnounceUrl(`http://127.0.0.1:${port}/announce`, { ...p, uploaded: 0, downloaded: 0, event: round === 0 ? 'started' : undefined });
      await new Promise<void>((resolve, reject) => {
        http.get(url, { agent }, (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (res.statusCode === 200) served++;
            resolve();
          });
        }).on('error', reject);
      });
    }
  };
  await Promise.all(Array.from({ length: HTTP_CONCURRENCY }, worker));
  return served;
}

async function main(): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  const child = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve'], { stdio: ['pipe', 'pipe', 'inherit'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), DEADLINE_MS + 30_000);
  killer.unref();
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  const { port, rssBefore } = JSON.parse(String(first.value)) as { port: number; rssBefore: number };
  console.log(`tracker bench: ${PEERS} peers over ${TORRENTS} torrents, ${ROUNDS} announces each per protocol, server pid ${child.pid} on 127.0.0.1:${port}`);

  const agent = new http.Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  let total = 0;
  let began = performance.now();
  for (let r = 0; r < ROUNDS; r++) total += await httpRound(port, agent, r, deadline);
  let secs = (performance.now() - began) / 1000;
  agent.destroy();
  console.log(`HTTP: ${total} announces in ${secs.toFixed(2)} s = ${Math.round(total / secs)} announces/s (keep-alive, ${HTTP_CONCURRENCY} in flight)`);

  await udpBench(port, child.pid!);

  child.stdin!.end();
  const last = await lines.next();
  const report = JSON.parse(String(last.value)) as { peakRss: number; stats: { torrents: number; peers: number; seeds: number } };
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.on('exit', () => r())));
  clearTimeout(killer);
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
  console.log(`server peak RSS: ${mb(report.peakRss)} MB (at start ${mb(rssBefore)} MB); swarm state at the end: ${report.stats.torrents} torrents, ${report.stats.peers} peers (${report.stats.seeds} seeds)`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The 10,000 announces, pre-encoded (connection and transaction ids are patched in by udp-flood). */
function announcePackets(): Buffer {
  const out = Buffer.alloc(PEERS * 98);
  for (let i = 0; i < PEERS; i++) {
    const p = peer(i);
    out.set(encodeUdpRequest({ action: 'announce', connectionId: 0n, transactionId: 0, ...p, downloaded: 0, uploaded: 0, ip: 0, key: i, numwant: 50 }), i * 98);
  }
  return out;
}

const CLOCK_TICKS_PER_S = ((): number => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU seconds (user + system, all threads) a process has used, from /proc. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLOCK_TICKS_PER_S;
}

/** Echo (the client's ceiling), ours and opentracker in turn, REPEATS times; medians compared. */
async function udpBench(ourPort: number, ourPid: number): Promise<void> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'bench-tracker-'));
  const children: Child[] = [];
  try {
    const bin = await buildFlood(dir);
    const packets = path.join(dir, 'announces.bin');
    await writeFile(packets, announcePackets());
    const echo = await startEcho(bin, '127.0.0.1');
    children.push(echo);
    const nodeEcho = await startNodeEcho('127.0.0.1');
    children.push(nodeEcho);
    const ot = await startOpentracker(dir, '127.0.0.1', infoHashes.map((h) => toHex(h)));
    children.push(ot);
    const targets: [string, number, number][] = [
      ['client ceiling (echo)', echo.port, echo.child.pid!],
      ['Node dgram echo', nodeEcho.port, nodeEcho.child.pid!],
      ['ours', ourPort, ourPid],
      ['opentracker', ot.port, ot.child.pid!],
    ];
    const runs = new Map<string, FloodResult[]>(targets.map(([name]) => [name, []]));
    /** Server CPU microseconds per answered announce: steadier than the rate on a shared machine. */
    const cpuPer = new Map<string, number[]>(targets.map(([name]) => [name, []]));
    const opts = { processes: UDP_PROCESSES, window: UDP_WINDOW, seconds: UDP_SECONDS };
    console.log(`UDP: udp-flood, ${UDP_PROCESSES} processes x ${UDP_WINDOW} outstanding, ${UDP_SECONDS} s per run, ${REPEATS} runs per target (interleaved)`);
    for (let r = 0; r < REPEATS; r++) {
      for (const [name, port, pid] of targets) {
        const cpu0 = cpuSeconds(pid);
        const res = await flood(bin, '127.0.0.1', port, packets, opts);
        const us = ((cpuSeconds(pid) - cpu0) * 1e6) / Math.max(1, res.answers);
        runs.get(name)!.push(res);
        cpuPer.get(name)!.push(us);
        const errs = res.errors ? `, ${res.errors} error replies` : '';
        console.log(`  run ${r + 1} ${name.padEnd(22)} ${String(res.perSecond).padStart(8)} announces/s, server CPU ${us.toFixed(1).padStart(5)} us/announce (${res.answers} answered of ${res.sent} sent${errs})`);
      }
    }
    const med = (name: string): number => median(runs.get(name)!.map((x) => x.perSecond));
    const [ceiling, ours, theirs] = [med('client ceiling (echo)'), med('ours'), med('opentracker')];
    // The machine is shared: each round's ours/opentracker ratio (runs seconds apart) is steadier than the ratio of the medians.
    const paired = median(runs.get('ours')!.map((x, i) => x.perSecond / Math.max(1, runs.get('opentracker')![i]!.perSecond)));
    console.log(`UDP medians: client ceiling ${ceiling}/s, ours ${ours}/s, opentracker ${theirs}/s: ours = ${(ours / theirs).toFixed(2)}x opentracker (median of the per-round ratios ${paired.toFixed(2)}x)`);
    const cpu = (name: string): string => median(cpuPer.get(name)!).toFixed(1);
    console.log(`  server CPU per answered announce (medians, all threads): Node echo ${cpu('Node dgram echo')} us, ours ${cpu('ours')} us, opentracker ${cpu('opentracker')} us`);
    console.log(`  a Node dgram server doing no work per announce (one thread, as ours): ${med('Node dgram echo')}/s; ours reaches ${(ours / med('Node dgram echo')).toFixed(2)}x of it`);
    if (theirs > 0.8 * ceiling) console.log('  (opentracker is within 20% of the client ceiling: its figure is client-bound, a lower bound)');
  } finally {
    for (const c of children) await c.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes('--serve')) await serve();
else await main();
