/**
 * Tracker client at the edge: one announce or scrape over HTTP(S) (BEP 3,
 * 23, 48) or UDP (BEP 15). Stateless except for the UDP connection ids,
 * which are cached for a minute per tracker and local address as BEP 15
 * allows, so a periodic announce is one round trip instead of two.
 *
 * Every call is bounded: by the caller's signal and by `timeoutMs`
 * (default 15 s, settings trackerTimeoutMs). UDP retransmits after
 * 15 x 2^n seconds per BEP 15, which in practice means the bound decides.
 */
import dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import http from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import { TrackerError, errorMessage } from '../errors.js';
import type { PeerAddress } from '../util/peer-address.js';
import { anySignal } from '../util/abort.js';
import { buildAnnounceUrl, parseAnnounceReply, type AnnounceParams } from './http-codec.js';
import { buildScrapeUrl, parseScrapeReply, scrapeUrlFor, type ScrapeCounts } from './http-scrape.js';
import { decodeUdpResponse, encodeUdpRequest, MAX_UDP_SCRAPE_HASHES, type UdpRequest, type UdpResponse } from './udp-codec.js';
import { toHex } from '../util/bytes.js';
import { DEFAULT_SETTINGS } from '../settings.js';

/** What an announce sends (the URL parameters), and where it is sent from. */
export interface AnnounceRequest extends AnnounceParams {
  /** Send from this address (our --host), so the tracker records the address we listen on. */
  localAddress?: string;
}

export interface AnnounceResult {
  interval: number;
  minInterval?: number;
  peers: PeerAddress[];
  complete?: number;
  incomplete?: number;
  warning?: string;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Bound on the whole call (default: settings trackerTimeoutMs). */
  timeoutMs?: number;
  /** Scrape only: the address to send from. */
  localAddress?: string;
}

/** Announces once; resolves with the tracker's reply or rejects with a TrackerError (or the caller's abort reason). */
export async function announce(url: string, req: AnnounceRequest, opts: RequestOptions = {}): Promise<AnnounceResult> {
  const proto = protocolOf(url);
  return withBound(url, opts, async (signal) => {
    if (proto === 'udp') return udpAnnounce(url, req, signal);
    const full = buildAnnounceUrl(url, req);
    const reply = parseAnnounceReply(await httpGet(full, req.localAddress, signal));
    const out: AnnounceResult = { interval: reply.interval, peers: reply.peers.map((p) => ({ host: p.host, port: p.port })) };
    if (reply.minInterval !== undefined) out.minInterval = reply.minInterval;
    if (reply.complete !== undefined) out.complete = reply.complete;
    if (reply.incomplete !== undefined) out.incomplete = reply.incomplete;
    if (reply.warning !== undefined) out.warning = reply.warning;
    return out;
  });
}

/** Scrapes counts for the given info-hashes; keys of the result are lower-case hex. */
export async function scrape(url: string, infoHashes: Uint8Array[], opts: RequestOptions = {}): Promise<Map<string, ScrapeCounts>> {
  const proto = protocolOf(url);
  return withBound(url, opts, async (signal) => {
    if (proto === 'udp') return udpScrape(url, infoHashes, opts.localAddress, signal);
    const base = scrapeUrlFor(url);
    if (!base) throw new TrackerError(`tracker ${url}: no scrape URL (the path does not end in "announce")`);
    return parseScrapeReply(await httpGet(buildScrapeUrl(base, infoHashes), opts.localAddress, signal));
  });
}

function protocolOf(url: string): 'http' | 'udp' {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TrackerError(`tracker URL is not a URL: ${url}`);
  }
  if (u.protocol === 'http:' || u.protocol === 'https:') return 'http';
  if (u.protocol === 'udp:') return 'udp';
  throw new TrackerError(`tracker ${url}: unsupported protocol ${u.protocol}`);
}

/** Runs `fn` under the caller's signal plus the timeout; a timeout becomes a TrackerError. */
async function withBound<T>(url: string, opts: RequestOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_SETTINGS.trackerTimeoutMs;
  const signal = anySignal([opts.signal], timeoutMs);
  try {
    return await fn(signal);
  } catch (err) {
    if (opts.signal?.aborted) throw opts.signal.reason;
    if (signal.aborted) throw new TrackerError(`tracker ${url}: no reply within ${timeoutMs} ms`);
    if (err instanceof TrackerError) throw err;
    throw new TrackerError(`tracker ${url}: ${errorMessage(err)}`);
  }
}

// --- HTTP --------------------------------------------------------------------------

function httpGet(url: string, localAddress: string | undefined, signal: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { signal, localAddress, headers: { 'user-agent': 'swarm-peer/0.1' } }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > DEFAULT_SETTINGS.trackerMaxReplyBytes) {
          res.destroy();
          reject(new TrackerError(`tracker reply larger than ${DEFAULT_SETTINGS.trackerMaxReplyBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode === 200) return resolve(body);
        // A non-200 reply may still carry a bencoded failure reason worth showing.
        try {
          parseAnnounceReply(body);
        } catch (err) {
          if (err instanceof TrackerError && err.message.startsWith('tracker refused')) return reject(err);
        }
        reject(new TrackerError(`tracker answered HTTP ${res.statusCode}`));
      });
    });
    req.on('error', reject);
  });
}

// --- UDP (BEP 15) -----------------------------------------------------------------

const connectionIds = new Map<string, { id: bigint; expiresMs: number }>();

interface UdpTarget {
  host: string;
  port: number;
  family: 4 | 6;
  cacheKey: string;
}

async function resolveUdp(url: string, localAddress: string | undefined): Promise<UdpTarget> {
  const u = new URL(url);
  const port = Number(u.port);
  if (!port) throw new TrackerError(`tracker ${url}: a UDP tracker URL needs a port`);
  const hostname = u.hostname.replace(/^\[|\]$/g, '');
  // An address literal says its family; a name is looked up in the family of --host (IPv4 when none).
  const literal = isIP(hostname);
  const family = literal === 6 || (literal === 0 && localAddress?.includes(':')) ? 6 : 4;
  const { address } = await lookup(hostname, { family });
  return { host: address, port, family, cacheKey: `${address}:${port}|${localAddress ?? ''}` };
}

function tid(): number {
  return randomBytes(4).readUInt32BE(0);
}

/** One UDP socket for the duration of one call, bound to the local address when given. */
async function openSocket(target: UdpTarget, localAddress: string | undefined): Promise<dgram.Socket> {
  const sock = dgram.createSocket(target.family === 6 ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind({ port: 0, address: localAddress }, () => {
      sock.off('error', reject);
      resolve();
    });
  });
  return sock;
}

/** Sends `req` and waits for the reply with its transaction id; retransmits after 15 x 2^n s. */
function transact(sock: dgram.Socket, target: UdpTarget, req: UdpRequest, signal: AbortSignal): Promise<UdpResponse> {
  const packet = encodeUdpRequest(req);
  const want = req.transactionId;
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let n = 0;
    const cleanup = (): void => {
      if (timer) clearTimeout(timer);
      sock.off('message', onMessage);
      sock.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => {
      // Only the tracker's own replies count (a wildcard target cannot be checked by address).
      if (rinfo.port !== target.port || (rinfo.address !== target.host && target.host !== '0.0.0.0' && target.host !== '::')) return;
      let res: UdpResponse;
      try {
        res = decodeUdpResponse(msg, { ipv6: target.family === 6 });
      } catch {
        return; // garbage: keep waiting for the real reply
      }
      if (res.transactionId !== want) return;
      cleanup();
      if (res.action === 'error') reject(new TrackerError(`tracker refused: ${res.message}`));
      else resolve(res);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    const send = (): void => {
      sock.send(packet, target.port, target.host);
      timer = setTimeout(send, DEFAULT_SETTINGS.trackerUdpRetransmitMs * 2 ** Math.min(n++, 8));
    };
    if (signal.aborted) return reject(signal.reason);
    sock.on('message', onMessage);
    sock.on('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
    send();
  });
}

async function connectionId(sock: dgram.Socket, target: UdpTarget, signal: AbortSignal, fresh: boolean): Promise<bigint> {
  const cached = connectionIds.get(target.cacheKey);
  if (!fresh && cached && cached.expiresMs > Date.now()) return cached.id;
  const res = await transact(sock, target, { action: 'connect', transactionId: tid() }, signal);
  if (res.action !== 'connect') throw new TrackerError(`tracker answered connect with ${res.action}`);
  connectionIds.set(target.cacheKey, { id: res.connectionId, expiresMs: Date.now() + DEFAULT_SETTINGS.trackerUdpConnectionIdTtlMs });
  if (connectionIds.size > DEFAULT_SETTINGS.trackerMaxCachedConnectionIds) {
    for (const [k, v] of connectionIds) if (v.expiresMs <= Date.now()) connectionIds.delete(k);
  }
  return res.connectionId;
}

/** Runs one request with a cached connection id; if the tracker refuses it, reconnects once. */
async function withConnection<T>(url: string, localAddress: string | undefined, signal: AbortSignal, fn: (sock: dgram.Socket, target: UdpTarget, id: bigint) => Promise<T>): Promise<T> {
  const target = await resolveUdp(url, localAddress);
  const sock = await openSocket(target, localAddress);
  try {
    const hadCached = (connectionIds.get(target.cacheKey)?.expiresMs ?? 0) > Date.now();
    try {
      return await fn(sock, target, await connectionId(sock, target, signal, false));
    } catch (err) {
      if (!hadCached || !(err instanceof TrackerError) || signal.aborted) throw err;
      connectionIds.delete(target.cacheKey);
      return await fn(sock, target, await connectionId(sock, target, signal, true));
    }
  } finally {
    sock.close();
  }
}

async function udpAnnounce(url: string, req: AnnounceRequest, signal: AbortSignal): Promise<AnnounceResult> {
  return withConnection(url, req.localAddress, signal, async (sock, target, id) => {
    const res = await transact(
      sock,
      target,
      {
        action: 'announce',
        connectionId: id,
        transactionId: tid(),
        infoHash: req.infoHash,
        peerId: req.peerId,
        downloaded: req.downloaded,
        left: req.left,
        uploaded: req.uploaded,
        event: req.event,
        ip: 0,
        key: req.key ?? 0,
        numwant: req.numwant ?? -1,
        port: req.port,
      },
      signal,
    );
    if (res.action !== 'announce') throw new TrackerError(`tracker answered announce with ${res.action}`);
    return { interval: res.interval, peers: res.peers.map((p) => ({ host: p.host, port: p.port })), complete: res.seeders, incomplete: res.leechers };
  });
}

async function udpScrape(url: string, infoHashes: Uint8Array[], localAddress: string | undefined, signal: AbortSignal): Promise<Map<string, ScrapeCounts>> {
  if (infoHashes.length === 0 || infoHashes.length > MAX_UDP_SCRAPE_HASHES) throw new TrackerError(`udp scrape: 1 to ${MAX_UDP_SCRAPE_HASHES} info-hashes per request`);
  return withConnection(url, localAddress, signal, async (sock, target, id) => {
    const res = await transact(sock, target, { action: 'scrape', connectionId: id, transactionId: tid(), infoHashes }, signal);
    if (res.action !== 'scrape') throw new TrackerError(`tracker answered scrape with ${res.action}`);
    const out = new Map<string, ScrapeCounts>();
    infoHashes.forEach((h, i) => {
      const f = res.files[i];
      if (f) out.set(toHex(h), { complete: f.seeders, incomplete: f.leechers, downloaded: f.completed });
    });
    return out;
  });
}
