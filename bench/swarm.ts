/**
 * `npm run bench:swarm [-- --n 1,10,20,50] [--size 128M] [--runs R] [--client ours,libtorrent]
 *                        [--timeout S] [--stay] [--piece-length N] [--check] [--keep] [--no-build] [--cpu-prof]
 *                        [--node-flags "FLAGS"]`
 * `npm run bench:swarm -- --lan [LEECHERS [SIZE [RATE]]] [--runs R] [--client ours|libtorrent] [--before DIR] [--cpu-prof]`
 *   (default 20 64M 40mbit, 1 run, both clients):
 *   the same swarm on the namespace LAN, ours and libtorrent in the same run
 *   (bench/lib/swarm-lan.ts; needs root); --before DIR adds the build in DIR
 *   (a checkout with dist/) as client "before", in the same rotation
 *   (--client ours with --before: the two builds, no libtorrent). Per run it
 *   also prints when every piece had left our seeder once and how many it
 *   sent twice before that (its log), our seeder's and leechers' own CPU,
 *   the seconds the seeder sat under half its rate, and the leechers' use
 *   of their download links.
 *
 * A LAN swarm on loopback (issue 4): each "machine" is its own address, as
 * on a real LAN. `peer tracker` on 127.0.0.1, one `peer seed` on 127.0.0.2,
 * N `peer leech --exit-on-complete` on 127.0.0.3.. (all peers on the same
 * port), every one a child process from dist/ with --json and --no-dht, so
 * peers meet only through the tracker (and PEX). For each N it prints the
 * time until all leechers are complete, the seeder's upload as a multiple of
 * the file size, CPU seconds and peak RSS per leecher, and the seeder's and
 * tracker's too; then a summary and the targets of issue 4 (seeder uploads
 * at most 4 file sizes at any N, CPU per leecher flat as N grows, peak RSS
 * per leecher under 150 MB), plus where the upload went (over time and
 * between leechers) to explain a miss.
 *
 * The same swarm runs with libtorrent too (issue 13; bench/lib/swarm-libtorrent.ts):
 * a libtorrent seeder on 127.0.0.2 and libtorrent leechers on 127.0.0.3..,
 * each its own python process bound to its address, through the same
 * tracker and the same v1 torrent (our make-torrent). --client picks the
 * clients (default ours,libtorrent, or ours alone with a warning where
 * python3 cannot import libtorrent); --runs R (default 3) repeats each N,
 * the clients interleaved (ours, libtorrent, ours, libtorrent, ...). Then a
 * line per run (time until all leechers are complete, first/median/last
 * completion, seeder upload in file sizes, CPU seconds), each client's
 * medians, the ratio, and the target "ours median <= libtorrent median"
 * (bench/lib/swarm-compare.ts). In both clients the leechers start only
 * once the tracker's scrape shows the seeder registered.
 *
 * --stay keeps each leecher seeding after it completes until all have (then
 * SIGINT), as LAN machines that stay on would; the default exits on
 * completion, so the last leechers depend more on the seeder.
 *
 * Leechers' CPU comes from getrusage at exit, written by the child itself
 * (bench/lib/launch-peer.ts); the seeder's CPU is its /proc utime+stime
 * during the run (its start-up verification is not swarm work). Peak RSS is
 * each child's VmHWM, polled from /proc (getrusage's of a child starts at
 * the parent's peak on Linux; bench/lib/swarm-child.ts).
 * Every run is bounded (--timeout, default the most of 180 s, 12 s per
 * leecher, and a second per 16 MiB all leechers download); all children
 * are killed when the bench exits. Data
 * lives in bench/.data/ (git-ignored) and is removed unless --keep.
 * --cpu-prof writes each leecher's V8 profile to bench/.data/swarm-profiles/N<n>/
 * (kept; summarize with bench/lib/cpu-profile-summary.ts).
 * --node-flags "FLAGS" runs our seeder and leechers as `node FLAGS ...`
 * (space-separated; e.g. V8 flags to compare, --trace-deopt to look). With
 * --lan they apply to client "ours" only, so `--lan --before .` (this same
 * build as "before") compares the flags against none in the same rotation.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { randomFillSync } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import {
  cpuSecondsOf,
  isRunning,
  killAllSwarmChildren,
  machineCpuTicks,
  startSwarmChild,
  stopSwarmChild,
  usageOf,
  type SwarmChild,
  type JsonEvent,
} from './lib/swarm-child.js';
import { details, severalRuns, summaryTable, targets, type LeecherResult, type RunResult, type SwarmClient } from './lib/swarm-report.js';
import { comparison } from './lib/swarm-compare.js';
import { libtorrentAvailable, ltSeederReady, PYTHON, startLtLeecher, startLtSeeder } from './lib/swarm-libtorrent.js';
import { waitSeederRegistered } from './lib/swarm-scrape.js';
import { sameFile } from './lib/same-file.js';
import { rateBitsPerSec, runLanBench } from './lib/swarm-lan.js';
import { parseBytes } from '../src/cli/parse.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const DATA = join(ROOT, 'bench', '.data');
const MiB = 1024 * 1024;
const TRACKER_HOST = '127.0.0.1';
const SEEDER_HOST = '127.0.0.2';
const leecherHost = (i: number): string => `127.0.0.${3 + i}`;
/** The seeder verifies its data before serving; on a loaded machine that can take a while. */
const SEEDER_READY_MS = 5 * 60_000;
const MAX_N = 250; // 127.0.0.3 .. 127.0.0.252

interface Args {
  ns: number[];
  sizeBytes: number;
  sizeLabel: string;
  timeoutS?: number;
  stay: boolean;
  pieceLength?: string;
  check: boolean;
  keep: boolean;
  build: boolean;
  cpuProf: boolean;
  nodeFlags: string[];
  /** --client, as given (undefined: both where libtorrent is installed; --lan: both). */
  clients?: SwarmClient[];
  /** --runs (undefined: 3 on loopback, 1 on the LAN). */
  runs?: number;
  /** --before: another build's dist/peer.js (--lan only). */
  before?: string;
  /** --lan: leechers, rate and runs of the namespace LAN mode. */
  lan?: { leechers: number; rate: string; runs: number; only?: 'ours' | 'libtorrent'; before?: string };
}

const DEFAULT_RUNS = 3;

function parseArgs(argv: string[]): Args {
  const a: Args = { ns: [1, 10, 20, 50], sizeBytes: 128 * MiB, sizeLabel: '128M', stay: false, check: false, keep: false, build: true, cpuProf: false, nodeFlags: [] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--n') {
      a.ns = v().split(',').map((s) => Number(s.trim()));
      if (a.ns.some((n) => !Number.isInteger(n) || n < 1 || n > MAX_N)) throw new Error(`--n: whole numbers from 1 to ${MAX_N}, comma-separated`);
    } else if (k === '--size') {
      a.sizeLabel = v();
      a.sizeBytes = parseBytes(a.sizeLabel, '--size');
    } else if (k === '--timeout') {
      a.timeoutS = Number(v());
      if (!(a.timeoutS > 0)) throw new Error('--timeout: seconds, above 0');
    } else if (k === '--stay') a.stay = true;
    else if (k === '--piece-length') a.pieceLength = v();
    else if (k === '--check') a.check = true;
    else if (k === '--keep') a.keep = true;
    else if (k === '--no-build') a.build = false;
    else if (k === '--cpu-prof') a.cpuProf = true;
    else if (k === '--node-flags') a.nodeFlags = v().split(' ').filter(Boolean);
    else if (k === '--lan') {
      a.lan = { leechers: 20, rate: '40mbit', runs: 1 };
      // Up to three positional values: leechers, size, rate.
      const pos: string[] = [];
      while (pos.length < 3 && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) pos.push(argv[++i]!);
      if (pos[0] !== undefined) a.lan.leechers = Number(pos[0]);
      if (!Number.isInteger(a.lan.leechers) || a.lan.leechers < 1 || a.lan.leechers > 250) throw new Error('--lan: leechers, a whole number from 1 to 250');
      if (pos[1] !== undefined) {
        a.sizeLabel = pos[1];
        a.sizeBytes = parseBytes(pos[1], '--lan size');
      } else if (!argv.includes('--size')) {
        a.sizeLabel = '64M';
        a.sizeBytes = 64 * MiB;
      }
      if (pos[2] !== undefined) a.lan.rate = pos[2];
      rateBitsPerSec(a.lan.rate);
    } else if (k === '--client') {
      const cs = v().split(',').map((c) => c.trim());
      if (cs.length === 0 || cs.some((c) => c !== 'ours' && c !== 'libtorrent')) throw new Error('--client: ours, libtorrent or ours,libtorrent');
      a.clients = (['ours', 'libtorrent'] as const).filter((c) => cs.includes(c));
    } else if (k === '--before') {
      a.before = resolve(v(), 'dist', 'peer.js');
      if (!existsSync(a.before)) throw new Error(`--before: ${a.before} is missing (give a checkout with a build)`);
    } else if (k === '--runs') {
      const r = Number(v());
      if (!Number.isInteger(r) || r < 1) throw new Error('--runs: a whole number, at least 1');
      a.runs = r;
    } else throw new Error(`unknown option ${k}`);
  }
  // The flags shared by both modes are read once all are parsed, so their order does not matter.
  if (a.lan) {
    if (a.runs !== undefined) a.lan.runs = a.runs;
    if (a.clients?.length === 1) a.lan.only = a.clients[0]!;
    if (a.before) a.lan.before = a.before;
  } else if (a.before) throw new Error('--before is for --lan (the loopback mode compares with libtorrent; bench:transfer has --baseline)');
  return a;
}

const log = (s: string): void => void process.stderr.write(`[swarm] ${s}\n`);

// --- data ---------------------------------------------------------------

/** Random bytes (incompressible, like real media), written in 4 MiB chunks. */
function ensurePayload(path: string, size: number): void {
  if (existsSync(path) && statSync(path).size === size) return log(`reusing ${path}`);
  log(`writing ${(size / MiB).toFixed(0)} MiB of random data to ${path}`);
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(4 * MiB);
    for (let off = 0; off < size; off += chunk.length) {
      randomFillSync(chunk);
      writeSync(fd, chunk, 0, Math.min(chunk.length, size - off), off);
    }
  } finally {
    closeSync(fd);
  }
}


const CHILD_SOURCES = ['launch-peer.ts', 'usage-report.ts'];

/** The children run as plain JavaScript (no tsx loader in their CPU or RSS). */
async function transpileChildren(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  for (const f of CHILD_SOURCES) {
    const src = await readFile(join(ROOT, 'bench', 'lib', f), 'utf8');
    const out = ts.transpileModule(src, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }, fileName: f });
    await writeFile(join(outDir, f.replace(/\.ts$/, '.js')), out.outputText);
  }
}

// --- one run ------------------------------------------------------------------

interface Env {
  args: Args;
  work: string;
  launch: string;
  peerJs: string;
  torrent: string;
  infoHash: string;
  payload: string;
  name: string;
  trackerPort: number;
  seederState: string;
}

const randomPort = (): number => 20_000 + Math.floor(Math.random() * 40_000);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const isProgress = (e: JsonEvent): boolean => e.event === 'progress';
const num = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);

async function waitExited(c: SwarmChild, ms: number): Promise<void> {
  if (!isRunning(c)) return;
  await Promise.race([c.exited, sleep(ms)]);
}

/** A run's bound: a slow machine must not fail a healthy swarm, a stuck one must not run forever. */
function runTimeoutMs(args: Args, n: number): number {
  return (args.timeoutS ?? Math.max(180, 12 * n, (n * args.sizeBytes) / (16 * MiB))) * 1000;
}

async function runOnce(env: Env, n: number, client: SwarmClient, run: number): Promise<RunResult> {
  const { args, work, launch, peerJs } = env;
  const runDir = join(work, `n${n}-${client}-${run + 1}`);
  await mkdir(runDir, { recursive: true });
  const childEnv = { BENCH_PEER_JS: peerJs };
  const timeoutMs = runTimeoutMs(args, n);
  const peerPort = randomPort();
  const common = ['--port', String(peerPort), '--json', '--no-dht', '--log-level', 'info'];
  // lt_peer.py's own bound, past the bench's: the bench stops it first, this is only for a bench that died.
  const ltTimeoutS = (SEEDER_READY_MS + timeoutMs) / 1000 + 120;

  const tracker = startSwarmChild(
    'tracker',
    [launch, 'tracker', '--host', TRACKER_HOST, '--port', String(env.trackerPort), '--json'],
    childEnv,
    join(runDir, 'tracker.usage.json'),
    ROOT,
  );
  let seeder: SwarmChild | undefined;
  const leechers: SwarmChild[] = [];
  const result: RunResult = {
    client,
    n,
    run,
    ok: false,
    sizeBytes: args.sizeBytes,
    wallSec: NaN,
    seederUploaded: NaN,
    seederTimeline: [],
    seederCpuSec: NaN,
    seederPeerHosts: [],
    leechers: [],
    loadAvg: '',
  };
  const tag = `${client} N=${n} run ${run + 1}`;
  try {
    await tracker.waitFor((e) => e.event === 'listening', 30_000, 'the tracker to listen');
    if (client === 'ours') {
      seeder = startSwarmChild(
        'seeder',
        [...args.nodeFlags, launch, 'seed', env.torrent, '--data', env.payload, '--host', SEEDER_HOST, '--state', env.seederState, ...common],
        childEnv,
        join(runDir, 'seeder.usage.json'),
        ROOT,
      );
      await seeder.waitFor((e) => isProgress(e) && e.have === e.pieces, SEEDER_READY_MS, 'the seeder to verify its data');
    } else {
      seeder = startLtSeeder({
        root: ROOT, torrent: env.torrent, host: SEEDER_HOST, port: peerPort, saveDir: dirname(env.payload), timeoutS: ltTimeoutS,
        reportPath: join(runDir, 'seeder.usage.json'),
      });
      await seeder.waitFor(ltSeederReady, SEEDER_READY_MS, 'the libtorrent seeder to check its data');
    }
    await waitSeederRegistered(TRACKER_HOST, env.trackerPort, env.infoHash, 30_000);
    log(`${tag}: seeder ready on ${SEEDER_HOST}:${peerPort}; starting ${n} leecher(s), timeout ${timeoutMs / 1000} s`);

    const seederPid = seeder.proc.pid;
    const cpu0 = cpuSecondsOf(seederPid);
    const up0 = num(seeder.events.filter((x) => isProgress(x.e)).at(-1)?.e.uploaded) ?? 0;
    const machine0 = machineCpuTicks();
    const t0 = performance.now();
    const deadline = t0 + timeoutMs;
    for (let i = 0; i < n; i++) {
      const host = leecherHost(i);
      const out = join(runDir, `out-${i}`);
      const usage = join(runDir, `leecher-${i}.usage.json`);
      leechers.push(
        client === 'ours'
          ? startSwarmChild(
              `leecher ${host}`,
              [
                ...args.nodeFlags,
                ...(args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(DATA, 'swarm-profiles', `N${n}`)}`] : []),
                launch, 'leech', env.torrent, '--out', out, ...(args.stay ? [] : ['--exit-on-complete']),
                '--host', host, '--state', join(runDir, `state-${i}`), ...common,
              ],
              childEnv,
              usage,
              ROOT,
            )
          : startLtLeecher({ root: ROOT, torrent: env.torrent, host, port: peerPort, saveDir: out, timeoutS: ltTimeoutS, reportPath: usage }, !args.stay),
      );
    }

    // Every leecher's completion, each bounded by the run's deadline; a leecher that dies or times out fails the run, not the bench.
    let reported = 0;
    const waits = await Promise.allSettled(
      leechers.map((l) =>
        l.waitFor((e) => e.event === 'complete', Math.max(1, deadline - performance.now()), 'completion').then((te) => {
          reported++;
          if (n >= 10 && reported % Math.ceil(n / 5) === 0) log(`${tag}: ${reported}/${n} complete after ${((te.t - t0) / 1000).toFixed(1)} s`);
          return te;
        }),
      ),
    );
    const tEnd = Math.max(...waits.map((w) => (w.status === 'fulfilled' ? w.value.t : performance.now())));
    result.wallSec = (tEnd - t0) / 1000;
    result.seederCpuSec = cpuSecondsOf(seederPid) - cpu0;
    const machine1 = machineCpuTicks();
    result.machineBusy = (machine1.busy - machine0.busy) / Math.max(1, machine1.total - machine0.total);
    const failures = waits.flatMap((w) => (w.status === 'rejected' ? [(w.reason as Error).message.slice(0, 300)] : []));

    // The seeder reports once a second: wait for a line after the last completion, so its count includes the tail.
    const lastLineAfterEnd = performance.now() + 5000;
    while (!seeder.events.some((x) => x.t > tEnd && isProgress(x.e)) && performance.now() < lastLineAfterEnd && isRunning(seeder)) await sleep(100);

    if (args.stay) await Promise.all(leechers.map((l) => stopSwarmChild(l, 15_000)));
    else await Promise.all(leechers.map((l) => waitExited(l, 20_000)));

    const seederProgress = seeder.events.filter((x) => isProgress(x.e) && x.t >= t0);
    result.seederTimeline = seederProgress.map((x) => ({ sec: (x.t - t0) / 1000, uploaded: (num(x.e.uploaded) ?? 0) - up0, peers: num(x.e.peers) ?? 0 }));
    result.seederUploaded = result.seederTimeline.at(-1)?.uploaded ?? 0;

    await stopSwarmChild(seeder);
    await stopSwarmChild(tracker);
    result.seederPeerHosts = seeder.connectedHosts;
    const su = usageOf(seeder);
    const seederRss = seeder.peakRssBytes ?? su?.maxRssBytes;
    if (seederRss !== undefined) result.seederRssBytes = seederRss;
    const tu = usageOf(tracker);
    if (tu) {
      result.trackerRssBytes = tracker.peakRssBytes ?? tu.maxRssBytes;
      result.trackerCpuSec = tu.userSec + tu.systemSec;
    }

    let dataOk = true;
    for (let i = 0; i < n; i++) {
      const l = leechers[i]!;
      await stopSwarmChild(l, 5000);
      const done = l.events.find((x) => x.e.event === 'complete');
      const lastProgress = l.events.filter((x) => isProgress(x.e)).at(-1);
      const u = usageOf(l);
      const lr: LeecherResult = {
        host: leecherHost(i),
        exit: l.proc.exitCode ?? l.proc.signalCode ?? undefined,
        peerHosts: [...new Set(l.connectedHosts)],
        ...(done ? { completeSec: (done.t - t0) / 1000, selfMs: num(done.e.elapsedMs), downloaded: num(done.e.downloaded) } : {}),
        ...(lastProgress ? { uploaded: num(lastProgress.e.uploaded) } : {}),
        ...(u ? { cpuSec: u.userSec + u.systemSec } : {}),
        ...((l.peakRssBytes ?? u?.maxRssBytes) !== undefined ? { rssBytes: l.peakRssBytes ?? u?.maxRssBytes } : {}),
      };
      result.leechers.push(lr);
      if (args.check && done && !sameFile(env.payload, join(runDir, `out-${i}`, env.name))) {
        dataOk = false;
        failures.push(`${lr.host}: the downloaded file differs from the source`);
      }
    }
    const notZero = result.leechers.filter((l) => l.exit !== 0);
    if (notZero.length) failures.push(`${notZero.length} leecher(s) did not exit 0`);
    result.ok = failures.length === 0 && dataOk;
    if (failures.length) result.error = `${failures.length} problem(s); first: ${failures[0]}`;
  } catch (err) {
    result.error = (err as Error).message.slice(0, 600);
  } finally {
    await Promise.all([...leechers, ...(seeder ? [seeder] : []), tracker].map((c) => stopSwarmChild(c, 5000)));
    result.loadAvg = loadavg().map((x) => x.toFixed(2)).join(' ');
    // The leechers' copies are N file sizes on disk: drop them before the next run.
    if (!args.keep) await rm(runDir, { recursive: true, force: true });
  }
  return result;
}

// --- main -------------------------------------------------------------------

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.build) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    // tsc still emits when it reports type errors (often in another area's half-finished file).
    if (b.status !== 0) log('WARNING: npm run build reported errors; using dist/ as emitted (--no-build skips the build)');
  }
  const peerJs = join(ROOT, 'dist', 'peer.js');
  const makeTorrentJs = join(ROOT, 'dist', 'make-torrent.js');
  if (!existsSync(peerJs)) throw new Error(`${peerJs} is missing: run npm run build`);

  await mkdir(DATA, { recursive: true });
  const work = join(DATA, `swarm-${process.pid}`);
  const name = `swarm-payload-${args.sizeLabel}.bin`;
  const payload = join(DATA, name);
  const cleanup = (): void => {
    killAllSwarmChildren();
    if (args.keep) return;
    rmSync(work, { recursive: true, force: true });
    rmSync(payload, { force: true });
  };
  // Ctrl-C or a kill: no child outlives the bench, no data stays behind.
  const onSignal = (sig: NodeJS.Signals): void => {
    log(`${sig}: stopping all children`);
    cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', killAllSwarmChildren);

  const runs = args.runs ?? DEFAULT_RUNS;
  let clients: SwarmClient[] = args.clients ?? ['ours', 'libtorrent'];
  if (!args.lan && clients.includes('libtorrent') && !libtorrentAvailable()) {
    if (args.clients) throw new Error(`--client libtorrent needs python3-libtorrent (${PYTHON} -c 'import libtorrent' failed)`);
    log(`WARNING: ${PYTHON} cannot import libtorrent (apt install python3-libtorrent): ours only, no comparison`);
    clients = ['ours'];
  }

  const results: RunResult[] = [];
  try {
    await mkdir(work, { recursive: true });
    const childDir = join(work, 'lib');
    await transpileChildren(childDir);
    ensurePayload(payload, args.sizeBytes);

    if (args.lan) {
      const lan = await runLanBench(
        { leechers: args.lan.leechers, sizeBytes: args.sizeBytes, rate: args.lan.rate, runs: args.lan.runs, keep: args.keep,
          ...(args.lan.only ? { only: args.lan.only } : {}),
          ...(args.lan.before ? { beforePeerJs: args.lan.before } : {}),
          ...(args.nodeFlags.length ? { nodeFlags: args.nodeFlags } : {}),
          ...(args.cpuProf ? { cpuProfDir: join(DATA, 'swarm-profiles', 'lan') } : {}), ...(args.timeoutS ? { timeoutS: args.timeoutS } : {}) },
        args.sizeLabel,
        { root: ROOT, work, launch: join(childDir, 'launch-peer.js'), peerJs, makeTorrentJs, payload, name, ...(args.pieceLength ? { pieceLength: args.pieceLength } : {}), log },
      );
      process.stdout.write(lan.lines.join('\n') + '\n');
      if (!lan.ok) process.exitCode = 1;
      return;
    }
    // The same plain v1 torrent (our make-torrent) for both clients.
    const trackerPort = randomPort();
    const torrent = join(work, `${name}.torrent`);
    const mk = spawnSync(
      process.execPath,
      [makeTorrentJs, payload, '-a', `http://${TRACKER_HOST}:${trackerPort}/announce`, '-o', torrent, '--force', '--json', ...(args.pieceLength ? ['-l', args.pieceLength] : [])],
      { cwd: ROOT, encoding: 'utf8' },
    );
    if (mk.status !== 0) throw new Error(`make-torrent failed: ${mk.stderr}`);
    const meta = JSON.parse(mk.stdout) as { infoHash: string; pieceLength: number; pieces: number };
    log(`torrent ${meta.infoHash}: ${meta.pieces} pieces of ${meta.pieceLength / 1024} KiB, tracker ${TRACKER_HOST}:${trackerPort}`);

    const env: Env = {
      args, work, launch: join(childDir, 'launch-peer.js'), peerJs, torrent, infoHash: meta.infoHash, payload, name, trackerPort,
      seederState: join(work, 'seeder-state'),
    };
    for (const n of args.ns) {
      for (let run = 0; run < runs; run++) {
        for (const client of clients) {
          const r = await runOnce(env, n, client, run);
          results.push(r);
          log(
            `${client} N=${n} run ${run + 1}/${runs}: ${r.ok ? 'ok' : `FAILED (${r.error ?? ''})`}, all complete after ${r.wallSec.toFixed(1)} s, ` +
              `seeder uploaded ${(r.seederUploaded / args.sizeBytes).toFixed(2)}x, load average ${r.loadAvg}`,
          );
        }
      }
    }
  } finally {
    cleanup();
    if (args.keep) log(`kept ${payload} and ${work}`);
  }

  const lines: string[] = [];
  lines.push(
    `swarm benchmark: ${args.sizeLabel} (${args.sizeBytes} bytes), 1 seeder + N leechers on 127.0.0.x, tracker on ${TRACKER_HOST}, ` +
      `leechers ${args.stay ? 'stay until all are complete (--stay)' : 'exit on completion'}; clients ${clients.join(', ')}, ${runs} run(s) each; ` +
      `${cpus().length}-core machine load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')}`,
  );
  const ours = results.filter((r) => r.client === 'ours');
  const lt = results.filter((r) => r.client === 'libtorrent');
  const upNote = '("seeder up x" and "leechers up x": payload bytes sent, in file sizes; leechers\' figures are from their last progress line, up to a second stale)';
  const rssNote = '("RSS": each process\'s VmHWM, polled from /proc every 250 ms while it ran; for libtorrent it includes the file pages it maps)';
  if (ours.length) {
    lines.push(...summaryTable(ours));
    lines.push(upNote, rssNote);
    lines.push('');
    for (const r of ours) lines.push(...details(r, SEEDER_HOST, severalRuns(ours)));
    lines.push('');
    lines.push(...targets(ours));
  }
  if (lt.length) {
    lines.push('');
    lines.push('libtorrent, the same columns (its seeder\'s and leechers\' own payload counters; CPU from getrusage at exit, bench/lib/lt-usage.py):');
    lines.push(...summaryTable(lt));
    lines.push(rssNote);
  }
  lines.push('');
  lines.push(...comparison(results, args.sizeLabel));
  process.stdout.write(lines.join('\n') + '\n');
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

await main();
