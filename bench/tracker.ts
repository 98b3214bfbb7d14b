/**
 * `npm run bench:tracker`: a bounded load generator against our tracker on
 * loopback. 10,000 distinct peers over 100 torrents announce twice over HTTP
 * (keep-alive agent, fixed concurrency) and twice over UDP (BEP 15, a fixed
 * window of outstanding requests per socket); prints announces per second
 * for each and the server's peak RSS. The server runs in a child process
 * (this file with --serve) so its RSS is its own; the rate limit is off
 * there, since all the load comes from one address.
 */
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { silentLogger } from '../src/log.js';
import { buildAnnounceUrl } from '../src/tracker/http-codec.js';
import { TrackerServer } from '../src/tracker/server.js';
import { decodeUdpResponse, encodeUdpRequest } from '../src/tracker/udp-codec.js';
import { sha1 } from '../src/util/hash.js';

const PEERS = 10_000;
const TORRENTS = 100;
const ROUNDS = 2;
const HTTP_CONCURRENCY = 32;
const UDP_SOCKETS = 4;
const UDP_WINDOW = 32;
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

/** One socket's share of a UDP round: connect, then keep UDP_WINDOW announces outstanding. */
async function udpWorker(port: number, ids: number[], round: number, deadline: number): Promise<number> {
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const pending = new Map<number, { i: number; sentMs: number }>();
  let tid = 1;
  let served = 0;
  let nextIdx = 0;
  let connectionId = 0n;
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('udp connect timed out')), 5000);
      sock.once('message', (msg) => {
        clearTimeout(t);
        const res = decodeUdpResponse(msg);
        if (res.action !== 'connect') return reject(new Error(`connect answered with ${res.action}`));
        connectionId = res.connectionId;
        resolve();
      });
      sock.send(encodeUdpRequest({ action: 'connect', transactionId: 0 }), port, '127.0.0.1');
    });
    const send = (i: number): void => {
      const p = peer(i);
      const t = tid++;
      pending.set(t, { i, sentMs: Date.now() });
      sock.send(
        encodeUdpRequest({ action: 'announce', connectionId, transactionId: t, ...p, downloaded: 0, uploaded: 0, event: round === 0 ? 'started' : undefined, ip: 0, key: i, numwant: 50 }),
        port,
        '127.0.0.1',
      );
    };
    await new Promise<void>((resolve) => {
      const fill = (): void => {
        while (pending.size < UDP_WINDOW && nextIdx < ids.length) send(ids[nextIdx++]!);
        if (pending.size === 0 || Date.now() > deadline) {
          clearInterval(resend);
          resolve();
        }
      };
      // A datagram lost to a full socket buffer is resent after a second (bounded by the deadline).
      const resend = setInterval(() => {
        const now = Date.now();
        for (const [t, e] of pending) {
          if (now - e.sentMs > 1000) {
            pending.delete(t);
            send(e.i);
          }
        }
        fill();
      }, 250);
      sock.on('message', (msg) => {
        const res = decodeUdpResponse(msg);
        if (pending.delete(res.transactionId) && res.action === 'announce') served++;
        fill();
      });
      fill();
    });
  } finally {
    sock.close();
  }
  return served;
}

async function udpRound(port: number, round: number, deadline: number): Promise<number> {
  const shares: number[][] = Array.from({ length: UDP_SOCKETS }, () => []);
  for (let i = 0; i < PEERS; i++) shares[i % UDP_SOCKETS]!.push(i);
  const counts = await Promise.all(shares.map((ids) => udpWorker(port, ids, round, deadline)));
  return counts.reduce((a, b) => a + b, 0);
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

  total = 0;
  began = performance.now();
  for (let r = 0; r < ROUNDS; r++) total += await udpRound(port, r, deadline);
  secs = (performance.now() - began) / 1000;
  console.log(`UDP:  ${total} announces in ${secs.toFixed(2)} s = ${Math.round(total / secs)} announces/s (${UDP_SOCKETS} sockets x ${UDP_WINDOW} outstanding)`);

  child.stdin!.end();
  const last = await lines.next();
  const report = JSON.parse(String(last.value)) as { peakRss: number; stats: { torrents: number; peers: number; seeds: number } };
  await new Promise<void>((r) => (child.exitCode !== null ? r() : child.on('exit', () => r())));
  clearTimeout(killer);
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
  console.log(`server peak RSS: ${mb(report.peakRss)} MB (at start ${mb(rssBefore)} MB); swarm state at the end: ${report.stats.torrents} torrents, ${report.stats.peers} peers (${report.stats.seeds} seeds)`);
}

if (process.argv.includes('--serve')) await serve();
else await main();
