/**
 * bench:lan (issue 14, item 7): a hundred machines. Brings up N hosts on
 * the namespace LAN of scripts/lan.sh, each shaped to RATE both ways, runs
 * `peer start` on each (dist/peer.js, nothing configured but its own
 * folders under bench/.data/), drops a torrent of SIZE into host 1's watch
 * folder and its magnet link into every other host's, and reports:
 * - the time until every other host has it, against the floor SIZE / RATE
 *   (what one host's download link needs);
 * - each daemon's peak RSS (VmHWM, polled);
 * - a KV value put on host 1 read on ten others (`peer kv`, no --bootstrap:
 *   the LAN's DHT is found over LSD);
 * - that every daemon stopped cleanly on SIGTERM (exit 0).
 * Peers find each other by local service discovery (BEP 14) and the DHT:
 * no tracker, no --peer.
 *
 *   npm run bench:lan -- [--hosts 100] [--size 16M] [--rate 20mbit] [--timeout S] [--no-api] [--keep]
 *
 * --keep keeps bench/.data/lan-PREFIX/ (each host's stderr.log) even when
 * every target is met. LAN_PEER=path/to/peer.js runs another build of the
 * daemon (e.g. one bundled apart while dist/ is rebuilt by others).
 *
 * Needs root (network namespaces) and `npm run build` first. The LAN is
 * always taken down at the end, also on failure or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync, createWriteStream } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAN_SH = path.join(ROOT, 'scripts', 'lan.sh');
const PEER = path.resolve(process.env.LAN_PEER ?? path.join(ROOT, 'dist', 'peer.js'));
const MAKE_TORRENT = path.join(ROOT, 'dist', 'make-torrent.js');
const MiB = 1024 * 1024;
const RSS_TARGET = 100 * MiB;
/** Extra node flags for every daemon, for a look inside (e.g. LAN_NODE_FLAGS=--trace-gc: each host's stderr.log shows its heap over time). */
/** LAN_KV_LOG=debug: the kv put and gets run with --log-level debug, their stderr kept as kv-*.log in the data folder (use with --keep). */
const KV_LOG = process.env.LAN_KV_LOG ? ['--log-level', process.env.LAN_KV_LOG] : [];
const NODE_FLAGS = (process.env.LAN_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
/** An A/B comparison under the same load: even-numbered hosts get these flags too (LAN_NODE_FLAGS_B='--optimize-for-size'); the report compares the two halves. */
const NODE_FLAGS_B = (process.env.LAN_NODE_FLAGS_B ?? '').split(/\s+/).filter(Boolean);

interface Args {
  hosts: number;
  sizeBytes: number;
  rate: string;
  timeoutS: number | undefined;
  api: boolean;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { hosts: 100, sizeBytes: 16 * MiB, rate: '20mbit', timeoutS: undefined, api: true, keep: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--hosts') out.hosts = Number(v());
    else if (a === '--size') out.sizeBytes = parseSize(v());
    else if (a === '--rate') out.rate = v();
    else if (a === '--timeout') out.timeoutS = Number(v());
    else if (a === '--no-api') out.api = false;
    else if (a === '--keep') out.keep = true;
    else throw new Error(`unknown option ${a} (--hosts N, --size 16M, --rate 20mbit, --timeout S, --no-api, --keep)`);
  }
  if (!Number.isInteger(out.hosts) || out.hosts < 2 || out.hosts > 250) throw new Error('--hosts: 2..250');
  rateBitsPerSec(out.rate);
  return out;
}

function parseSize(s: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (!m) throw new Error(`--size ${s}: expected e.g. 16M`);
  return Number(m[1]) * ({ '': 1, K: 1024, M: MiB, G: 1024 * MiB }[m[2]!.toUpperCase() as ''] ?? 1);
}

function rateBitsPerSec(rate: string): number {
  const m = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/i.exec(rate);
  if (!m) throw new Error(`--rate ${rate}: expected e.g. 20mbit`);
  return Number(m[1]) * { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[m[2]!.toLowerCase() as 'bit']!;
}

const log = (msg: string): void => void process.stderr.write(`[lan] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the LAN -------------------------------------------------------------------

interface Host {
  i: number;
  ns: string;
  addr: string;
}

class Lan {
  // 1-9 characters, not ending in a digit; unique per run.
  readonly prefix = `bl${randomBytes(2).toString('hex')}x`;
  hosts: Host[] = [];
  #up = false;

  sh(args: string[], timeoutMs = 300_000): string {
    const r = spawnSync('bash', [LAN_SH, ...args, '--prefix', this.prefix], { encoding: 'utf8', timeout: timeoutMs });
    if (r.status !== 0) throw new Error(`lan.sh ${args.join(' ')} --prefix ${this.prefix}: ${r.stderr || r.error || `exit ${r.status}`}`);
    return r.stdout;
  }

  up(n: number, rate: string): void {
    this.#up = true; // even a failed up may have left something: down cleans by name
    this.sh(['up', String(n), rate]);
    this.hosts = this.sh(['list'])
      .trim()
      .split('\n')
      .map((l) => {
        const [i, ns, addr] = l.split(' ');
        return { i: Number(i), ns: ns!, addr: addr! };
      });
    if (this.hosts.length !== n) throw new Error(`lan.sh list shows ${this.hosts.length} hosts, not ${n}`);
  }

  down(): void {
    if (!this.#up) return;
    this.#up = false;
    try {
      this.sh(['down']);
      log(`lan.sh down --prefix ${this.prefix}: done`);
    } catch (err) {
      log(`lan.sh down failed: ${(err as Error).message}`);
    }
  }
}

// --- daemons -----------------------------------------------------------------------

interface Daemon {
  host: Host;
  dirs: { root: string; torrents: string; downloads: string; state: string };
  proc: ChildProcess;
  started: boolean;
  reportedDead?: boolean;
  completeAt?: number;
  peakRss: number;
  /** Peak RssAnon (the heap, buffers: what the process allocated, without code and file pages). */
  peakAnon: number;
  /** When the peak RSS was first seen, ms since the bench started the daemons. */
  peakAt: number;
  /** Where the memory was when the peak RSS was seen (largest mappings). */
  peakMappings: string;
  /** /proc/PID/smaps then (written to the host's folder for the highest peaks). */
  peakSmaps: string;
  exit?: number | string;
  exited: Promise<number | string>;
  stderrTail: string;
}

function procStatus(pid: number | undefined, field: 'VmHWM' | 'RssAnon'): number | undefined {
  if (!pid) return undefined;
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

const vmHwm = (pid: number | undefined): number | undefined => procStatus(pid, 'VmHWM');

/** The three largest mappings by resident size, from /proc/PID/smaps. */
function rssByMapping(pid: number | undefined, smaps?: string): string {
  if (!pid) return '?';
  try {
    const byName = new Map<string, number>();
    let name = '';
    for (const line of (smaps ?? readFileSync(`/proc/${pid}/smaps`, 'utf8')).split('\n')) {
      const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+(?:\s+(.*))?$/.exec(line);
      if (m) name = path.basename(m[1] ?? '') || '[anon]';
      else if (line.startsWith('Rss:')) byName.set(name, (byName.get(name) ?? 0) + Number(line.split(/\s+/)[1]) * 1024);
    }
    return [...byName].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([n, b]) => `${n} ${fmtMiB(b)}`).join(', ');
  } catch {
    return '?';
  }
}

function startDaemon(host: Host, dataDir: string, api: boolean, infoHash: () => string | undefined): Daemon {
  const root = path.join(dataDir, `host${host.i}`);
  const dirs = { root, torrents: path.join(root, 'torrents'), downloads: path.join(root, 'downloads'), state: path.join(root, 'state') };
  for (const d of [dirs.torrents, dirs.downloads, dirs.state]) mkdirSync(d, { recursive: true });
  // Nothing configured but its own folders (and JSON events to read completion from); the API on its
  // default port 8080, each host having its own loopback.
  // --trace-exit: a daemon that ends by process.exit says from where in its stderr.log.
  const args = ['netns', 'exec', host.ns, process.execPath, '--trace-exit', ...NODE_FLAGS, ...(host.i % 2 === 0 ? NODE_FLAGS_B : []), PEER, 'start', '--torrents', dirs.torrents, '--downloads', dirs.downloads, '--state', dirs.state, '--json', ...(api ? [] : ['--no-api'])];
  const proc = spawn('ip', args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  const d: Daemon = {
    host,
    dirs,
    proc,
    started: false,
    peakRss: 0,
    peakAnon: 0,
    peakAt: 0,
    peakMappings: '?',
    peakSmaps: '',
    stderrTail: '',
    exited: new Promise((resolve) => proc.on('close', (code, sig) => resolve(code ?? sig ?? 'unknown'))),
  };
  void d.exited.then((x) => (d.exit = x));
  const errLog = createWriteStream(path.join(root, 'stderr.log'));
  proc.stderr!.on('data', (c: Buffer) => {
    errLog.write(c);
    d.stderrTail = (d.stderrTail + c.toString()).slice(-2000);
  });
  proc.on('close', () => errLog.end());
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let e: { event?: string; infoHash?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      // Not an event: what LAN_NODE_FLAGS made node print (--trace-gc writes to stdout).
      errLog.write(line + '\n');
      return;
    }
    if (e.event === 'started') d.started = true;
    if (e.event === 'complete' && e.infoHash === infoHash() && d.completeAt === undefined) d.completeAt = performance.now();
  });
  return d;
}

/** Runs `peer ARGS` inside a host and returns its stdout (throws on a non-zero exit). */
function peerIn(host: Host, args: string[], timeoutMs = 60_000): { ok: boolean; stdout: string; stderr: string; ms: number } {
  const t0 = performance.now();
  const r = spawnSync('ip', ['netns', 'exec', host.ns, process.execPath, PEER, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: performance.now() - t0 };
}

// --- the run -------------------------------------------------------------------

const fmtS = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const fmtMiB = (b: number): string => `${(b / MiB).toFixed(1)} MiB`;
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    log('needs root (network namespaces): run as root');
    return 2;
  }
  for (const f of [PEER, MAKE_TORRENT]) {
    try {
      readFileSync(f);
    } catch {
      log(`${f} is missing: npm run build first`);
      return 2;
    }
  }
  const check = spawnSync('bash', [LAN_SH, 'check'], { encoding: 'utf8' });
  if (check.status !== 0) {
    log(`no LAN here: ${check.stderr.trim()}`);
    return 2;
  }
  const lan = new Lan();
  const dataDir = path.join(ROOT, 'bench', '.data', `lan-${lan.prefix}`);
  const daemons: Daemon[] = [];
  let rssTimer: NodeJS.Timeout | undefined;
  let interrupted = false;
  const killAll = (): void => {
    for (const d of daemons) if (d.exit === undefined) d.proc.kill('SIGKILL');
  };
  const onSignal = (): void => {
    if (interrupted) return;
    interrupted = true;
    log('interrupted: stopping the daemons and taking the LAN down');
    killAll();
    lan.down();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const floorMs = (args.sizeBytes * 8 * 1000) / rateBitsPerSec(args.rate);
  const timeoutMs = (args.timeoutS ?? Math.max(300, Math.ceil((floorMs / 1000) * 20))) * 1000;
  const results: { label: string; value: string }[] = [];
  const targets: { what: string; met: boolean; detail: string }[] = [];
  let infoHash: string | undefined;
  let dropAt = 0;
  try {
    log(`lan.sh up ${args.hosts} ${args.rate} --prefix ${lan.prefix}`);
    let t0 = performance.now();
    lan.up(args.hosts, args.rate);
    results.push({ label: 'LAN up', value: fmtS(performance.now() - t0) });

    // The content and its torrent (no tracker), made before any daemon starts.
    const contentDir = path.join(dataDir, 'content');
    mkdirSync(contentDir, { recursive: true });
    const name = `bench-${Math.round(args.sizeBytes / MiB)}M.bin`;
    const content = path.join(contentDir, name);
    writeFileSync(content, randomBytes(args.sizeBytes));
    const mk = spawnSync(process.execPath, [MAKE_TORRENT, content, '-o', path.join(contentDir, `${name}.torrent`), '--json'], { encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`make-torrent: ${mk.stderr}`);
    const made = JSON.parse(mk.stdout) as { infoHash: string; magnet: string; pieces: number; pieceLength: number };
    infoHash = made.infoHash;
    log(`torrent ${made.infoHash}: ${fmtMiB(args.sizeBytes)}, ${made.pieces} pieces of ${made.pieceLength / 1024} KiB`);

    // Every daemon, a few at a time (100 node processes starting at once on two cores take a while).
    t0 = performance.now();
    for (const h of lan.hosts) {
      daemons.push(startDaemon(h, dataDir, args.api, () => infoHash));
      if (daemons.length % 10 === 0) await sleep(200);
    }
    rssTimer = setInterval(() => {
      for (const d of daemons) {
        const hwm = vmHwm(d.proc.pid) ?? 0;
        if (hwm > d.peakRss) {
          // The breakdown only past 80 MiB: reading smaps of a hundred processes every second costs CPU the run needs.
          if (hwm > 80 * MiB) {
            try {
              d.peakSmaps = readFileSync(`/proc/${d.proc.pid}/smaps`, 'utf8');
              d.peakMappings = rssByMapping(d.proc.pid, d.peakSmaps);
            } catch {
              /* it exited */
            }
          }
          d.peakRss = hwm;
          d.peakAt = performance.now() - t0;
        }
        d.peakAnon = Math.max(d.peakAnon, procStatus(d.proc.pid, 'RssAnon') ?? 0);
      }
    }, 1000);
    const startDeadline = performance.now() + 180_000;
    // A daemon that dies is reported (and misses its targets), the others carry on.
    while (daemons.some((d) => !d.started && d.exit === undefined)) {
      if (performance.now() > startDeadline) throw new Error(`${daemons.filter((d) => !d.started).length} daemons did not start within 180 s`);
      await sleep(200);
    }
    const died = daemons.filter((d) => !d.started);
    for (const d of died) log(`the daemon of host ${d.host.i} exited (${String(d.exit)}) while starting: ${d.stderrTail.slice(-300) || '(nothing on stderr)'}`);
    results.push({ label: `daemons started`, value: `${daemons.length - died.length}/${daemons.length} in ${fmtS(performance.now() - t0)}` });
    if (!daemons[0]!.started) throw new Error('the daemon of host 1 (the seeder) did not start');
    // A moment for LSD: every daemon announces its DHT node on start.
    await sleep(3000);

    // The torrent and its data on host 1, the magnet on every other host, at once.
    const seed = daemons[0]!;
    writeFileSync(path.join(seed.dirs.downloads, name), readFileSync(content));
    dropAt = performance.now();
    writeFileSync(path.join(seed.dirs.torrents, `${name}.torrent`), readFileSync(path.join(contentDir, `${name}.torrent`)));
    for (const d of daemons.slice(1)) writeFileSync(path.join(d.dirs.torrents, `${name}.magnet`), made.magnet + '\n');
    log(`dropped: the torrent on host 1, its magnet on ${args.hosts - 1} hosts; waiting (at most ${fmtS(timeoutMs)}, floor ${fmtS(floorMs)})`);
    const leechers = daemons.slice(1);
    let lastReport = 0;
    for (;;) {
      const done = leechers.filter((d) => d.completeAt !== undefined).length;
      if (done === leechers.length) break;
      const now = performance.now();
      if (now - dropAt > timeoutMs) break;
      if (now - lastReport > 10_000) {
        lastReport = now;
        log(`${fmtS(now - dropAt)}: ${done}/${leechers.length} complete`);
      }
      for (const d of daemons) {
        if (d.started && d.exit !== undefined && !d.reportedDead) {
          d.reportedDead = true;
          log(`the daemon of host ${d.host.i} exited (${String(d.exit)}) during the run: ${d.stderrTail.slice(-300)}`);
        }
      }
      if (leechers.every((d) => d.completeAt !== undefined || d.exit !== undefined)) break;
      await sleep(100);
    }
    const times = leechers.filter((d) => d.completeAt !== undefined).map((d) => d.completeAt! - dropAt);
    const allDone = times.length === leechers.length;
    results.push({ label: 'hosts complete', value: `${times.length}/${leechers.length}` });
    if (times.length) {
      results.push({ label: 'first / median / p90 / last', value: [pct(times, 0), pct(times, 50), pct(times, 90), Math.max(...times)].map(fmtS).join(' / ') });
      results.push({ label: `floor (size / rate: ${fmtMiB(args.sizeBytes)} at ${args.rate})`, value: fmtS(floorMs) });
      if (allDone) results.push({ label: 'all complete / floor', value: `${(Math.max(...times) / floorMs).toFixed(2)} x` });
    }
    targets.push({ what: `all ${leechers.length} hosts complete`, met: allDone, detail: `${times.length}/${leechers.length}${allDone ? ` in ${fmtS(Math.max(...times))}` : ` within ${fmtS(timeoutMs)}`}` });
    // Byte-equal: checked on a sample (every file is hashed piece by piece by its daemon already).
    const want = readFileSync(content);
    const sample = leechers.filter((d) => d.completeAt !== undefined).filter((_, k) => k % 10 === 0);
    const equal = sample.filter((d) => {
      try {
        return readFileSync(path.join(d.dirs.downloads, name)).equals(want);
      } catch {
        return false;
      }
    }).length;
    results.push({ label: 'byte-equal (every 10th host)', value: `${equal}/${sample.length}` });

    // The peaks of the transfer alone, before the KV runs (which block this loop, and the RSS polling, while they run).
    const beforeKv = daemons.map((d) => Math.max(d.peakRss, vmHwm(d.proc.pid) ?? 0));
    results.push({ label: 'peak RSS by the end of the transfer (median / max)', value: `${fmtMiB(pct(beforeKv, 50))} / ${fmtMiB(Math.max(...beforeKv))}` });
    // KV: put on host 1, read on ten others (no --bootstrap: the LAN's DHT over LSD, or the host's daemon).
    const key = `bench-${lan.prefix}`;
    const value = `hello from host 1 at ${new Date().toISOString()}`;
    const put = peerIn(lan.hosts[0]!, ['kv', 'put', key, value, '--namespace', 'bench-lan', '--state', path.join(dataDir, 'kv-put'), '--json', ...KV_LOG]);
    if (KV_LOG.length) writeFileSync(path.join(dataDir, 'kv-put.log'), put.stderr);
    let stored = 0;
    try {
      stored = (JSON.parse(put.stdout) as { stored: number }).stored;
    } catch {
      /* reported below */
    }
    results.push({ label: 'kv put on host 1', value: put.ok ? `stored on ${stored} nodes (${fmtS(put.ms)})` : `FAILED: ${put.stderr.trim().slice(-200)}` });
    const readers = lan.hosts.slice(1).filter((_, k) => k % Math.max(1, Math.floor((args.hosts - 1) / 10)) === 0).slice(0, 10);
    let reads = 0;
    const readMs: number[] = [];
    for (const h of readers) {
      const get = peerIn(h, ['kv', 'get', key, '--namespace', 'bench-lan', '--state', path.join(dataDir, `kv-get-${h.i}`), '--json', ...KV_LOG]);
      if (KV_LOG.length) writeFileSync(path.join(dataDir, `kv-get-${h.i}.log`), get.stderr);
      let got: string | undefined;
      try {
        got = (JSON.parse(get.stdout) as { value: string }).value;
      } catch {
        got = undefined;
      }
      if (get.ok && got === value) reads++;
      else log(`kv get on host ${h.i}: ${get.ok ? `read ${JSON.stringify(got)}` : get.stderr.trim().slice(-200)}`);
      readMs.push(get.ms);
    }
    results.push({ label: `kv get on ${readers.length} other hosts`, value: `${reads}/${readers.length} read the value (median ${fmtS(pct(readMs, 50))})` });
    targets.push({ what: `a KV value put on host 1 is read on ${readers.length} others`, met: put.ok && reads === readers.length, detail: `${reads}/${readers.length}` });
  } catch (err) {
    log(`run failed: ${(err as Error).message}`);
    targets.push({ what: 'the run', met: false, detail: (err as Error).message.slice(0, 200) });
  } finally {
    // RSS, then stop every daemon with SIGTERM and check exit codes.
    for (const d of daemons) d.peakRss = Math.max(d.peakRss, vmHwm(d.proc.pid) ?? 0);
    clearInterval(rssTimer);
    if (daemons.length) {
      const rss = daemons.map((d) => d.peakRss).filter((x) => x > 0);
      results.push({ label: 'peak RSS per daemon (min / median / p90 / max)', value: [pct(rss, 0), pct(rss, 50), pct(rss, 90), Math.max(...rss)].map(fmtMiB).join(' / ') });
      const anon = daemons.map((d) => d.peakAnon).filter((x) => x > 0);
      if (anon.length) results.push({ label: 'peak anon RSS (min / median / p90 / max)', value: [pct(anon, 0), pct(anon, 50), pct(anon, 90), Math.max(...anon)].map(fmtMiB).join(' / ') });
      if (NODE_FLAGS_B.length) {
        for (const [label, half] of [
          [`with LAN_NODE_FLAGS_B (${NODE_FLAGS_B.join(' ')}), even hosts`, daemons.filter((d) => d.host.i % 2 === 0)],
          ['without, odd hosts but 1', daemons.filter((d) => d.host.i % 2 === 1 && d.host.i !== 1)],
        ] as const) {
          const r = half.map((d) => d.peakRss).filter((x) => x > 0);
          const a = half.map((d) => d.peakAnon).filter((x) => x > 0);
          const done = half.filter((d) => d.completeAt !== undefined).map((d) => d.completeAt! - dropAt);
          results.push({
            label: `  peak RSS / anon ${label} (median / max)`,
            value: `${fmtMiB(pct(r, 50))} / ${fmtMiB(Math.max(...r))}; anon ${fmtMiB(pct(a, 50))} / ${fmtMiB(Math.max(...a))}; complete median ${done.length ? fmtS(pct(done, 50)) : '-'}`,
          });
        }
      }
      const top = [...daemons].sort((a, b) => b.peakRss - a.peakRss).slice(0, 5);
      results.push({ label: 'highest peaks (host: RSS / anon, at s from start)', value: top.map((d) => `${d.host.i}: ${fmtMiB(d.peakRss)} / ${fmtMiB(d.peakAnon)} at ${(d.peakAt / 1000).toFixed(0)}`).join(', ') });
      // Where the memory of the highest is now (malloc's [heap], V8 and big buffers in [anon], the node binary).
      for (const d of top) if (d.peakSmaps) writeFileSync(path.join(d.dirs.root, 'smaps-at-peak.txt'), d.peakSmaps);
      for (const d of top.slice(0, 3)) {
        results.push({ label: `  host ${d.host.i} at its peak (RSS by mapping)`, value: d.peakMappings });
        results.push({ label: `  host ${d.host.i} now (RSS by mapping)`, value: rssByMapping(d.proc.pid) });
      }
      const over = daemons.filter((d) => d.peakRss > RSS_TARGET);
      targets.push({ what: 'RSS <= 100 MiB per daemon', met: rss.length === daemons.length && over.length === 0, detail: `max ${fmtMiB(Math.max(...rss))}${over.length ? `, ${over.length} over (hosts ${over.slice(0, 5).map((d) => d.host.i).join(', ')})` : ''}` });
      const t0 = performance.now();
      for (const d of daemons) if (d.exit === undefined) d.proc.kill('SIGTERM');
      const codes = await Promise.race([Promise.all(daemons.map((d) => d.exited)), sleep(90_000).then(() => undefined)]);
      if (!codes) killAll();
      const clean = daemons.filter((d) => d.exit === 0).length;
      results.push({ label: 'stopped on SIGTERM', value: `${clean}/${daemons.length} exit 0 in ${fmtS(performance.now() - t0)}` });
      const bad = daemons.filter((d) => d.exit !== 0);
      if (bad.length) log(`not clean: ${bad.slice(0, 10).map((d) => `host ${d.host.i}: ${String(d.exit)}`).join(', ')}`);
      targets.push({ what: 'every daemon stopped cleanly (SIGTERM -> exit 0)', met: clean === daemons.length, detail: `${clean}/${daemons.length}` });
    }
    lan.down();
    if (targets.every((x) => x.met) && !args.keep) rmSync(dataDir, { recursive: true, force: true });
    else log(`kept ${dataDir} (each host's stderr.log) for a look`);
  }

  const w = Math.max(...results.map((r) => r.label.length));
  process.stdout.write(`\nbench:lan — ${args.hosts} hosts at ${args.rate}, ${fmtMiB(args.sizeBytes)}, LSD + DHT (no tracker, no --peer), API ${args.api ? 'on' : 'off'}\n\n`);
  for (const r of results) process.stdout.write(`  ${r.label.padEnd(w)}  ${r.value}\n`);
  process.stdout.write('\n');
  for (const x of targets) process.stdout.write(`  target: ${x.what}: ${x.met ? 'MET' : 'MISSED'} (${x.detail})\n`);
  return targets.every((x) => x.met) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`error: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
