/**
 * `npm run bench:interop [-- --size 256M] [--runs 3] [--transmission] [--no-build]`
 *
 * One seeder to one leecher over loopback, for every direction between our
 * client and the real ones (aria2c, libtorrent through test/py/lt_peer.py,
 * and with --transmission, transmission-cli), with our pair and a libtorrent
 * pair as references. Runs are interleaved (run 1 of every pair, then run 2,
 * ...) and the medians printed: MB/s from the leecher's spawn to its
 * completion (start-up included, as a user sees it), and the leecher's CPU
 * seconds (user+sys, from /proc).
 *
 * Each seeder is a fresh process, ready (its check done) before the leecher
 * starts. Leechers dial the seeder directly, except aria2c, which cannot be
 * told a peer: it finds the seeder through a `peer tracker` on 127.0.0.9.
 * Transmission is slow on loopback (about 1 MB/s, and it unchokes only on
 * its 10 s round; libtorrent gets the same from it), so it runs only with
 * --transmission, at 32 MiB.
 *
 * The data lives in bench/.data/ (git-ignored); downloads are compared byte
 * for byte with the original and deleted.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import net from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { sameFile } from './lib/same-file.js';
import { parseBytes } from '../src/cli/parse.js';

const ROOT = resolve(new URL('..', import.meta.url).pathname);
const DATA = join(ROOT, 'bench', '.data');
const PEER = join(ROOT, 'dist', 'peer.js');
const MAKE_TORRENT = join(ROOT, 'dist', 'make-torrent.js');
const LT = join(ROOT, 'test', 'py', 'lt_peer.py');
const PYTHON = '/usr/bin/python3';
const TRACKER_HOST = '127.0.0.9';
const SEEDER_HOST = '127.0.0.2';
const LEECHER_HOST = '127.0.0.3';
const MB = 1e6;
const CLK_TCK = 100;
const TIMEOUT_MS = 10 * 60_000;

type Client = 'ours' | 'libtorrent' | 'aria2c' | 'transmission';

interface Pair {
  seeder: Client;
  leecher: Client;
}

interface Args {
  sizeBytes: number;
  sizeLabel: string;
  runs: number;
  transmission: boolean;
  build: boolean;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizeBytes: 256 * 1024 * 1024, sizeLabel: '256M', runs: 3, transmission: false, build: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    if (k === '--size') {
      a.sizeLabel = argv[++i] ?? '';
      a.sizeBytes = parseBytes(a.sizeLabel, '--size');
    } else if (k === '--runs') a.runs = Math.max(1, Number(argv[++i]));
    else if (k === '--transmission') a.transmission = true;
    else if (k === '--no-build') a.build = false;
    else throw new Error(`unknown option ${k} (see the comment at the top of bench/interop.ts)`);
  }
  return a;
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function hasLibtorrent(): boolean {
  return spawnSync(PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' }).status === 0;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen({ host, port: 0 }, () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolvePort(port));
    });
  });
}

interface Child {
  proc: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

const children = new Set<ChildProcess>();

function start(cmd: string, args: string[], cwd = ROOT): Child {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(proc);
  let out = '';
  const onData = (d: Buffer): void => {
    out += d.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => (children.delete(proc), r(code))));
  return { proc, out: () => out, exited };
}

async function stop(c: Child): Promise<void> {
  if (c.proc.exitCode !== null || c.proc.signalCode !== null) return;
  c.proc.kill('SIGTERM');
  const t = setTimeout(() => c.proc.kill('SIGKILL'), 5000);
  await c.exited;
  clearTimeout(t);
}

async function until(what: string, check: () => boolean, c: Child, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (c.proc.exitCode !== null) throw new Error(`${what}: the process exited (${c.proc.exitCode}):\n${c.out().slice(-2000)}`);
    if (Date.now() > end) throw new Error(`${what}: timed out after ${ms} ms:\n${c.out().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** user+sys CPU seconds of a live process, from /proc (sampled until it exits). */
function cpuSeconds(pid: number): number | undefined {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
  } catch {
    return undefined;
  }
}

async function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((r) => {
    const s = net.connect({ host, port }, () => (s.destroy(), r(true)));
    s.once('error', () => r(false));
  });
}

async function listening(what: string, c: Child, host: string, port: number): Promise<void> {
  const end = Date.now() + TIMEOUT_MS;
  while (!(await canConnect(host, port))) {
    if (c.proc.exitCode !== null || Date.now() > end) throw new Error(`${what} did not start:\n${c.out().slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

interface Fixture {
  file: string;
  dir: string;
  torrent: string;
  trackerPort: number;
}

async function seed(client: Client, fx: Fixture, work: string): Promise<{ child: Child; port: number }> {
  const port = await freePort(SEEDER_HOST);
  switch (client) {
    case 'ours': {
      const c = start(process.execPath, [PEER, 'seed', fx.torrent, '--data', fx.file, '--host', SEEDER_HOST, '--port', String(port), '--state', join(work, 'seed-state'), '--no-dht', '--log-level', 'error']);
      // Ready once it accepts connections: the listener opens after its check of the data.
      await listening('our seeder', c, SEEDER_HOST, port);
      return { child: c, port };
    }
    case 'libtorrent': {
      const c = start(PYTHON, [LT, '--torrent', fx.torrent, '--save', fx.dir, '--listen', `${SEEDER_HOST}:${port}`, '--timeout', String(TIMEOUT_MS / 1000)]);
      await until('libtorrent seeding', () => /"event": "complete"/.test(c.out()), c, TIMEOUT_MS);
      return { child: c, port };
    }
    case 'aria2c': {
      const c = start('aria2c', ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-ratio=0.0', '--check-integrity=true', `--interface=${SEEDER_HOST}`, `--listen-port=${port}`, '--summary-interval=1', '--console-log-level=warn', '-d', fx.dir, fx.torrent]);
      await until('aria2c seeding', () => /SEED\(/.test(c.out()), c, TIMEOUT_MS);
      return { child: c, port };
    }
    case 'transmission': {
      const cfg = join(work, 'tr-seed');
      await mkdir(cfg, { recursive: true });
      writeFileSync(join(cfg, 'settings.json'), JSON.stringify(transmissionSettings(port)));
      const c = start('transmission-cli', ['-g', cfg, '-w', fx.dir, '-p', String(port), '-et', '-M', '-B', '-D', '-U', '-v', fx.torrent]);
      await until('transmission seeding', () => /Seeding/.test(c.out()), c, TIMEOUT_MS);
      return { child: c, port };
    }
  }
}

function transmissionSettings(port: number): Record<string, unknown> {
  return { 'dht-enabled': false, 'lpd-enabled': false, 'pex-enabled': false, 'utp-enabled': false, 'port-forwarding-enabled': false, 'blocklist-enabled': false, encryption: 0, 'peer-port': port, 'ratio-limit-enabled': false };
}

/** Starts the leecher; resolves when it has every byte (its own completion signal). */
async function leech(client: Client, fx: Fixture, work: string, seederPort: number, seederHost: string): Promise<{ ms: number; cpu: number; out: string }> {
  const out = join(work, 'out');
  await mkdir(out, { recursive: true });
  const peer = `${seederHost}:${seederPort}`;
  const port = await freePort(LEECHER_HOST);
  const t0 = performance.now();
  let c: Child;
  switch (client) {
    case 'ours':
      c = start(process.execPath, [PEER, 'leech', fx.torrent, '--out', out, '--peer', peer, '--exit-on-complete', '--host', LEECHER_HOST, '--port', String(port), '--state', join(work, 'leech-state'), '--no-dht', '--log-level', 'error']);
      break;
    case 'libtorrent':
      c = start(PYTHON, [LT, '--torrent', fx.torrent, '--save', out, '--listen', `${LEECHER_HOST}:${port}`, '--peer', peer, '--exit-on-complete', '--timeout', String(TIMEOUT_MS / 1000)]);
      break;
    case 'aria2c':
      c = start('aria2c', ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-time=0', `--interface=${LEECHER_HOST}`, `--listen-port=${port}`, '--console-log-level=warn', '--summary-interval=0', '--bt-stop-timeout=120', '-d', out, fx.torrent]);
      break;
    case 'transmission': {
      const cfg = join(work, 'tr-leech');
      await mkdir(cfg, { recursive: true });
      writeFileSync(join(cfg, 'settings.json'), JSON.stringify(transmissionSettings(port)));
      c = start('transmission-cli', ['-g', cfg, '-w', out, '-p', String(port), '-et', '-M', '-B', '-D', '-U', fx.torrent]);
      break;
    }
  }
  // CPU sampled every 100 ms while it runs (/proc is gone once it exits).
  let cpu = 0;
  const sampler = setInterval(() => (cpu = cpuSeconds(c.proc.pid!) ?? cpu), 100);
  let ms: number;
  try {
    if (client === 'transmission') {
      // transmission-cli seeds on when done: "Seeding" is its completion.
      await until('the transmission leecher', () => /Seeding/.test(c.out()), c, TIMEOUT_MS);
      ms = performance.now() - t0;
      await stop(c);
    } else {
      const timer = setTimeout(() => c.proc.kill('SIGKILL'), TIMEOUT_MS);
      const code = await c.exited;
      clearTimeout(timer);
      ms = performance.now() - t0;
      if (code !== 0) throw new Error(`${client} leecher exited ${code}:\n${c.out().slice(-2000)}`);
    }
  } finally {
    clearInterval(sampler);
  }
  return { ms, cpu, out };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)]!;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (args.build) {
    const b = spawnSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('npm run build failed');
  }
  const available: Record<Client, boolean> = { ours: true, libtorrent: hasLibtorrent(), aria2c: has('aria2c'), transmission: args.transmission && has('transmission-cli') };
  for (const [c, ok] of Object.entries(available)) if (!ok && (c !== 'transmission' || args.transmission)) console.error(`(skipping ${c}: not installed)`);

  const pairs: Pair[] = [
    { seeder: 'ours', leecher: 'ours' },
    { seeder: 'libtorrent', leecher: 'libtorrent' },
    { seeder: 'ours', leecher: 'libtorrent' },
    { seeder: 'libtorrent', leecher: 'ours' },
    { seeder: 'ours', leecher: 'aria2c' },
    { seeder: 'aria2c', leecher: 'ours' },
    { seeder: 'ours', leecher: 'transmission' },
    { seeder: 'transmission', leecher: 'ours' },
  ].filter((p) => available[p.seeder as Client] && available[p.leecher as Client]) as Pair[];

  await mkdir(DATA, { recursive: true });
  const sizeFor = (p: Pair): number => (p.seeder === 'transmission' || p.leecher === 'transmission' ? Math.min(args.sizeBytes, 32 * 1024 * 1024) : args.sizeBytes);
  const fixtures = new Map<number, Fixture>();
  const trackerPort = await freePort(TRACKER_HOST);
  const tracker = start(process.execPath, [PEER, 'tracker', '--host', TRACKER_HOST, '--port', String(trackerPort)]);
  await listening('the tracker', tracker, TRACKER_HOST, trackerPort);
  const fixtureFor = async (size: number): Promise<Fixture> => {
    let fx = fixtures.get(size);
    if (fx) return fx;
    const dir = join(DATA, `interop-${size}`);
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'payload.bin');
    if (!existsSync(file) || statSync(file).size !== size) {
      const fd = openSync(file, 'w');
      const chunk = Buffer.alloc(8 * 1024 * 1024);
      for (let off = 0; off < size; off += chunk.length) writeSync(fd, randomFillSync(chunk), 0, Math.min(chunk.length, size - off));
      closeSync(fd);
    }
    const torrent = join(DATA, `interop-${size}.torrent`);
    const mk = spawnSync(process.execPath, [MAKE_TORRENT, file, '-o', torrent, '--force', '-a', `http://${TRACKER_HOST}:${trackerPort}/announce`, '--json'], { encoding: 'utf8' });
    if (mk.status !== 0) throw new Error(`make-torrent failed: ${mk.stderr}`);
    fx = { file, dir, torrent, trackerPort };
    fixtures.set(size, fx);
    return fx;
  };

  console.log(`interop benchmark: one seeder -> one leecher on loopback, ${args.sizeLabel} (${args.sizeBytes} bytes; Transmission pairs 32 MiB), ${args.runs} interleaved runs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  const results = new Map<string, { mbps: number[]; ms: number[]; cpu: number[]; size: number }>();
  try {
    for (let run = 1; run <= args.runs; run++) {
      for (const p of pairs) {
        const name = `${p.seeder} -> ${p.leecher}`;
        const size = sizeFor(p);
        const fx = await fixtureFor(size);
        const work = join(DATA, `interop-run-${process.pid}`);
        await rm(work, { recursive: true, force: true });
        await mkdir(work, { recursive: true });
        const s = await seed(p.seeder, fx, work);
        try {
          const r = await leech(p.leecher, fx, work, s.port, SEEDER_HOST);
          const equal = sameFile(fx.file, join(r.out, 'payload.bin'));
          if (!equal) throw new Error(`${name}: the download differs from the original`);
          const e = results.get(name) ?? { mbps: [], ms: [], cpu: [], size };
          e.ms.push(r.ms);
          e.mbps.push(size / MB / (r.ms / 1000));
          e.cpu.push(r.cpu);
          results.set(name, e);
          console.error(`run ${run}: ${name.padEnd(26)} ${(size / MB / (r.ms / 1000)).toFixed(1).padStart(7)} MB/s  ${(r.ms / 1000).toFixed(2)} s  leecher CPU ${r.cpu.toFixed(2)} s  data equal`);
        } finally {
          await stop(s.child);
          await rm(work, { recursive: true, force: true });
        }
      }
    }
  } finally {
    await stop(tracker);
    for (const c of children) c.kill('SIGKILL');
  }
  console.log(`${'seeder -> leecher'.padEnd(28)}${'size'.padStart(8)}${'median MB/s'.padStart(13)}${'median time'.padStart(13)}${'leecher CPU'.padStart(13)}   runs (MB/s)`);
  for (const [name, e] of results) {
    console.log(
      `${name.padEnd(28)}${`${Math.round(e.size / (1024 * 1024))}M`.padStart(8)}${median(e.mbps).toFixed(1).padStart(13)}${`${(median(e.ms) / 1000).toFixed(2)} s`.padStart(13)}${`${median(e.cpu).toFixed(2)} s`.padStart(13)}   ${e.mbps.map((x) => x.toFixed(1)).join(', ')}`,
    );
  }
  console.log('MB/s from the leecher\'s spawn to its completion (start-up included); every download compared byte for byte with the original');
}

main().catch((err) => {
  for (const c of children) c.kill('SIGKILL');
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
