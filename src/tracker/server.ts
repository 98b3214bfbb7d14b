/**
 * The tracker at the edge: HTTP (BEP 3/23/48) and UDP (BEP 15) on the same
 * port number, in front of one SwarmRegistry.
 *
 * Addresses: the peer address recorded is always the request's source
 * address. The HTTP `ip` parameter and the UDP IP field are ignored, because
 * honouring them lets anyone point a swarm at a third party (a reflection
 * attack) or plant entries under another machine's name. A peer that has
 * several addresses sends from the one it listens on (`--host`), which is
 * how loopback "LAN" tests give each peer its own 127.0.0.N.
 *
 * Hostile input: every request is parsed in full before anything changes;
 * a malformed or refused request gets a bencoded `failure reason` (HTTP) or
 * an error packet (UDP), is logged at warn, and leaves the state as it was.
 * Each source address has a token bucket of requests; over it, HTTP gets a
 * failure reason and UDP packets are dropped (an error reply would still be
 * traffic we send for a possibly spoofed source).
 *
 * UDP connection ids cannot be forged: an id is the first 8 bytes of
 * HMAC-SHA256(secret of the minute, source IP), and a secret lives for two
 * minutes, so an id is valid 1 to 2 minutes after it was handed out (BEP 15
 * asks clients to reconnect after one).
 */
import { createHmac, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import http from 'node:http';
import { assertNever, errorMessage, TrackerError } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { isAddressInUse } from '../util/listen-errors.js';
import { encodeAnnounceReply, encodeFailure, parseAnnounceQuery } from './http-codec.js';
import { encodeScrapeReply, parseScrapeQuery, type ScrapeEntry } from './http-scrape.js';
import { RefusalLog } from './refusal-log.js';
import { SwarmRegistry } from './swarm-registry.js';
import { decodeUdpRequest, encodeUdpResponse, type UdpRequest, type UdpResponse } from './udp-codec.js';

export interface RateLimit {
  /** Requests per second refilled per source address. */
  perSecond: number;
  /** Requests a quiet address may send at once. */
  burst: number;
}

export interface TrackerServerOptions {
  host: string;
  /** 0 = an ephemeral port; HTTP and UDP use the same number. */
  port: number;
  /** Only these info-hashes (hex) are served, when given. */
  allowList?: Set<string>;
  /** Announce interval handed out (default: settings trackerIntervalS). */
  intervalS?: number;
  /** `min interval` handed out (default: the smaller of settings trackerMinIntervalS and intervalS). */
  minIntervalS?: number;
  logger?: Logger;
  /** Milliseconds; `Date.now` unless a test injects one. */
  clock?: () => number;
  maxTorrents?: number;
  /** Swarms one source address may be recorded in (see SwarmRegistry). */
  maxTorrentsPerHost?: number;
  maxPeersPerTorrent?: number;
  maxNumwant?: number;
  /** Per-address request limit; `false` disables it (benchmarks). */
  rateLimit?: RateLimit | false;
}

/** Enough for a NAT full of clients or a client with hundreds of torrents; far below a flood. */
export const DEFAULT_RATE_LIMIT: RateLimit = { perSecond: DEFAULT_SETTINGS.trackerRateLimitPerS, burst: DEFAULT_SETTINGS.trackerRateBurst };

/** Errors of a `::` listen on a system without IPv6. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT']);

/** `::ffff:1.2.3.4` -> `1.2.3.4`, so dual-stack sockets record plain IPv4. */
function plainAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

export class TrackerServer {
  readonly registry: SwarmRegistry;
  readonly #opts: TrackerServerOptions;
  /** The address bound: `host`, or 0.0.0.0 when `::` was asked for where there is no IPv6. */
  #bindHost: string;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #minIntervalS: number;
  readonly #rate: RateLimit | false;
  readonly #buckets = new Map<string, { tokens: number; lastMs: number }>();
  readonly #secrets = new Map<number, Buffer>();
  /** Connection ids handed out, per secret bucket and source address: an announce looks its id up instead of recomputing the HMAC. */
  readonly #ids = new Map<number, Map<string, bigint>>();
  readonly #refusals: RefusalLog;
  #http: http.Server | undefined;
  #udp: dgram.Socket | undefined;
  #sweepTimer: NodeJS.Timeout | undefined;
  #port = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(opts: TrackerServerOptions) {
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError(`TrackerServer: port out of range: ${opts.port}`);
    this.#opts = opts;
    this.#bindHost = opts.host;
    this.#log = opts.logger ?? silentLogger;
    this.#clock = opts.clock ?? Date.now;
    const intervalS = opts.intervalS ?? DEFAULT_SETTINGS.trackerIntervalS;
    this.#minIntervalS = opts.minIntervalS ?? Math.min(DEFAULT_SETTINGS.trackerMinIntervalS, intervalS);
    this.#rate = opts.rateLimit === undefined ? DEFAULT_RATE_LIMIT : opts.rateLimit;
    this.#refusals = new RefusalLog(this.#log);
    const maxTorrents = opts.maxTorrents ?? DEFAULT_SETTINGS.trackerMaxTorrents;
    this.registry = new SwarmRegistry({
      intervalS,
      clock: this.#clock,
      maxTorrents,
      ...(opts.maxTorrentsPerHost !== undefined ? { maxTorrentsPerHost: opts.maxTorrentsPerHost } : {}),
      onEvict: (ih) =>
        this.#refusals.refused(
          'tracker full, lonely swarms evicted',
          ih,
          `tracker: full (${maxTorrents} torrents): the least recently announced swarms with a single peer make room for new ones (evicted ${ih})`,
        ),
      maxPeersPerTorrent: opts.maxPeersPerTorrent ?? DEFAULT_SETTINGS.trackerMaxPeersPerTorrent,
      maxNumwant: opts.maxNumwant ?? DEFAULT_SETTINGS.trackerMaxNumwant,
      defaultNumwant: DEFAULT_SETTINGS.numwant,
      allowList: opts.allowList,
    });
  }

  /** The port both protocols listen on (0 before start). */
  get port(): number {
    return this.#port;
  }

  /** Where to announce over HTTP. A wildcard bind (0.0.0.0 or ::) is named 127.0.0.1 (reachable from this machine). */
  get announceUrl(): string {
    return `http://${this.#urlHost()}:${this.#port}/announce`;
  }

  /** Where to announce over UDP (BEP 15). */
  get udpAnnounceUrl(): string {
    return `udp://${this.#urlHost()}:${this.#port}/announce`;
  }

  #urlHost(): string {
    const h = this.#bindHost;
    // `::` is both stacks: 127.0.0.1 reaches it too, also where IPv6 is switched off.
    if (h === '0.0.0.0' || h === '' || h === '::') return '127.0.0.1';
    return h.includes(':') ? `[${h}]` : h;
  }

  /** Listens on HTTP and UDP. Idempotent; a failed start leaves nothing open. */
  start(): Promise<void> {
    if (this.#stopping) return Promise.reject(new Error('TrackerServer: start() after stop()'));
    this.#starting ??= this.#listen().catch(async (err: unknown) => {
      await this.#closeSockets();
      this.#starting = undefined;
      throw err;
    });
    return this.#starting;
  }

  async #listen(): Promise<void> {
    // With port 0 the UDP side may find the HTTP port taken by someone else's UDP socket: retry a few times.
    for (let attempt = 0; ; attempt++) {
      const server = http.createServer((req, res) => this.#onHttp(req, res));
      server.keepAliveTimeout = DEFAULT_SETTINGS.trackerHttpKeepAliveTimeoutMs;
      server.headersTimeout = DEFAULT_SETTINGS.trackerHttpHeadersTimeoutMs;
      server.requestTimeout = DEFAULT_SETTINGS.trackerHttpRequestTimeoutMs;
      server.maxHeadersCount = DEFAULT_SETTINGS.trackerHttpMaxHeaders;
      const listen = (host: string): Promise<void> =>
        new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen(this.#opts.port, host, () => {
            server.off('error', reject);
            resolve();
          });
        });
      try {
        await listen(this.#bindHost);
      } catch (err) {
        // `::` is both stacks where the system has IPv6; where it has none, IPv4's wildcard.
        if (this.#bindHost !== '::' || !NO_IPV6.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
        this.#bindHost = '0.0.0.0';
        await listen(this.#bindHost);
      }
      server.on('error', (err) => this.#log.error(`tracker http: ${errorMessage(err)}`));
      this.#http = server;
      const port = (server.address() as { port: number }).port;
      // A burst of connects from many clients at once must fit in the socket's receive buffer.
      const udp = dgram.createSocket({ type: this.#bindHost.includes(':') ? 'udp6' : 'udp4', recvBufferSize: DEFAULT_SETTINGS.trackerUdpRecvBufferBytes });
      try {
        await new Promise<void>((resolve, reject) => {
          udp.once('error', reject);
          udp.bind(port, this.#bindHost, () => {
            udp.off('error', reject);
            resolve();
          });
        });
      } catch (err) {
        udp.close();
        await new Promise<void>((r) => server.close(() => r()));
        this.#http = undefined;
        if (this.#opts.port === 0 && attempt < 5 && isAddressInUse(err)) continue;
        throw new TrackerError(`tracker: cannot bind UDP ${this.#opts.host}:${port}: ${errorMessage(err)}`);
      }
      udp.on('error', (err) => this.#log.error(`tracker udp: ${errorMessage(err)}`));
      udp.on('message', (msg, rinfo) => this.#onUdp(msg, rinfo));
      this.#udp = udp;
      this.#port = port;
      break;
    }
    this.#sweepTimer = setInterval(() => this.#sweep(), Math.max(1000, (this.registry.intervalS * 1000) / 2));
    this.#sweepTimer.unref();
    this.#log.info(`tracker listening on ${this.#opts.host}:${this.#port} (HTTP and UDP)`);
  }

  /** Closes both sockets and the timer. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      await this.#closeSockets();
      this.#refusals.close();
    })();
    return this.#stopping;
  }

  async #closeSockets(): Promise<void> {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
    const server = this.#http;
    const udp = this.#udp;
    this.#http = undefined;
    this.#udp = undefined;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections(); // keep-alive sockets would hold close() open
      await closed;
    }
    if (udp) await new Promise<void>((r) => udp.close(() => r()));
  }

  #sweep(): void {
    this.registry.sweep();
    const now = this.#clock();
    if (this.#rate) {
      const full = this.#rate.burst / this.#rate.perSecond * 1000;
      for (const [addr, b] of this.#buckets) if (now - b.lastMs > full) this.#buckets.delete(addr);
    }
    const bucket = Math.floor(now / DEFAULT_SETTINGS.trackerConnectionIdRotateMs);
    for (const k of this.#secrets.keys()) if (k < bucket - 1) this.#secrets.delete(k);
    for (const k of this.#ids.keys()) if (k < bucket - 1) this.#ids.delete(k);
  }

  /** Token bucket per source address; true when the request may proceed. */
  #allow(addr: string): boolean {
    if (!this.#rate) return true;
    const now = this.#clock();
    let b = this.#buckets.get(addr);
    if (!b) {
      if (this.#buckets.size >= DEFAULT_SETTINGS.trackerMaxRateLimitedAddresses) this.#sweep();
      b = { tokens: this.#rate.burst, lastMs: now };
      this.#buckets.set(addr, b);
    }
    b.tokens = Math.min(this.#rate.burst, b.tokens + ((now - b.lastMs) / 1000) * this.#rate.perSecond);
    b.lastMs = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  // --- HTTP ------------------------------------------------------------------

  #onHttp(req: http.IncomingMessage, res: http.ServerResponse): void {
    const addr = plainAddress(req.socket.remoteAddress);
    const send = (status: number, body: Uint8Array): void => {
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': body.length });
      res.end(body);
    };
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    if (req.method !== 'GET' || (path !== '/announce' && path !== '/scrape')) {
      send(404, encodeFailure('not found: this tracker serves GET /announce and /scrape'));
      return;
    }
    if (!this.#allow(addr)) {
      this.#log.debug(`tracker http: rate limit hit by ${addr}`);
      send(200, encodeFailure('too many requests: slow down'));
      return;
    }
    try {
      send(200, path === '/announce' ? this.#httpAnnounce(addr, query) : this.#httpScrape(query));
    } catch (err) {
      // Whatever went wrong, only this request fails: a bug must not let a remote crash the process.
      if (err instanceof TrackerError) this.#refusals.refused(`tracker http ${path}: ${err.message}`, addr, `tracker http: refused ${path} from ${addr}: ${err.message}`);
      else this.#log.error(`tracker http: internal error on ${path} from ${addr}: ${errorMessage(err)}`);
      send(200, encodeFailure(err instanceof TrackerError ? err.message : 'internal tracker error'));
    }
  }

  /** An announce answered but not recorded: said once a minute, not once per request. */
  #noteWarning(addr: string, warning: string | undefined): void {
    if (warning) this.#refusals.refused(`tracker: ${warning.replace(/:.*/, '')}`, addr, `tracker: announce from ${addr}: ${warning}`);
  }

  #httpAnnounce(addr: string, query: string): Uint8Array {
    const a = parseAnnounceQuery(query);
    const r = this.registry.announce({
      infoHash: a.infoHash,
      peerId: a.peerId,
      host: addr,
      port: a.port,
      left: a.left,
      event: a.event,
      numwant: a.numwant,
    });
    this.#noteWarning(addr, r.warning);
    return encodeAnnounceReply(
      { interval: r.interval, minInterval: this.#minIntervalS, complete: r.complete, incomplete: r.incomplete, peers: r.peers, warning: r.warning },
      { compact: a.compact, noPeerId: a.noPeerId, peers6: addr.includes(':') },
    );
  }

  #httpScrape(query: string): Uint8Array {
    const hashes = parseScrapeQuery(query);
    // A scrape of everything is allowed by BEP 48 but lets anyone list every swarm: refused.
    if (hashes.length === 0) throw new TrackerError('info_hash: a scrape must name at least one info-hash');
    const entries: ScrapeEntry[] = hashes.map((h) => ({ infoHash: h, ...this.registry.scrape(h) }));
    return encodeScrapeReply(entries);
  }

  // --- UDP (BEP 15) -------------------------------------------------------------

  /** `remember` on a connect only: a forged announce must not grow the table. */
  #connectionId(ip: string, bucket: number, remember: boolean): bigint {
    let ids = this.#ids.get(bucket);
    const known = ids?.get(ip);
    if (known !== undefined) return known;
    let secret = this.#secrets.get(bucket);
    if (!secret) {
      secret = randomBytes(32);
      this.#secrets.set(bucket, secret);
    }
    const id = createHmac('sha256', secret).update(ip).digest().readBigUInt64BE(0);
    if (!remember) return id;
    if (!ids) this.#ids.set(bucket, (ids = new Map()));
    // Bounded: past the cap (a spoofed flood of connects) ids are recomputed rather than remembered.
    if (ids.size < DEFAULT_SETTINGS.trackerConnectionIdsRemembered) ids.set(ip, id);
    return id;
  }

  #validConnectionId(ip: string, id: bigint): boolean {
    const bucket = Math.floor(this.#clock() / DEFAULT_SETTINGS.trackerConnectionIdRotateMs);
    // Only look up secrets that exist: never mint a secret for an old bucket on a forged packet.
    if (this.#secrets.has(bucket) && this.#connectionId(ip, bucket, false) === id) return true;
    return this.#secrets.has(bucket - 1) && this.#connectionId(ip, bucket - 1, false) === id;
  }

  #onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const addr = plainAddress(rinfo.address);
    if (!this.#allow(addr)) {
      this.#log.debug(`tracker udp: rate limit hit by ${addr}`);
      return;
    }
    // The transaction id sits at the same offset in every request; echo it on errors when present.
    const tid = msg.length >= 16 ? msg.readUInt32BE(12) : 0;
    let reply: UdpResponse;
    try {
      reply = this.#udpHandle(decodeUdpRequest(msg), addr);
    } catch (err) {
      if (err instanceof TrackerError) this.#refusals.refused(`tracker udp: ${err.message}`, addr, `tracker udp: refused packet from ${addr}:${rinfo.port}: ${err.message}`);
      else this.#log.error(`tracker udp: internal error on a packet from ${addr}:${rinfo.port}: ${errorMessage(err)}`);
      reply = { action: 'error', transactionId: tid, message: err instanceof TrackerError ? err.message : 'internal tracker error' };
    }
    if (reply.action === 'announce' && addr.includes(':')) reply.ipv6 = true;
    this.#udp?.send(encodeUdpResponse(reply), rinfo.port, rinfo.address);
  }

  #udpHandle(req: UdpRequest, addr: string): UdpResponse {
    if (req.action === 'connect') {
      const bucket = Math.floor(this.#clock() / DEFAULT_SETTINGS.trackerConnectionIdRotateMs);
      return { action: 'connect', transactionId: req.transactionId, connectionId: this.#connectionId(addr, bucket, true) };
    }
    if (!this.#validConnectionId(addr, req.connectionId)) throw new TrackerError('connection id is not valid (expired or forged): connect again');
    switch (req.action) {
      case 'announce': {
        const r = this.registry.announce({
          infoHash: req.infoHash,
          peerId: req.peerId,
          host: addr,
          port: req.port,
          left: req.left,
          event: req.event,
          numwant: req.numwant < 0 ? undefined : req.numwant,
          compactOnly: true,
        });
        this.#noteWarning(addr, r.warning);
        const reply: UdpResponse = { action: 'announce', transactionId: req.transactionId, interval: r.interval, leechers: r.incomplete, seeders: r.complete, peers: r.peers };
        // The registry's scratch bytes: encoded before the next announce (#onUdp encodes at once).
        if (r.compact) reply.compactPeers = r.compact;
        return reply;
      }
      case 'scrape':
        return {
          action: 'scrape',
          transactionId: req.transactionId,
          files: req.infoHashes.map((h) => {
            const c = this.registry.scrape(h);
            return { seeders: c.complete, completed: c.downloaded, leechers: c.incomplete };
          }),
        };
      default:
        return assertNever(req);
    }
  }
}
