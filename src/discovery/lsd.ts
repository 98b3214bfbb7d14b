/**
 * Local Service Discovery (BEP 14): one multicast socket per address family
 * per process, shared by every torrent of a session through a registry of
 * info-hashes. Announces go to 239.192.152.143:6771 (and
 * [ff15::efc0:988f]:6771 on interfaces with IPv6) when a torrent registers
 * and then every `lsdAnnounceIntervalMs` (BEP 14: at most once a minute),
 * several info-hashes per datagram. Announces carrying our random cookie are
 * our own, looped back, and dropped.
 *
 * Beyond BEP 14, the same channel finds the LAN's DHT: LSD_DHT_INFOHASH is
 * not a torrent but a rendezvous whose "peers" are DHT nodes, announced
 * with their UDP port (our DHT's port is the TCP port, DESIGN.md). A node
 * that hears a sender it has not heard recently announce it answers with its
 * own announce of it, no sooner than `lsdDhtReplyMinIntervalMs` after the
 * previous one, so a short-lived `peer kv` finds a node within a second or
 * two instead of waiting for the next minute's round. Torrents get no such
 * answer: their announces keep BEP 14's once a minute.
 *
 * Hostile traffic: parsing is bounded (lsd-codec.ts); each sender address
 * gets `lsdMaxDatagramsPerSourcePerMinute` datagrams read, the rest are
 * dropped; every map is bounded; warnings are rate-limited. Nothing a remote
 * sends throws out of here.
 *
 * Never register a private torrent (BEP 27): the caller knows the metainfo,
 * this class does not.
 */
import dgram from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { isIP } from 'node:net';
import { TypedEmitter } from '../events.js';
import { errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import type { Settings } from '../settings.js';
import { isLoopbackHost } from '../util/address.js';
import { toHex } from '../util/bytes.js';
import { randomBytes, sha1Hex } from '../util/hash.js';
import { WarnLimiter } from '../util/warn-limiter.js';
import type { PeerAddress } from '../util/peer-address.js';
import { LSD_IPV4_GROUP, LSD_IPV6_GROUP, LSD_PORT, batchInfoHashes, encodeLsdAnnounce, lsdHostHeader, parseLsdAnnounce, type LsdRefusal } from './lsd-codec.js';

/**
 * The rendezvous info-hash of DHT nodes on a LAN: SHA-1 of this string. Its
 * announces carry a DHT node's UDP port. No torrent has it (it is no info
 * dict's hash), so other clients ignore it.
 */
export const LSD_DHT_RENDEZVOUS = 'swarm-peer: DHT nodes on this LAN (BEP 14 rendezvous)';
export const LSD_DHT_INFOHASH: string = sha1Hex(new Uint8Array(Buffer.from(LSD_DHT_RENDEZVOUS, 'utf8')));

export type LsdSettings = Pick<Settings, 'lsdAnnounceIntervalMs' | 'lsdDhtReplyMinIntervalMs' | 'lsdMaxDatagramsPerSourcePerMinute'>;

export interface LsdServiceOptions {
  /**
   * The address of `--host`: announces go out of its interface and the group
   * is joined there. '0.0.0.0' or '::': every interface with an address
   * (the loopback one when there is no other).
   */
  host: string;
  settings: LsdSettings;
  logger?: Logger;
  /** UDP port and IPv4 group (tests use others so they do not hear a real LAN). */
  port?: number;
  group?: string;
  /** Also IPv6 (ff15::efc0:988f) where an interface has it; default true. */
  ipv6?: boolean;
  now?: () => number;
}

export interface LsdRegistration {
  /** The port announced: a peer wire TCP port, or a DHT node's UDP port for LSD_DHT_INFOHASH. */
  port: number;
  /** Announce it (false: only listen for others' announces). */
  announce: boolean;
  /** Answer a sender not heard recently with an announce of our own (LSD_DHT_INFOHASH; see above). */
  answer?: boolean;
  /** A sender announced this info-hash (the address is its host and announced port). */
  onPeer(addr: PeerAddress): void;
}

export interface LsdEvents {
  'lsd:announced': { infoHashes: number; datagrams: number };
  'lsd:peer': { infoHash: string; host: string; port: number };
  'lsd:refused': { from: string; reason: LsdRefusal | 'rate-limited' };
}

interface Entry {
  regs: Set<LsdRegistration>;
  /** When we last announced it (0: never). */
  lastAnnouncedAt: number;
  /** When it is next due (Infinity: not while nobody announces it). */
  dueAt: number;
  /** Senders heard, with when: "not heard recently" is what earns an answer. Bounded. */
  heard: Map<string, number>;
}

/** A torrent registered now waits this long, so that many registered together share datagrams. */
const BATCH_DELAY_MS = 200;
/** Senders remembered per info-hash, and sender addresses rate-limited at once. */
const MAX_HEARD_PER_ENTRY = 256;
const MAX_RATE_SOURCES = 1024;

/** One socket of one family and the interfaces (addresses for IPv4, `::%name` for IPv6) it uses. */
interface Channel {
  family: 4 | 6;
  socket: dgram.Socket;
  group: string;
  interfaces: string[];
}

export class LsdService extends TypedEmitter<LsdEvents> {
  /** IPv6 interfaces whose last announce was refused with EINVAL: dropped at the second refusal in a row. */
  readonly #v6Refusals = new Map<string, number>();
  /** Random per process: our own announces come back through multicast loopback and are dropped by it. */
  readonly cookie: string = toHex(randomBytes(8));
  readonly #opts: LsdServiceOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #port: number;
  readonly #group: string;
  readonly #entries = new Map<string, Entry>();
  readonly #rate = new Map<string, { windowStart: number; count: number }>();
  readonly #warn: WarnLimiter;
  #channels: Channel[] = [];
  #tick: NodeJS.Timeout | undefined;
  #flushTimer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> | undefined;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #running = false;

  constructor(opts: LsdServiceOptions) {
    super();
    this.#opts = opts;
    this.#log = opts.logger ?? getLogger('lsd');
    this.#now = opts.now ?? Date.now;
    this.#port = opts.port ?? LSD_PORT;
    this.#group = opts.group ?? LSD_IPV4_GROUP;
    this.#warn = new WarnLimiter((text) => this.#log.warn(text), { now: this.#now });
  }

  get running(): boolean {
    return this.#running;
  }

  /** Binds the sockets and joins the groups. Idempotent. Rejects when no family could be set up. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const { v4, v6 } = lsdInterfaces(this.#opts.host);
    const errors: string[] = [];
    if (v4.length) {
      try {
        this.#channels.push(await this.#open(4, this.#group, v4));
      } catch (err) {
        errors.push(`IPv4: ${errorMessage(err)}`);
      }
    }
    if (this.#opts.ipv6 !== false && v6.length) {
      try {
        this.#channels.push(await this.#open(6, LSD_IPV6_GROUP, v6));
      } catch (err) {
        // IPv6 multicast is often missing (no route, disabled): IPv4 alone is a working LSD.
        this.#log.debug(`LSD over IPv6 not available: ${errorMessage(err)}`);
      }
    }
    if (this.#channels.length === 0) throw new Error(`local service discovery could not start: ${errors.join('; ') || 'no interface with an address'}`);
    this.#running = true;
    this.#tick = setInterval(() => this.#flushDue(), Math.min(1_000, this.#opts.settings.lsdAnnounceIntervalMs));
    this.#tick.unref();
    this.#log.info(`LSD on ${this.#channels.map((c) => `${lsdHostHeader(c.group, this.#port)} via ${c.interfaces.join(', ')}`).join(' and ')}`);
    this.#scheduleFlush(0);
  }

  async #open(family: 4 | 6, group: string, interfaces: string[]): Promise<Channel> {
    // reuseAddr: every LSD client of the host (another daemon, libtorrent, a `peer kv`) binds 6771 too.
    const socket = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', reuseAddr: true, ...(family === 6 ? { ipv6Only: true } : {}) });
    socket.on('error', (err) => this.#log.debug(`LSD socket (IPv${family}): ${errorMessage(err)}`));
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind({ port: this.#port, address: family === 4 ? '0.0.0.0' : '::', exclusive: false }, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      const joined: string[] = [];
      for (const iface of interfaces) {
        try {
          socket.addMembership(group, iface);
          joined.push(iface);
        } catch (err) {
          this.#log.debug(`LSD: cannot join ${group} on ${iface}: ${errorMessage(err)}`);
        }
      }
      if (joined.length === 0) throw new Error(`cannot join ${group} on ${interfaces.join(', ')}`);
      // TTL/hops 1: BEP 14 is for the local network; routers must not forward it.
      socket.setMulticastTTL(1);
      // Loopback on: two clients on one host find each other (our own come back too; the cookie drops them).
      socket.setMulticastLoopback(true);
      socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo.address));
      return { family, socket, group, interfaces: joined };
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /**
   * Adds `reg` for `infoHashHex` (lower-case 40 hex); returns the function
   * that removes it. A torrent is announced within BATCH_DELAY_MS, unless it
   * was announced less than an interval ago.
   */
  register(infoHashHex: string, reg: LsdRegistration): () => void {
    const hex = infoHashHex.toLowerCase();
    if (!/^[0-9a-f]{40}$/.test(hex)) throw new RangeError(`LSD: not an info-hash: ${infoHashHex}`);
    if (!Number.isInteger(reg.port) || reg.port < 1 || reg.port > 65535) throw new RangeError(`LSD: port out of range: ${reg.port}`);
    let e = this.#entries.get(hex);
    if (!e) {
      e = { regs: new Set(), lastAnnouncedAt: 0, dueAt: Infinity, heard: new Map() };
      this.#entries.set(hex, e);
    }
    e.regs.add(reg);
    // Senders heard within two intervals are told to a newcomer at once (a magnet's fetch heard them; its
    // torrent should not wait a minute for their next announce).
    const now = this.#now();
    const recent = [...e.heard].filter(([, at]) => now - at < 2 * this.#opts.settings.lsdAnnounceIntervalMs).map(([key]) => key);
    if (recent.length) {
      setImmediate(() => {
        if (!e.regs.has(reg)) return;
        for (const key of recent) {
          const i = key.lastIndexOf('|');
          reg.onPeer({ host: key.slice(0, i), port: Number(key.slice(i + 1)) });
        }
      });
    }
    if (reg.announce && e.dueAt === Infinity) {
      e.dueAt = Math.max(this.#now() + BATCH_DELAY_MS, e.lastAnnouncedAt + this.#opts.settings.lsdAnnounceIntervalMs);
      this.#scheduleFlush(BATCH_DELAY_MS);
    }
    return () => {
      e.regs.delete(reg);
      if (![...e.regs].some((r) => r.announce)) e.dueAt = Infinity;
      // Kept while its last announce is recent, so a quick re-register (a magnet becoming a torrent) keeps the minute.
      if (e.regs.size === 0 && this.#now() - e.lastAnnouncedAt >= this.#opts.settings.lsdAnnounceIntervalMs) this.#entries.delete(hex);
    };
  }

  /** Info-hashes registered (for stats and tests). */
  get registered(): number {
    let n = 0;
    for (const e of this.#entries.values()) if (e.regs.size) n++;
    return n;
  }

  #scheduleFlush(delayMs: number): void {
    if (!this.#running || this.#flushTimer) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#flushDue();
    }, delayMs);
    this.#flushTimer.unref();
  }

  /** Announces every due info-hash: grouped by port, LSD_MAX_INFOHASHES to a datagram, on every channel and interface. */
  #flushDue(): void {
    if (!this.#running || this.#flushing) return;
    const now = this.#now();
    const byPort = new Map<number, string[]>();
    for (const [hex, e] of this.#entries) {
      if (e.regs.size === 0 && now - e.lastAnnouncedAt >= this.#opts.settings.lsdAnnounceIntervalMs) {
        this.#entries.delete(hex);
        continue;
      }
      if (e.dueAt > now) continue;
      const reg = [...e.regs].find((r) => r.announce);
      if (!reg) {
        e.dueAt = Infinity;
        continue;
      }
      e.lastAnnouncedAt = now;
      e.dueAt = now + this.#opts.settings.lsdAnnounceIntervalMs;
      const list = byPort.get(reg.port) ?? [];
      list.push(hex);
      byPort.set(reg.port, list);
    }
    if (byPort.size === 0) return;
    this.#flushing = this.#send(byPort).finally(() => (this.#flushing = undefined));
  }

  async #send(byPort: Map<number, string[]>): Promise<void> {
    let datagrams = 0;
    let hashes = 0;
    for (const [port, list] of byPort) {
      hashes += list.length;
      for (const batch of batchInfoHashes(list)) {
        for (const ch of this.#channels) {
          const data = encodeLsdAnnounce({ host: lsdHostHeader(ch.group, this.#port), port, infoHashes: batch, cookie: this.cookie });
          for (const iface of [...ch.interfaces]) {
            if (!this.#running) return;
            try {
              // One interface at a time: the outgoing interface is socket state, so wait for each send.
              ch.socket.setMulticastInterface(iface);
              await new Promise<void>((resolve, reject) => ch.socket.send(data, this.#port, ch.group, (err) => (err ? reject(err) : resolve())));
              datagrams++;
              this.#v6Refusals.delete(iface);
            } catch (err) {
              if (ch.family === 6 && (err as NodeJS.ErrnoException).code === 'EINVAL') {
                // This interface has no route for IPv6 multicast (no usable IPv6 address). Right after the address was
                // set it may still be tentative (duplicate address detection): tried again at the next announce.
                const refusals = (this.#v6Refusals.get(iface) ?? 0) + 1;
                this.#v6Refusals.set(iface, refusals);
                if (refusals < 2) {
                  this.#log.debug(`LSD over IPv6 via ${iface} not possible yet (${errorMessage(err)}); trying again at the next announce`);
                  continue;
                }
                // Twice in a row: it never will in this run. Said once, at info, and the interface is dropped instead of a warning every minute.
                this.#v6Refusals.delete(iface);
                ch.interfaces.splice(ch.interfaces.indexOf(iface), 1);
                this.#log.info(`LSD over IPv6 via ${iface} is not possible here (${errorMessage(err)}); IPv4 LSD goes on`);
                continue;
              }
              this.#warn.warn(`send:${iface}`, `LSD announce via ${iface} failed: ${errorMessage(err)}`);
            }
          }
        }
      }
    }
    this.#log.debug(`LSD announced ${hashes} info-hash(es) in ${datagrams} datagram(s)`);
    this.emit('lsd:announced', { infoHashes: hashes, datagrams });
  }

  /** True when `from` may send one more datagram this minute. */
  #admit(from: string, now: number): boolean {
    let r = this.#rate.get(from);
    if (!r || now - r.windowStart >= 60_000) {
      if (!r && this.#rate.size >= MAX_RATE_SOURCES) this.#rate.clear();
      r = { windowStart: now, count: 0 };
      this.#rate.set(from, r);
    }
    return ++r.count <= this.#opts.settings.lsdMaxDatagramsPerSourcePerMinute;
  }

  #onMessage(msg: Buffer, fromRaw: string): void {
    if (!this.#running) return;
    const now = this.#now();
    const from = fromRaw.replace(/^::ffff:/, '');
    if (!this.#admit(from, now)) {
      this.emit('lsd:refused', { from, reason: 'rate-limited' });
      this.#warn.warn(`rate:${from}`, `LSD: ${from} sends more than ${this.#opts.settings.lsdMaxDatagramsPerSourcePerMinute} announces a minute; dropping the rest`);
      return;
    }
    const parsed = parseLsdAnnounce(msg);
    if (!parsed.ok) {
      this.emit('lsd:refused', { from, reason: parsed.reason });
      this.#warn.warn(`bad:${from}`, `LSD: refused a datagram from ${from}: ${parsed.reason}`);
      return;
    }
    const a = parsed.announce;
    if (a.cookie === this.cookie) return;
    // A link-local IPv6 source (fe80::...%zone) is not taken as a peer: the same host is reachable over
    // IPv4 or a routable IPv6 address, and a zoned address would be one more name for one peer.
    if (/^fe80:/i.test(from)) return;
    let answer = false;
    for (const hex of a.infoHashes) {
      const e = this.#entries.get(hex);
      if (!e || e.regs.size === 0) continue;
      const key = `${from}|${a.port}`;
      const heardAt = e.heard.get(key);
      // Not heard for two intervals: new (or back). A sender's own once-a-minute rounds never look new, so
      // nodes that know each other do not answer each other's rounds.
      const fresh = heardAt === undefined || now - heardAt >= 2 * this.#opts.settings.lsdAnnounceIntervalMs;
      if (e.heard.size >= MAX_HEARD_PER_ENTRY && heardAt === undefined) e.heard.clear();
      e.heard.set(key, now);
      this.emit('lsd:peer', { infoHash: hex, host: from, port: a.port });
      for (const r of e.regs) {
        try {
          r.onPeer({ host: from, port: a.port });
        } catch (err) {
          this.#log.error(`LSD peer callback: ${errorMessage(err)}`);
        }
        if (fresh && r.answer && r.announce) {
          const soonest = e.lastAnnouncedAt + this.#opts.settings.lsdDhtReplyMinIntervalMs;
          if (e.dueAt > soonest) {
            e.dueAt = Math.max(now, soonest);
            answer = true;
          }
        }
      }
    }
    if (answer) this.#scheduleFlush(BATCH_DELAY_MS);
  }

  /** Closes the sockets and timers. Idempotent. */
  stop(): Promise<void> {
    if (!this.#starting) return Promise.resolve();
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    this.#running = false;
    clearInterval(this.#tick);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await this.#flushing;
    await Promise.all(this.#channels.map((c) => new Promise<void>((resolve) => c.socket.close(() => resolve()))));
    this.#channels = [];
  }
}

/**
 * The interfaces LSD uses for `host`: IPv4 addresses to join and send from,
 * and `::%name` scopes for IPv6. A given address uses its own interface; the
 * wildcard uses every non-loopback interface, or loopback when there is no
 * other (a machine alone still finds its own peers).
 */
export function lsdInterfaces(host: string): { v4: string[]; v6: string[] } {
  const all = Object.entries(networkInterfaces()).flatMap(([name, addrs]) => (addrs ?? []).map((a) => ({ name, ...a })));
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  if (!wildcard && isIP(host) === 4 && isLoopbackHost(host)) return { v4: [host], v6: [] };
  let chosen = wildcard ? all.filter((a) => !a.internal) : all.filter((a) => a.address === host.replace(/%.*$/, ''));
  if (wildcard && chosen.length === 0) chosen = all.filter((a) => a.internal);
  const names = new Set(chosen.map((a) => a.name));
  const v4 = [...new Set(chosen.filter((a) => a.family === 'IPv4').map((a) => a.address))];
  // IPv6 where the chosen interfaces have it (an IPv4 --host still gets its interface's IPv6 group).
  const v6 = [...names].filter((n) => all.some((a) => a.name === n && a.family === 'IPv6')).map((n) => `::%${n}`);
  return { v4, v6 };
}
