/**
 * `npm run bench:session`: one daemon seeding 500 small torrents, 100 peers
 * connected to it. Prints the daemon's RSS, its CPU use idle and under load,
 * and the time to start (500 torrents found in the watch folder, verified
 * from their data, seeded) and to resume them all after a restart (resume
 * state trusted, nothing hashed).
 *
 * The daemon runs as a child process (bench/lib/session-daemon.ts) so its
 * figures are its own; the 100 peers are raw peer-wire connections held by
 * this process, on 127.0.0.10-13, each downloading one torrent over and over.
 *
 * Environment: TORRENTS (500), PEERS (100), PHASE_S (10, seconds per measured phase).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import type { Metainfo } from '../src/metainfo/types.js';
import { encodeHandshake, HandshakeReader } from '../src/wire/handshake.js';
import { decodeMessage, encodeMessage } from '../src/wire/messages.js';
import { FrameDecoder, maxFrameBytesFor } from '../src/wire/framer.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TORRENTS = Number(process.env.TORRENTS ?? 500);
const PEERS = Number(process.env.PEERS ?? 100);
const PHASE_S = Number(process.env.PHASE_S ?? 10);
const PIECE = 16 * 1024;
const BLOCK = 16 * 1024;

const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// --- the daemon child ----------------------------------------------------------

interface DaemonChild {
  proc: ChildProcess;
  events: Record<string, unknown>[];
  next(event: string, ms: number): Promise<Record<string, unknown>>;
  exit: Promise<number | null>;
}

function startDaemon(root: string, port: number): DaemonChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'bench/lib/session-daemon.ts', root, String(port), String(TORRENTS)], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const events: Record<string, unknown>[] = [];
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      events.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  const exit = new Promise<number | null>((r) => proc.on('exit', (c) => r(c)));
  const next = async (event: string, ms: number): Promise<Record<string, unknown>> => {
    const until = Date.now() + ms;
    for (;;) {
      const e = events.find((x) => x.event === event);
      if (e) return e;
      if (Date.now() > until || proc.exitCode !== null) throw new Error(`daemon: no ${event} event within ${ms} ms`);
      await sleep(10);
    }
  };
  return { proc, events, next, exit };
}

/** utime + stime of a process in seconds (Linux /proc). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // fields 14 and 15, in clock ticks (100/s)
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024;
}

async function measure(pid: number, seconds: number): Promise<{ cpuPercent: number; rss: number }> {
  const c0 = await cpuSeconds(pid);
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const c1 = await cpuSeconds(pid);
  const wall = (performance.now() - t0) / 1000;
  return { cpuPercent: ((c1 - c0) / wall) * 100, rss: await rssBytes(pid) };
}

// --- the peers -------------------------------------------------------------------

interface LoadPeer {
  received: number;
  unchoked: boolean;
  handshaken: boolean;
  closed: boolean;
  socket: net.Socket;
}

/**
 * A raw leecher: handshake, interested, then request every block of the
 * torrent, and again from the start once all came (it never says `have`,
 * so the daemon keeps serving it).
 */
function loadPeer(port: number, localAddress: string, meta: Metainfo): LoadPeer {
  const info = meta.info;
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  const peer: LoadPeer = { received: 0, unchoked: false, handshaken: false, closed: false, socket };
  const reader = new HandshakeReader();
  const decoder = new FrameDecoder({ maxFrameBytes: maxFrameBytesFor(info.pieceLength, info.pieceCount) });
  const blocks: { index: number; begin: number; length: number }[] = [];
  for (let p = 0; p < info.pieceCount; p++) {
    const size = Math.min(info.pieceLength, info.length - p * info.pieceLength);
    for (let b = 0; b < size; b += BLOCK) blocks.push({ index: p, begin: b, length: Math.min(BLOCK, size - b) });
  }
  let outstanding = 0;
  const requestAll = (): void => {
    for (const b of blocks) socket.write(encodeMessage({ type: 'request', ...b }));
    outstanding = blocks.length;
  };
  socket.on('connect', () => {
    const id = Buffer.from(`-BN0001-${randomBytes(6).toString('hex')}`, 'latin1');
    socket.write(encodeHandshake({ infoHash: meta.infoHash, peerId: new Uint8Array(id) }));
    socket.write(encodeMessage({ type: 'interested' }));
  });
  socket.on('data', (chunk: Buffer) => {
    let rest: Uint8Array = chunk;
    if (!peer.handshaken) {
      const r = reader.push(chunk);
      if (!r) return;
      peer.handshaken = true;
      rest = r;
    }
    for (const f of decoder.push(Uint8Array.from(rest))) {
      const m = decodeMessage(f);
      if (m.type === 'unchoke') {
        peer.unchoked = true;
        requestAll();
      } else if (m.type === 'choke') {
        peer.unchoked = false;
      } else if (m.type === 'piece') {
        peer.received += m.block.length;
        if (--outstanding === 0 && peer.unchoked) requestAll();
      }
    }
  });
  socket.on('error', () => undefined);
  socket.on('close', () => (peer.closed = true));
  return peer;
}

// --- the run -----------------------------------------------------------------------

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

async function main(): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bench-session-'));
  const children: DaemonChild[] = [];
  const peers: LoadPeer[] = [];
  try {
    await mkdir(path.join(root, 'torrents'));
    await mkdir(path.join(root, 'downloads'));
    const metas: Metainfo[] = [];
    let totalBytes = 0;
    for (let i = 0; i < TORRENTS; i++) {
      const length = 64 * 1024 + ((i * 7919) % 32768);
      const data = randomBytes(length);
      const hashes: Buffer[] = [];
      for (let off = 0; off < length; off += PIECE) hashes.push(createHash('sha1').update(data.subarray(off, off + PIECE)).digest());
      const name = `item-${String(i).padStart(4, '0')}.bin`;
      const bytes = buildTorrent({ name, files: length, pieceLength: PIECE, pieces: Buffer.concat(hashes) });
      await writeFile(path.join(root, 'downloads', name), data);
      await writeFile(path.join(root, 'torrents', `${name}.torrent`), bytes);
      metas.push(parseTorrent(bytes));
      totalBytes += length;
    }
    console.log(`bench:session — ${TORRENTS} torrents (${mib(totalBytes)}, 16 KiB pieces), ${PEERS} peers, ${PHASE_S} s per phase, ${os.cpus().length} cores`);
    const port = await freePort();

    // 1. First start: every torrent comes in through the watch folder and is verified from its data.
    let t0 = performance.now();
    const first = startDaemon(root, port);
    children.push(first);
    const ready1 = await first.next('ready', 300_000);
    const startWall = performance.now() - t0;
    const pid = first.proc.pid!;
    const rssStart = await rssBytes(pid);

    // 2. Idle.
    const idle = await measure(pid, PHASE_S);

    // 3. Load: PEERS connections, each on its own torrent, downloading over and over.
    for (let i = 0; i < PEERS; i++) peers.push(loadPeer(port, `127.0.0.${10 + (i % 4)}`, metas[i % metas.length]!));
    const until = Date.now() + 30_000;
    while (peers.filter((p) => p.unchoked).length < PEERS && Date.now() < until) await sleep(50);
    const connected = peers.filter((p) => p.handshaken && !p.closed).length;
    const unchoked = peers.filter((p) => p.unchoked).length;
    const r0 = peers.reduce((a, p) => a + p.received, 0);
    const tl = performance.now();
    const load = await measure(pid, PHASE_S);
    const served = peers.reduce((a, p) => a + p.received, 0) - r0;
    const loadWall = (performance.now() - tl) / 1000;
    const stillConnected = peers.filter((p) => !p.closed).length;
    for (const p of peers) p.socket.destroy();

    // 4. Orderly stop.
    first.proc.kill('SIGTERM');
    const stopped = await first.next('stopped', 60_000);
    const exit1 = await first.exit;

    // 5. Restart: every torrent resumed from the saved state, resume files trusted.
    t0 = performance.now();
    const second = startDaemon(root, port);
    children.push(second);
    const ready2 = await second.next('ready', 300_000);
    const resumeWall = performance.now() - t0;
    const rssResumed = await rssBytes(second.proc.pid!);
    const idle2 = await measure(second.proc.pid!, Math.min(5, PHASE_S));
    second.proc.kill('SIGTERM');
    await second.next('stopped', 60_000);
    const exit2 = await second.exit;

    const rows: [string, string][] = [
      [`start: ${TORRENTS} torrents from the watch folder, verified, seeding`, `${ready1.ms} ms in the daemon (${Math.round(startWall)} ms wall, node start-up included)`],
      ['RSS after start', mib(rssStart)],
      [`idle (${PHASE_S} s)`, `CPU ${idle.cpuPercent.toFixed(1)}% of one core, RSS ${mib(idle.rss)}`],
      [`load: ${PEERS} peers`, `${connected} connected, ${unchoked} unchoked, ${stillConnected} still connected at the end`],
      [`under load (${PHASE_S} s)`, `CPU ${load.cpuPercent.toFixed(1)}% of one core, RSS ${mib(load.rss)}, served ${mib(served)} (${mib(served / loadWall)}/s)`],
      ['stop (SIGTERM)', `${stopped.ms} ms, exit code ${exit1}`],
      ['resume after restart: all torrents trusted, seeding', `${ready2.ms} ms in the daemon (${Math.round(resumeWall)} ms wall)`],
      ['RSS after resume', mib(rssResumed)],
      ['idle after resume (5 s)', `CPU ${idle2.cpuPercent.toFixed(1)}%, RSS ${mib(idle2.rss)}; second stop exit code ${exit2}`],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
  } finally {
    for (const p of peers) p.socket.destroy();
    for (const c of children) if (c.proc.exitCode === null) c.proc.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:session failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
