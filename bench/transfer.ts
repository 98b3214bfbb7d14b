/**
 * `npm run bench:transfer [-- --size 1G|4G|256M] [--runs N] [--keep] [--piece-length N]
 *                          [--only ours,libtorrent,webtorrent,floor,baseline] [--baseline DIR]
 *                          [--cpu-prof] [--no-build] [--no-check]`
 *
 * One seeder to one leecher over loopback, a single-file torrent, for our
 * pair (`peer seed` on 127.0.0.2, `peer leech` on 127.0.0.3, both from dist/),
 * a libtorrent pair (python3-libtorrent through test/py/lt_peer.py, wrapped by
 * bench/lib/lt-usage.py, same addresses; left out with a warning where
 * python3 cannot import libtorrent, unless named in --only) and a
 * webtorrent@1.9.7 pair, each
 * side in its own process; `--baseline DIR` adds our pair again from another
 * built checkout (DIR/dist/peer.js: a "before" to compare with); then the
 * floor: the same bytes read, sent over loopback, hashed and written by two
 * bare processes with no protocol (bench/lib/floor-peer.ts), the most any
 * pair could reach on this machine at that moment. Prints, per
 * pair: MB/s from the leecher's spawn to its verified completion, CPU seconds
 * (user+sys) and peak RSS of each side, and the ratio ours/WebTorrent next to
 * the targets of issue 3 (>= 350 MB/s, >= 2x WebTorrent, < 150 MB RSS).
 *
 * CPU: the leecher's whole life (it starts with the clock and exits on
 * completion); the seeder's CPU during the transfer only (sampled from
 * /proc/<pid>/stat), since its start-up verification is not transfer work.
 * Peak RSS: getrusage of each child, written by the child at exit
 * (bench/lib/usage-report.ts, bench/lib/lt-usage.py). Peak anonymous RSS
 * (RssAnon: the heap and buffers, not the page cache of mapped files) is
 * sampled from /proc/<pid>/status every 50 ms during the transfer. For our
 * leecher the summary also gives its main thread's share of the CPU (the
 * threads alive at exit, from the usage report); the rest is disk writes and
 * hash workers on other threads.
 *
 * Runs: the selected pairs run in turn, --runs times (default 3), so that a
 * neighbour's load falls on every pair alike; the summary gives the median of
 * each figure over the runs, CPU per GiB of payload for each side, and the
 * ratios ours/libtorrent against the targets of issue 13.
 *
 * The data lives in bench/.data/ (git-ignored) and is deleted afterwards
 * unless --keep; a kept file of the right size is reused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, openSync, closeSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { randomFillSync } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import ts from 'typescript';
import type { UsageReport } from './lib/usage-report.js';
import { sameFile } from './lib/same-file.js';
import { parseBytes } from '../src/cli/parse.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const DATA = join(ROOT, 'bench', '.data');
const MB = 1e6;
const MiB = 1024 * 1024;
const CLK_TCK = 100; // Linux USER_HZ: the unit of utime/stime in /proc/<pid>/stat
const GiB = 1024 * MiB;
const SEEDER_READY_MS = 15 * 60_000;
const PYTHON = '/usr/bin/python3';

interface Args {
  sizeBytes: number;
  sizeLabel: string;
  keep: boolean;
  pieceLength?: string;
  pairs: PairName[];
  /** The pairs were named with --only. */
  onlyGiven: boolean;
  runs: number;
  baseline?: string;
  cpuProf: boolean;
  build: boolean;
  check: boolean;
  timeoutMs: number;
}

type PairName = 'ours' | 'libtorrent' | 'webtorrent' | 'floor' | 'baseline';
const PAIR_NAMES: readonly PairName[] = ['ours', 'libtorrent', 'webtorrent', 'floor', 'baseline'];

/**
 * True when this machine is a VM whose virtio balloon reports free pages to
 * the host (feature bit 5, VIRTIO_BALLOON_F_REPORTING): the host then drops
 * them, and the guest's next use of each faults to the host.
 */
function freePageReporting(): boolean {
  try {
    for (const d of readdirSync('/sys/bus/virtio/devices')) {
      const base = `/sys/bus/virtio/devices/${d}`;
      if (!readFileSync(`${base}/modalias`, 'utf8').startsWith('virtio:d00000005v')) continue;
      return readFileSync(`${base}/features`, 'utf8')[5] === '1';
    }
  } catch {
    // not Linux, or no virtio: nothing to say
  }
  return false;
}

function parseArgs(argv: string[]): Args {
  const a: Args = {
    sizeBytes: 1024 * MiB, sizeLabel: '1G', keep: false, pairs: [], onlyGiven: false, runs: 3, cpuProf: false, build: true, check: true, timeoutMs: 10 * 60_000,
  };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${k} needs a value`);
      return x;
    };
    if (k === '--size') {
      a.sizeLabel = v();
      a.sizeBytes = parseBytes(a.sizeLabel, '--size');
    } else if (k === '--keep') a.keep = true;
    else if (k === '--piece-length') a.pieceLength = v();
    else if (k === '--only') {
      for (const o of v().split(',')) {
        if (!PAIR_NAMES.includes(o as PairName)) throw new Error(`--only: a comma-separated list of ${PAIR_NAMES.join(', ')}`);
        a.pairs.push(o as PairName);
      }
    } else if (k === '--runs') {
      a.runs = Number(v());
      if (!Number.isInteger(a.runs) || a.runs < 1) throw new Error('--runs: a positive integer');
    } else if (k === '--baseline') a.baseline = resolve(v());
    else if (k === '--cpu-prof') a.cpuProf = true;
    else if (k === '--no-build') a.build = false;
    else if (k === '--no-check') a.check = false;
    else if (k === '--timeout') a.timeoutMs = Number(v()) * 1000;
    else throw new Error(`unknown option ${k}`);
  }
  a.onlyGiven = a.pairs.length > 0;
  if (a.pairs.length === 0) a.pairs = ['ours', 'libtorrent', ...(a.baseline ? ['baseline' as const] : []), 'webtorrent', 'floor'];
  if (a.pairs.includes('baseline') && !a.baseline) throw new Error('the baseline pair needs --baseline DIR');
  return a;
}

const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);

// --- data ---------------------------------------------------------------

/** Random bytes (incompressible, like real media), written in 4 MiB chunks. */
async function ensurePayload(path: string, size: number): Promise<void> {
  if (existsSync(path) && statSync(path).size === size) return log(`reusing ${path}`);
  log(`writing ${(size / MiB).toFixed(0)} MiB of random data to ${path}`);
  const fd = openSync(path, 'w');
  try {
    const chunk = Buffer.alloc(4 * MiB);
    for (let off = 0; off < size; off += chunk.length) {
      randomFillSync(chunk);
      const n = Math.min(chunk.length, size - off);
      writeSync(fd, chunk, 0, n, off);
    }
  } finally {
    closeSync(fd);
  }
}

async function readThrough(path: string): Promise<void> {
  for await (const _ of createReadStream(path, { highWaterMark: 4 * MiB })) void _;
}


const CHILD_SOURCES = ['launch-peer.ts', 'webtorrent-peer.ts', 'floor-peer.ts', 'usage-report.ts'];

/** The children run as plain JavaScript (no loader in their CPU or RSS): transpile bench/lib/*.ts. */
async function transpileChildren(outDir: string): Promise<void> {
  await mkdir(outDir, { recursive: true });
  const libDir = join(ROOT, 'bench', 'lib');
  for (const f of CHILD_SOURCES) {
    const src = await readFile(join(libDir, f), 'utf8');
    const out = ts.transpileModule(src, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
      fileName: f,
    });
    await writeFile(join(outDir, f.replace(/\.ts$/, '.js')), out.outputText);
  }
}

// --- processes ------------------------------------------------------------

interface Child {
  name: string;
  proc: ChildProcess;
  reportPath: string;
  events: Array<Record<string, unknown>>;
  stderrTail: string;
  exited: Promise<number | string>;
  /** Resolves with the first JSON event for which `pred` holds. */
  waitFor(pred: (e: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>>;
}

function startChild(name: string, args: string[], env: Record<string, string>, reportPath: string, cmd = process.execPath): Child {
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env, BENCH_REPORT: reportPath },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const events: Array<Record<string, unknown>> = [];
  const waiters: Array<{ pred: (e: Record<string, unknown>) => boolean; resolve: (e: Record<string, unknown>) => void }> = [];
  const child: Child = {
    name,
    proc,
    reportPath,
    events,
    stderrTail: '',
    exited: new Promise((res) => proc.on('close', (code, sig) => res(code ?? sig ?? 'unknown'))),
    waitFor(pred, ms, what) {
      const seen = events.find(pred);
      if (seen) return Promise.resolve(seen);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`${name}: timed out after ${ms / 1000} s waiting for ${what}; stderr: ${child.stderrTail}`)), ms);
        void child.exited.then((code) => {
          clearTimeout(timer);
          rej(new Error(`${name} exited (${code}) before ${what}; stderr: ${child.stderrTail}`));
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
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return log(`${name} stdout: ${line}`);
    }
    events.push(e);
    if (e.event === 'error') log(`${name} error event: ${String(e.message)}`);
    for (const w of [...waiters]) {
      if (w.pred(e)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(e);
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    child.stderrTail = (child.stderrTail + d.toString()).slice(-4000);
  });
  return child;
}

/** utime+stime of a live process, seconds. */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ", field 3 (state) is index 0; utime and stime are fields 14 and 15.
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** The machine's CPU counters (/proc/stat, jiffies): busy (user+nice+system+irq+softirq), idle+iowait, steal. */
function machineCpu(): { busy: number; idle: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busy: user + nice + system + irq + softirq, idle: idle + iowait, steal };
}

/** Anonymous RSS (RssAnon) of a live process now, bytes; undefined once it is gone. */
function anonRssOf(pid: number): number | undefined {
  try {
    const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Samples the peak anonymous RSS of a set of processes every 50 ms until stopped. */
function sampleAnonRss(pids: () => Array<number | undefined>): { stop(): number[] } {
  const peaks: number[] = [];
  const tick = (): void => {
    pids().forEach((pid, i) => {
      const r = pid === undefined ? undefined : anonRssOf(pid);
      if (r !== undefined) peaks[i] = Math.max(peaks[i] ?? 0, r);
    });
  };
  tick();
  const t = setInterval(tick, 50);
  return {
    stop() {
      clearInterval(t);
      tick();
      return peaks;
    },
  };
}

/** Peak RSS so far (VmHWM) of a live process, bytes. */
function peakRssOf(pid: number): number | undefined {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : undefined;
}

async function stopChild(c: Child, ms = 30_000): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), ms);
  await c.exited;
  clearTimeout(t);
}

function usageOf(c: Child): UsageReport | undefined {
  try {
    return JSON.parse(readFileSync(c.reportPath, 'utf8')) as UsageReport;
  } catch {
    return undefined;
  }
}

// --- one pair ---------------------------------------------------------------

interface PairResult {
  label: string;
  run?: number;
  ok: boolean;
  error?: string;
  seconds: number;
  mbps: number;
  /** What the leecher itself reported, from its own start to completion. */
  selfReportedMs?: number;
  seederCpuSec: number;
  leecherCpuSec: number;
  /** The leecher's main thread (JavaScript, socket reads, in-line hashing); the rest is its other threads (disk writes, workers). */
  leecherMainThreadSec?: number;
  seederRssBytes?: number;
  /** The seeder's peak RSS before the leecher started (its start-up verification). */
  seederRssAtReadyBytes?: number;
  leecherRssBytes?: number;
  /** Peak anonymous RSS, sampled (see the header). */
  seederAnonRssBytes?: number;
  leecherAnonRssBytes?: number;
  dataOk?: boolean;
  /** Share of the machine's CPU time that was busy / stolen by the hypervisor during the transfer. */
  machineBusy?: number;
  machineSteal?: number;
}

interface PairSpec {
  label: string;
  /** The program the children run: node unless said. */
  cmd?: string;
  seeder: { args: string[]; env: Record<string, string> };
  /** Called with the seeder's ready event. */
  leecher: (ready: Record<string, unknown>) => { args: string[]; env: Record<string, string> };
  seederReady: (e: Record<string, unknown>) => boolean;
  outFile: string;
}

async function runPair(spec: PairSpec, work: string, args: Args, payload: string): Promise<PairResult> {
  const seeder = startChild(`${spec.label} seeder`, spec.seeder.args, spec.seeder.env, join(work, `${spec.label}-seeder.usage.json`), spec.cmd);
  let leecher: Child | undefined;
  try {
    const ready = await seeder.waitFor(spec.seederReady, SEEDER_READY_MS, 'the seeder to verify its data and listen');
    const l = spec.leecher(ready);
    const seederCpu0 = cpuSecondsOf(seeder.proc.pid!);
    const seederRssAtReady = peakRssOf(seeder.proc.pid!);
    const m0 = machineCpu();
    const t0 = process.hrtime.bigint();
    leecher = startChild(`${spec.label} leecher`, l.args, l.env, join(work, `${spec.label}-leecher.usage.json`), spec.cmd);
    const lc = leecher;
    const anon = sampleAnonRss(() => [seeder.proc.pid, lc.proc.exitCode === null ? lc.proc.pid : undefined]);
    const done = await leecher.waitFor((e) => e.event === 'complete', args.timeoutMs, 'completion').finally(() => anon.stop());
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const [seederAnon, leecherAnon] = anon.stop();
    const m1 = machineCpu();
    const total = m1.busy - m0.busy + (m1.idle - m0.idle) + (m1.steal - m0.steal);
    const seederCpuSec = cpuSecondsOf(seeder.proc.pid!) - seederCpu0;
    const code = await leecher.exited;
    await stopChild(seeder);
    const lu = usageOf(leecher);
    const su = usageOf(seeder);
    // Threads are listed only while alive at exit: libtorrent's have ended by then.
    const mainThread = lu?.threads && lu.threads.length > 1 ? lu.threads.find((t) => t.tid === lu.pid) : undefined;
    const result: PairResult = {
      label: spec.label,
      ok: code === 0,
      ...(code === 0 ? {} : { error: `leecher exited ${code}` }),
      seconds,
      mbps: args.sizeBytes / MB / seconds,
      ...(typeof done.elapsedMs === 'number' ? { selfReportedMs: done.elapsedMs } : {}),
      seederCpuSec,
      leecherCpuSec: lu ? lu.userSec + lu.systemSec : NaN,
      ...(mainThread ? { leecherMainThreadSec: mainThread.userSec + mainThread.systemSec } : {}),
      ...(su ? { seederRssBytes: su.maxRssBytes } : {}),
      ...(seederRssAtReady !== undefined ? { seederRssAtReadyBytes: seederRssAtReady } : {}),
      ...(lu ? { leecherRssBytes: lu.maxRssBytes } : {}),
      ...(seederAnon !== undefined ? { seederAnonRssBytes: seederAnon } : {}),
      ...(leecherAnon !== undefined ? { leecherAnonRssBytes: leecherAnon } : {}),
      ...(total > 0 ? { machineBusy: (m1.busy - m0.busy) / total, machineSteal: (m1.steal - m0.steal) / total } : {}),
    };
    if (args.check) {
      log(`${spec.label}: comparing the downloaded file with the source`);
      result.dataOk = sameFile(payload, spec.outFile);
      if (!result.dataOk) result.ok = false;
    }
    return result;
  } catch (err) {
    return { label: spec.label, ok: false, error: (err as Error).message, seconds: NaN, mbps: NaN, seederCpuSec: NaN, leecherCpuSec: NaN };
  } finally {
    if (leecher) await stopChild(leecher, 5000);
    await stopChild(seeder, 5000);
  }
}

// --- main -------------------------------------------------------------------

function fmtMB(bytes: number | undefined): string {
  return bytes === undefined ? 'n/a' : `${(bytes / MiB).toFixed(0)} MiB`;
}

function randomPort(): number {
  return 20_000 + Math.floor(Math.random() * 40_000);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.build) {
    log('npm run build');
    const b = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] });
    // tsc still emits when it reports type errors (often in another area's
    // half-finished file): go on with what it emitted, but say so.
    if (b.status !== 0) log('WARNING: npm run build reported errors; using dist/ as emitted (pass --no-build to skip the build)');
  }
  if (args.pairs.includes('libtorrent') && spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status !== 0) {
    // Asked for by name: fail as any pair would; by default: run the others.
    if (args.onlyGiven) throw new Error(`the libtorrent pair needs python3-libtorrent (${PYTHON} -c 'import libtorrent' failed)`);
    log(`WARNING: ${PYTHON} cannot import libtorrent (apt install python3-libtorrent): the libtorrent pair is left out`);
    args.pairs = args.pairs.filter((p) => p !== 'libtorrent');
  }
  const peerJs = join(ROOT, 'dist', 'peer.js');
  const makeTorrentJs = join(ROOT, 'dist', 'make-torrent.js');
  if (!existsSync(peerJs)) throw new Error(`${peerJs} is missing: run npm run build`);

  await mkdir(DATA, { recursive: true });
  const work = join(DATA, `run-${process.pid}`);
  await mkdir(work, { recursive: true });
  const childJs = join(work, 'lib');
  await transpileChildren(childJs);

  const name = `payload-${args.sizeLabel}.bin`;
  const payload = join(DATA, name);
  const results: PairResult[] = [];
  try {
    await ensurePayload(payload, args.sizeBytes);
    const torrent = join(work, `${name}.torrent`);
    const mk = spawnSync(process.execPath, [makeTorrentJs, payload, '-o', torrent, '--force', '--json', ...(args.pieceLength ? ['-l', args.pieceLength] : [])], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    if (mk.status !== 0) throw new Error(`make-torrent failed: ${mk.stderr}`);
    const meta = JSON.parse(mk.stdout) as { infoHash: string; pieceLength: number; pieces: number };
    log(`torrent ${meta.infoHash}: ${meta.pieces} pieces of ${meta.pieceLength / 1024} KiB`);
    log('warming the page cache');
    await readThrough(payload);

    const profDir = join(ROOT, 'bench', '.data', 'profiles');
    const nodeOpts = args.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
    const launch = join(childJs, 'launch-peer.js');
    const wtPeer = join(childJs, 'webtorrent-peer.js');
    const ltPeer = join(ROOT, 'bench', 'lib', 'lt-usage.py');
    const ltTimeout = String(Math.ceil(args.timeoutMs / 1000) + 15 * 60);

    /** Our pair, from the dist/peer.js of this checkout or of --baseline. */
    const oursSpec = (label: string, peer: string, outDir: string): PairSpec => {
      const sPort = randomPort();
      const lPort = sPort + 1;
      const common = ['--json', '--no-dht', '--log-level', 'warn'];
      return {
        label,
        seeder: {
          args: [...nodeOpts, launch, 'seed', torrent, '--data', payload, '--host', '127.0.0.2', '--port', String(sPort), '--state', join(work, `${label}-seed-state`), ...common],
          env: { BENCH_PEER_JS: peer },
        },
        seederReady: (e) => e.event === 'progress' && e.have === e.pieces,
        leecher: () => ({
          args: [
            ...nodeOpts, launch, 'leech', torrent, '--out', outDir, '--exit-on-complete',
            '--host', '127.0.0.3', '--port', String(lPort), '--peer', `127.0.0.2:${sPort}`,
            '--state', join(work, `${label}-leech-state`), ...common,
          ],
          env: { BENCH_PEER_JS: peer },
        }),
        outFile: join(outDir, name),
      };
    };
    const specs: Record<PairName, (outDir: string) => PairSpec> = {
      ours: (outDir) => oursSpec('ours', peerJs, outDir),
      baseline: (outDir) => oursSpec('baseline', join(args.baseline ?? ROOT, 'dist', 'peer.js'), outDir),
      libtorrent: (outDir) => {
        // The seeder checks the payload in place (bench/.data), then seeds; the
        // leecher exits once it has verified every piece.
        const sPort = randomPort();
        return {
          label: 'libtorrent',
          cmd: PYTHON,
          seeder: { args: [ltPeer, '--torrent', torrent, '--save', DATA, '--listen', `127.0.0.2:${sPort}`, '--timeout', ltTimeout], env: {} },
          seederReady: (e) => e.event === 'complete',
          leecher: () => ({
            args: [ltPeer, '--torrent', torrent, '--save', outDir, '--listen', `127.0.0.3:${sPort + 1}`, '--peer', `127.0.0.2:${sPort}`, '--exit-on-complete', '--timeout', ltTimeout],
            env: {},
          }),
          outFile: join(outDir, name),
        };
      },
      webtorrent: (outDir) => ({
        label: 'webtorrent',
        seeder: { args: [wtPeer, 'seed', torrent, DATA], env: {} },
        seederReady: (e) => e.event === 'ready',
        leecher: (ready) => ({ args: [wtPeer, 'leech', torrent, outDir, `127.0.0.1:${String(ready.port)}`], env: {} }),
        outFile: join(outDir, name),
      }),
      floor: (outDir) => {
        const floorJs = join(childJs, 'floor-peer.js');
        const out = join(outDir, name);
        return {
          label: 'floor',
          seeder: { args: [floorJs, 'send', payload, '127.0.0.2'], env: {} },
          seederReady: (e) => e.event === 'ready',
          leecher: (ready) => ({ args: [floorJs, 'recv', out, `127.0.0.2:${String(ready.port)}`, '127.0.0.3'], env: {} }),
          outFile: out,
        };
      },
    };

    for (let run = 1; run <= args.runs; run++) {
      for (const pair of args.pairs) {
        log(`run ${run}/${args.runs}: ${pair}`);
        const outDir = join(work, `${pair}-out`);
        await mkdir(outDir, { recursive: true });
        results.push({ ...(await runPair(specs[pair](outDir), work, args, payload)), run });
        await rm(outDir, { recursive: true, force: true });
      }
    }
  } finally {
    if (!args.keep) {
      await rm(work, { recursive: true, force: true });
      await rm(payload, { force: true });
    } else log(`kept ${payload} and ${work}`);
  }

  printResults(results, args);
  if (args.cpuProf) log(`CPU profiles of our children: ${join(ROOT, 'bench', '.data', 'profiles')}`);
  if (results.some((r) => !r.ok)) process.exitCode = 1;
}

function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

function maxOf(xs: Array<number | undefined>): number | undefined {
  const v = xs.filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}

interface PairSummary {
  label: string;
  runs: number;
  ok: number;
  mibps: number;
  mbps: number;
  seconds: number;
  /** CPU seconds per GiB of payload. */
  leecherCpuPerGiB: number;
  leecherMainPerGiB: number;
  seederCpuPerGiB: number;
  seederRss?: number;
  leecherRss?: number;
  seederAnon?: number;
  leecherAnon?: number;
}

function summarize(label: string, rs: PairResult[], sizeBytes: number): PairSummary {
  const ok = rs.filter((r) => r.ok);
  const gib = sizeBytes / GiB;
  return {
    label,
    runs: rs.length,
    ok: ok.length,
    mibps: median(ok.map((r) => sizeBytes / MiB / r.seconds)),
    mbps: median(ok.map((r) => r.mbps)),
    seconds: median(ok.map((r) => r.seconds)),
    leecherCpuPerGiB: median(ok.map((r) => r.leecherCpuSec / gib)),
    leecherMainPerGiB: median(ok.map((r) => (r.leecherMainThreadSec ?? NaN) / gib)),
    seederCpuPerGiB: median(ok.map((r) => r.seederCpuSec / gib)),
    seederRss: maxOf(ok.map((r) => r.seederRssBytes)),
    leecherRss: maxOf(ok.map((r) => r.leecherRssBytes)),
    seederAnon: maxOf(ok.map((r) => r.seederAnonRssBytes)),
    leecherAnon: maxOf(ok.map((r) => r.leecherAnonRssBytes)),
  };
}

function printResults(results: PairResult[], args: Args): void {
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const lines: string[] = [];
  lines.push(`transfer benchmark: ${args.sizeLabel} (${args.sizeBytes} bytes), one seeder -> one leecher on loopback, ${args.runs} interleaved run(s), load average ${load}`);
  lines.push('run pair        MiB/s     time  leecher-self  seeder CPU  leecher CPU  seeder RSS/anon  leecher RSS/anon  data');
  for (const r of results) {
    const head = `${String(r.run ?? '').padStart(3)} ${r.label.padEnd(11)}`;
    if (!Number.isFinite(r.seconds)) {
      lines.push(`${head} FAILED: ${r.error ?? ''}`);
      continue;
    }
    lines.push(
      [
        head,
        (args.sizeBytes / MiB / r.seconds).toFixed(1).padStart(6),
        `${r.seconds.toFixed(2)} s`.padStart(8),
        (r.selfReportedMs !== undefined ? `${(r.selfReportedMs / 1000).toFixed(2)} s` : 'n/a').padStart(13),
        `${r.seederCpuSec.toFixed(2)} s`.padStart(11),
        `${r.leecherCpuSec.toFixed(2)} s`.padStart(12),
        `${fmtMB(r.seederRssBytes)}/${fmtMB(r.seederAnonRssBytes).replace(' MiB', '')}`.padStart(16),
        `${fmtMB(r.leecherRssBytes)}/${fmtMB(r.leecherAnonRssBytes).replace(' MiB', '')}`.padStart(17),
        r.dataOk === undefined ? ' unchecked' : r.dataOk ? ' equal' : ' DIFFERENT',
      ].join(' ') + (r.error ? `  (${r.error})` : ''),
    );
  }
  for (const r of results) {
    if (r.run !== 1) continue;
    if (r.seederRssAtReadyBytes !== undefined) lines.push(`${r.label}: seeder peak RSS before the leecher started (start-up verification): ${fmtMB(r.seederRssAtReadyBytes)}`);
  }
  const busy = results.filter((r) => r.machineBusy !== undefined);
  if (busy.length) {
    lines.push(
      `the machine's ${cpus().length} cores during the transfers: median ${(median(busy.map((r) => r.machineBusy!)) * 100).toFixed(0)}% busy, ` +
        `hypervisor steal ${(median(busy.map((r) => r.machineSteal ?? 0)) * 100).toFixed(0)}%`,
    );
  }
  if (freePageReporting()) {
    lines.push(
      'note: this VM gives its free memory back to the host (virtio balloon free page reporting), so a page the kernel takes for the page cache may fault to the host first: ' +
        'what a leecher\'s writes cost then varies from run to run (one build measured 2.5 to 4.4 s of leecher CPU per GiB on one day here): compare clients within one run, over several runs',
    );
  }

  const sums = new Map<string, PairSummary>();
  for (const p of args.pairs) sums.set(p, summarize(p, results.filter((r) => r.label === p), args.sizeBytes));
  lines.push('');
  lines.push(`medians over the runs (CPU per GiB of payload; RSS the largest peak, total/anonymous)`);
  lines.push('pair        ok   MiB/s    MB/s     time  leecher CPU/GiB (main thread)  seeder CPU/GiB  seeder RSS/anon  leecher RSS/anon');
  for (const s of sums.values()) {
    lines.push(
      [
        s.label.padEnd(11),
        `${s.ok}/${s.runs}`.padStart(4),
        s.mibps.toFixed(1).padStart(7),
        s.mbps.toFixed(1).padStart(7),
        `${s.seconds.toFixed(2)} s`.padStart(8),
        `${s.leecherCpuPerGiB.toFixed(2)} s`.padStart(16),
        (Number.isFinite(s.leecherMainPerGiB) ? `(${s.leecherMainPerGiB.toFixed(2)} s)` : '(n/a)').padStart(13),
        `${s.seederCpuPerGiB.toFixed(2)} s`.padStart(15),
        `${fmtMB(s.seederRss)}/${fmtMB(s.seederAnon).replace(' MiB', '')}`.padStart(16),
        `${fmtMB(s.leecherRss)}/${fmtMB(s.leecherAnon).replace(' MiB', '')}`.padStart(17),
      ].join(' '),
    );
  }

  const ours = sums.get('ours');
  const lt = sums.get('libtorrent');
  const wt = sums.get('webtorrent');
  const base = sums.get('baseline');
  const floor = sums.get('floor');
  if (ours && Number.isFinite(ours.mibps)) {
    lines.push('targets (issue 13):');
    if (lt && Number.isFinite(lt.mibps)) {
      const ratio = ours.mibps / lt.mibps;
      lines.push(`  ours/libtorrent MiB/s >= 1.0x: ${ratio >= 1 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x: ${ours.mibps.toFixed(1)} vs ${lt.mibps.toFixed(1)})`);
      const ok = ours.leecherCpuPerGiB <= lt.leecherCpuPerGiB;
      lines.push(
        `  leecher CPU per GiB <= libtorrent's: ${ok ? 'met' : 'NOT met'} (${ours.leecherCpuPerGiB.toFixed(2)} s vs ${lt.leecherCpuPerGiB.toFixed(2)} s, ` +
          `${(ours.leecherCpuPerGiB / lt.leecherCpuPerGiB).toFixed(2)}x); seeder ${ours.seederCpuPerGiB.toFixed(2)} s vs ${lt.seederCpuPerGiB.toFixed(2)} s`,
      );
    }
    const anon = Math.max(ours.seederAnon ?? 0, ours.leecherAnon ?? 0);
    lines.push(`  anonymous RSS <= 100 MiB per process: ${anon <= 100 * MiB ? 'met' : 'NOT met'} (${fmtMB(anon)})`);
    lines.push(`  (issue 3) ours >= 350 MB/s: ${ours.mbps >= 350 ? 'met' : 'NOT met'} (${ours.mbps.toFixed(1)} MB/s)`);
    if (wt && Number.isFinite(wt.mbps)) {
      const ratio = ours.mbps / wt.mbps;
      lines.push(`  (issue 3) ours/WebTorrent >= 2x: ${ratio >= 2 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`);
    }
    if (base && Number.isFinite(base.mibps)) {
      lines.push(
        `ours vs baseline (${args.baseline}): ${(ours.mibps / base.mibps).toFixed(2)}x MiB/s, leecher CPU/GiB ${ours.leecherCpuPerGiB.toFixed(2)} s vs ${base.leecherCpuPerGiB.toFixed(2)} s, ` +
          `seeder ${ours.seederCpuPerGiB.toFixed(2)} s vs ${base.seederCpuPerGiB.toFixed(2)} s`,
      );
    }
    if (floor && Number.isFinite(floor.mibps)) {
      lines.push(`floor (the same reads, loopback TCP, SHA-1 and writes, no protocol): ${floor.mibps.toFixed(1)} MiB/s; ours reached ${((ours.mibps / floor.mibps) * 100).toFixed(0)}% of it`);
    }
  }
  process.stdout.write(lines.join('\n') + '\n');
}

await main();
