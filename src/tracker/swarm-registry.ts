/**
 * The tracker's swarm state, pure: which peers announced which info-hash,
 * when, and whether they are seeds. No sockets and no timers; time comes
 * from an injected clock so expiry is tested without waiting.
 *
 * A peer is identified by peer id *and* address, so a stranger who learns a
 * peer id cannot move that peer's entry to another address (the HTTP
 * protocol has no authentication; BEP 3 `key` is informational here).
 *
 * Empty swarms are forgotten, including their `downloaded` count: keeping
 * them would let anyone fill the torrent limit with one announce each.
 *
 * The torrent limit must not let a flood lock new swarms out (a few hundred
 * addresses announcing thousands of made-up info-hashes), so:
 * - swarms are kept in order of their last recorded announce; a swarm whose
 *   newest announce is older than the peer expiry is dropped whole;
 * - when the table is full, a new swarm takes the place of the least
 *   recently announced *lonely* swarm: one in which at most one address
 *   holding few torrents (`lightHostTorrents`) is recorded. A lone
 *   announcer gets no peers from its swarm anyway, and re-creates it at its
 *   next announce; swarms where two ordinary peers meet are never evicted;
 * - one address is recorded in at most `maxTorrentsPerHost` swarms; beyond
 *   that its announces are answered (with peers) but not recorded.
 */
import { TrackerError } from '../errors.js';
import { toHex } from '../util/bytes.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { ipv4Bytes } from '../wire/compact.js';
import type { AnnounceEvent, TrackerPeer } from './http-codec.js';

export interface RegistryOptions {
  /** Milliseconds since some epoch; `Date.now` in production, a fake in tests. */
  clock?: () => number;
  /** Announce interval handed out; peers expire after two of them without an announce. */
  intervalS: number;
  /** Info-hashes tracked at once; beyond this a new one evicts a lonely swarm, or is refused. */
  maxTorrents?: number;
  /** Swarms one address is recorded in; its announces for more are answered but not recorded. */
  maxTorrentsPerHost?: number;
  /** An address recorded in at most this many swarms counts as an ordinary peer when choosing what to evict. */
  lightHostTorrents?: number;
  /** Told of each swarm evicted to make room for a new one (hex info-hash). */
  onEvict?: (infoHashHex: string) => void;
  /** Peers recorded per info-hash; more are answered but not recorded. */
  maxPeersPerTorrent?: number;
  /** Largest numwant honoured. */
  maxNumwant?: number;
  /** Peers returned when the client does not say. */
  defaultNumwant?: number;
  /** Only these info-hashes (hex, lower case) are served, when given. */
  allowList?: Set<string>;
  /** Random integer in [0, n); injectable for deterministic tests. */
  random?: (n: number) => number;
}

export interface RegistryAnnounce {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** The request's source address (never a client-supplied `ip`). */
  host: string;
  port: number;
  left: number;
  event?: AnnounceEvent;
  /** Undefined or negative -> the default. */
  numwant?: number;
  /**
   * The caller writes only BEP 23 bytes (UDP): when every candidate is IPv4,
   * the reply carries them in `compact` and `peers` is left empty.
   */
  compactOnly?: boolean;
}

export interface RegistryReply {
  interval: number;
  complete: number;
  incomplete: number;
  peers: TrackerPeer[];
  /**
   * The chosen peers' BEP 23 bytes, in place of `peers` (see
   * `compactOnly`). A view of the registry's scratch buffer: valid until
   * the next announce.
   */
  compact?: Uint8Array;
  /** Set when the announce was answered but not recorded (swarm full, or the address holds too many torrents). */
  warning?: string;
}

export interface SwarmCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

interface PeerEntry {
  key: string;
  peerId: Uint8Array;
  host: string;
  port: number;
  /** What a reply hands out, built once per address and port (with its BEP 23 bytes) rather than per announce. */
  peer: Readonly<TrackerPeer>;
  seed: boolean;
  lastSeenMs: number;
  completedCounted: boolean;
}

/** One info-hash's peers: an array for O(1) random picks plus an index by key. */
const FLAG_SEED = 1;
const FLAG_V4 = 2;

class Swarm {
  readonly list: PeerEntry[] = [];
  readonly index = new Map<string, number>();
  /** Entries per address. */
  readonly hosts = new Map<string, number>();
  /**
   * Position i's BEP 23 bytes at 6i (zeros when it is not IPv4) and its
   * flags, kept beside `list`: picking a reply and writing it then reads one
   * small buffer instead of dozens of entries scattered over the heap.
   */
  compact = new Uint8Array(6 * 8);
  flags = new Uint8Array(8);
  /** Entries that are not IPv4 (the compact fast path needs none). */
  notV4 = 0;
  seeds = 0;
  downloaded = 0;
  /** When a peer of it last announced (ms). */
  lastAnnounceMs = 0;
  /**
   * No entry can expire before this (ms): the oldest entry's last announce
   * plus the expiry, as of the last scan (announces only move entries later),
   * so an announce scans the swarm for expired peers only when one may be.
   */
  nextExpiryMs = 0;

  get(key: string): PeerEntry | undefined {
    const i = this.index.get(key);
    return i === undefined ? undefined : this.list[i];
  }

  add(e: PeerEntry): void {
    const i = this.list.length;
    if (i === this.flags.length) {
      const compact = new Uint8Array(12 * i);
      compact.set(this.compact);
      this.compact = compact;
      const flags = new Uint8Array(2 * i);
      flags.set(this.flags);
      this.flags = flags;
    }
    this.index.set(e.key, i);
    this.list.push(e);
    if (e.seed) this.seeds++;
    if (!e.peer.compact) this.notV4++;
    this.#write(i, e);
  }

  #write(i: number, e: PeerEntry): void {
    const c = e.peer.compact;
    if (c) this.compact.set(c, 6 * i);
    else this.compact.fill(0, 6 * i, 6 * i + 6);
    this.flags[i] = (c ? FLAG_V4 : 0) | (e.seed ? FLAG_SEED : 0);
  }

  /** Swap-remove: O(1). */
  remove(key: string): void {
    const i = this.index.get(key);
    if (i === undefined) return;
    const e = this.list[i]!;
    if (e.seed) this.seeds--;
    if (!e.peer.compact) this.notV4--;
    const last = this.list.pop()!;
    this.index.delete(key);
    if (last !== e) {
      this.list[i] = last;
      this.index.set(last.key, i);
      this.#write(i, last);
    }
  }

  setSeed(e: PeerEntry, seed: boolean): void {
    if (e.seed === seed) return;
    this.seeds += seed ? 1 : -1;
    e.seed = seed;
    this.#write(this.index.get(e.key)!, e);
  }

  /** After the entry's port (so its reply form) changed. */
  rewrite(e: PeerEntry): void {
    this.#write(this.index.get(e.key)!, e);
  }
}

/** The reply form of an entry; frozen, since every reply that picks the entry shares it. */
function replyPeer(host: string, port: number, peerId: Uint8Array): Readonly<TrackerPeer> {
  const ip = ipv4Bytes(host);
  let compact: Uint8Array | undefined;
  if (ip) {
    compact = new Uint8Array(6);
    compact.set(ip);
    compact[4] = port >>> 8;
    compact[5] = port & 0xff;
  }
  return Object.freeze(compact ? { host, port, peerId, compact } : { host, port, peerId });
}

export class SwarmRegistry {
  readonly intervalS: number;
  readonly #clock: () => number;
  readonly #maxTorrents: number;
  readonly #maxPerHost: number;
  readonly #lightHost: number;
  readonly #onEvict: ((ih: string) => void) | undefined;
  readonly #maxPeers: number;
  readonly #maxNumwant: number;
  readonly #defaultNumwant: number;
  readonly #allow: Set<string> | undefined;
  readonly #random: (n: number) => number;
  /** In order of their last recorded announce, oldest first (re-inserted on each). */
  readonly #swarms = new Map<string, Swarm>();
  /** Swarms each address is recorded in. */
  readonly #torrentsOfHost = new Map<string, number>();
  /** Scratch index array for #pick (no allocation per announce). */
  #order = new Int32Array(0);
  /** Scratch for the compact bytes of a reply (see RegistryReply.compact). */
  #replyBytes: Uint8Array;

  constructor(opts: RegistryOptions) {
    if (!(opts.intervalS > 0)) throw new RangeError('SwarmRegistry: intervalS must be positive');
    this.intervalS = opts.intervalS;
    this.#clock = opts.clock ?? Date.now;
    this.#maxTorrents = opts.maxTorrents ?? DEFAULT_SETTINGS.trackerMaxTorrents;
    this.#maxPerHost = opts.maxTorrentsPerHost ?? DEFAULT_SETTINGS.trackerMaxTorrentsPerHost;
    this.#lightHost = opts.lightHostTorrents ?? DEFAULT_SETTINGS.trackerLightHostTorrents;
    this.#onEvict = opts.onEvict;
    this.#maxPeers = opts.maxPeersPerTorrent ?? DEFAULT_SETTINGS.trackerMaxPeersPerTorrent;
    this.#maxNumwant = opts.maxNumwant ?? DEFAULT_SETTINGS.trackerMaxNumwant;
    this.#defaultNumwant = Math.min(opts.defaultNumwant ?? DEFAULT_SETTINGS.numwant, this.#maxNumwant);
    this.#allow = opts.allowList ? new Set([...opts.allowList].map((h) => h.toLowerCase())) : undefined;
    this.#random = opts.random ?? ((n) => Math.floor(Math.random() * n));
    this.#replyBytes = new Uint8Array(6 * this.#maxNumwant);
  }

  /** A peer not heard from for this long is dropped (two intervals, as the issue asks). */
  get expiryMs(): number {
    return 2 * this.intervalS * 1000;
  }

  /**
   * Records an announce and picks peers for the reply. Throws a TrackerError
   * (and changes nothing) when the request is refused.
   */
  announce(a: RegistryAnnounce): RegistryReply {
    if (a.infoHash.length !== 20) throw new TrackerError('info_hash: expected 20 bytes');
    if (a.peerId.length !== 20) throw new TrackerError('peer_id: expected 20 bytes');
    if (!Number.isInteger(a.port) || a.port < 1 || a.port > 65535) throw new TrackerError('port: not in 1-65535');
    if (!Number.isSafeInteger(a.left) || a.left < 0) throw new TrackerError('left: not a non-negative integer');
    const ih = toHex(a.infoHash);
    if (this.#allow && !this.#allow.has(ih)) throw new TrackerError('info_hash: not served by this tracker');
    const now = this.#clock();
    let swarm = this.#swarms.get(ih);
    if (swarm && now > swarm.nextExpiryMs) {
      this.#expire(ih, swarm, now);
      swarm = this.#swarms.get(ih);
    }
    // Opaque map key: the peer id's 20 bytes as Latin-1 (half the hex form's length, hashed on every announce).
    const key = `${Buffer.from(a.peerId.buffer, a.peerId.byteOffset, a.peerId.byteLength).toString('latin1')}@${a.host}`;
    const seed = a.left === 0;
    let warning: string | undefined;

    if (a.event === 'stopped') {
      // A stopped peer leaves; it gets no peers (it is going away).
      if (swarm) {
        this.#removeEntry(swarm, key);
        if (swarm.list.length === 0) this.#swarms.delete(ih);
      }
      const c = swarm ? this.#counts(swarm) : { complete: 0, incomplete: 0 };
      return { interval: this.intervalS, ...c, peers: [] };
    }

    let entry = swarm?.get(key);
    // An address already in this swarm may add entries (a new peer id); a new swarm for it counts against its quota.
    const overQuota = !entry && !swarm?.hosts.has(a.host) && (this.#torrentsOfHost.get(a.host) ?? 0) >= this.#maxPerHost;
    if (overQuota) {
      warning = `too many torrents from your address (${this.#maxPerHost}): this announce was answered but not recorded`;
      if (!swarm) return { interval: this.intervalS, complete: 0, incomplete: 0, peers: [], warning };
    }
    if (!swarm) {
      if (this.#swarms.size >= this.#maxTorrents) this.#makeRoom(now);
      swarm = new Swarm();
      this.#swarms.set(ih, swarm);
    }
    if (entry) {
      if (entry.port !== a.port) {
        entry.port = a.port;
        entry.peer = replyPeer(entry.host, a.port, entry.peerId);
        swarm.rewrite(entry);
      }
      entry.lastSeenMs = now;
      swarm.setSeed(entry, seed);
    } else if (overQuota) {
      // answered below, not recorded
    } else if (swarm.list.length < this.#maxPeers) {
      const peerId = a.peerId.slice();
      entry = { key, peerId, host: a.host, port: a.port, peer: replyPeer(a.host, a.port, peerId), seed, lastSeenMs: now, completedCounted: false };
      this.#addEntry(swarm, entry);
    } else {
      warning = 'swarm is full: this announce was answered but not recorded';
    }
    if (entry) {
      swarm.lastAnnounceMs = now;
      // Most recently announced last: the map's order is the eviction order.
      this.#swarms.delete(ih);
      this.#swarms.set(ih, swarm);
    }
    if (entry && a.event === 'completed' && !entry.completedCounted) {
      entry.completedCounted = true;
      swarm.downloaded++;
    }
    const compact = a.compactOnly ? this.#pickCompact(swarm, a, entry, seed) : undefined;
    const peers = compact ? [] : this.#pick(swarm, a, entry, seed);
    if (swarm.list.length === 0) this.#swarms.delete(ih); // only when the asker was not recorded
    const reply: RegistryReply = { interval: this.intervalS, complete: swarm.seeds, incomplete: swarm.list.length - swarm.seeds, peers };
    if (compact) reply.compact = compact;
    if (warning) reply.warning = warning;
    return reply;
  }

  /** Counts for one info-hash (zeros when unknown). Expired peers are not counted. */
  scrape(infoHash: Uint8Array): SwarmCounts {
    const ih = toHex(infoHash);
    const swarm = this.#swarms.get(ih);
    if (!swarm) return { complete: 0, incomplete: 0, downloaded: 0 };
    const now = this.#clock();
    if (now > swarm.nextExpiryMs) this.#expire(ih, swarm, now);
    return { ...this.#counts(swarm), downloaded: swarm.downloaded };
  }

  /** Drops every expired peer and empty swarm; the server calls this on a timer. */
  sweep(): void {
    const now = this.#clock();
    for (const [ih, swarm] of [...this.#swarms]) if (now > swarm.nextExpiryMs) this.#expire(ih, swarm, now);
  }

  /** Totals, for logs, tests and the benchmark. */
  stats(): { torrents: number; peers: number; seeds: number } {
    let peers = 0;
    let seeds = 0;
    for (const s of this.#swarms.values()) {
      peers += s.list.length;
      seeds += s.seeds;
    }
    return { torrents: this.#swarms.size, peers, seeds };
  }

  /** The recorded peers of one info-hash (a copy), for tests and diagnostics. */
  peersOf(infoHash: Uint8Array): TrackerPeer[] {
    const swarm = this.#swarms.get(toHex(infoHash));
    return swarm ? swarm.list.map((e) => ({ host: e.host, port: e.port, peerId: e.peerId.slice() })) : [];
  }

  /** Swarms `host` is recorded in (for tests and diagnostics). */
  torrentsOf(host: string): number {
    return this.#torrentsOfHost.get(host) ?? 0;
  }

  #addEntry(swarm: Swarm, e: PeerEntry): void {
    swarm.add(e);
    const n = swarm.hosts.get(e.host) ?? 0;
    swarm.hosts.set(e.host, n + 1);
    if (n === 0) this.#torrentsOfHost.set(e.host, (this.#torrentsOfHost.get(e.host) ?? 0) + 1);
  }

  #removeEntry(swarm: Swarm, key: string): void {
    const e = swarm.get(key);
    if (!e) return;
    swarm.remove(key);
    const n = (swarm.hosts.get(e.host) ?? 1) - 1;
    if (n > 0) {
      swarm.hosts.set(e.host, n);
      return;
    }
    swarm.hosts.delete(e.host);
    const t = (this.#torrentsOfHost.get(e.host) ?? 1) - 1;
    if (t > 0) this.#torrentsOfHost.set(e.host, t);
    else this.#torrentsOfHost.delete(e.host);
  }

  #dropSwarm(ih: string, swarm: Swarm): void {
    for (let i = swarm.list.length - 1; i >= 0; i--) this.#removeEntry(swarm, swarm.list[i]!.key);
    this.#swarms.delete(ih);
  }

  /**
   * The table is full: drop swarms idle past the expiry (the oldest come
   * first), else evict the least recently announced lonely swarm among the
   * oldest trackerEvictionScanSwarms (the work per new swarm stays bounded
   * when none qualifies); throws when there is none.
   */
  #makeRoom(now: number): void {
    const cutoff = now - this.expiryMs;
    for (const [ih, swarm] of this.#swarms) {
      if (swarm.lastAnnounceMs >= cutoff) break;
      this.#dropSwarm(ih, swarm);
    }
    if (this.#swarms.size < this.#maxTorrents) return;
    let scanned = 0;
    for (const [ih, swarm] of this.#swarms) {
      if (++scanned > DEFAULT_SETTINGS.trackerEvictionScanSwarms) break;
      if (!this.#lonely(swarm)) continue;
      this.#dropSwarm(ih, swarm);
      this.#onEvict?.(ih);
      return;
    }
    throw new TrackerError('tracker is full: too many torrents');
  }

  /** At most one ordinary address (recorded in few swarms) is in it: nobody there would lose a partner. */
  #lonely(swarm: Swarm): boolean {
    // Many addresses: a real swarm (and a bound on the work of this check).
    if (swarm.hosts.size > DEFAULT_SETTINGS.trackerLonelySwarmMaxHosts) return false;
    let light = 0;
    for (const host of swarm.hosts.keys()) {
      if ((this.#torrentsOfHost.get(host) ?? 0) <= this.#lightHost && ++light > 1) return false;
    }
    return true;
  }

  #counts(swarm: Swarm): { complete: number; incomplete: number } {
    return { complete: swarm.seeds, incomplete: swarm.list.length - swarm.seeds };
  }

  #expire(ih: string, swarm: Swarm, now: number): void {
    const cutoff = now - this.expiryMs;
    let oldest = Infinity;
    for (let i = swarm.list.length - 1; i >= 0; i--) {
      const e = swarm.list[i];
      if (!e) continue;
      if (e.lastSeenMs < cutoff) this.#removeEntry(swarm, e.key);
      else if (e.lastSeenMs < oldest) oldest = e.lastSeenMs;
    }
    swarm.nextExpiryMs = oldest + this.expiryMs;
    if (swarm.list.length === 0) this.#swarms.delete(ih);
  }

  /**
   * Up to numwant random peers, never the asker (its entry, when recorded, and by address in
   * case the asker re-announced under a new peer id). A seed asking gets no
   * seeds: it has nothing to gain from them.
   */
  #pick(swarm: Swarm, a: RegistryAnnounce, asker: PeerEntry | undefined, askerSeed: boolean): TrackerPeer[] {
    const want = this.#want(a);
    const out: TrackerPeer[] = [];
    if (want === 0) return out;
    const list = swarm.list;
    const n = list.length;
    if (n <= want * 2) {
      // Small swarm: a partial Fisher-Yates over the positions, stopping once `want` usable peers are drawn.
      if (this.#order.length < n) this.#order = new Int32Array(Math.max(n, 2 * this.#order.length));
      const order = this.#order;
      for (let i = 0; i < n; i++) order[i] = i;
      for (let k = 0; k < n && out.length < want; k++) {
        const j = k + this.#random(n - k);
        const pos = order[j]!;
        order[j] = order[k]!;
        order[k] = pos;
        const e = list[pos]!;
        if (e !== asker && !(e.host === a.host && e.port === a.port) && !(askerSeed && e.seed)) out.push(e.peer);
      }
      return out;
    }
    // Large swarm: sample random positions without replacement, bounded tries.
    const seen = new Set<number>();
    for (let tries = 0; out.length < want && tries < want * 4; tries++) {
      const i = this.#random(n);
      if (seen.has(i)) continue;
      seen.add(i);
      const e = list[i]!;
      if (e !== asker && !(e.host === a.host && e.port === a.port) && !(askerSeed && e.seed)) out.push(e.peer);
    }
    return out;
  }
  #want(a: RegistryAnnounce): number {
    return a.numwant === undefined || a.numwant < 0 ? this.#defaultNumwant : Math.min(a.numwant, this.#maxNumwant);
  }

  /**
   * #pick on the swarm's compact bytes, the same draws and the same rules,
   * writing the chosen peers' BEP 23 bytes into the scratch buffer; undefined
   * (use #pick) when the asker or any entry is not IPv4.
   */
  #pickCompact(swarm: Swarm, a: RegistryAnnounce, asker: PeerEntry | undefined, askerSeed: boolean): Uint8Array | undefined {
    if (swarm.notV4 > 0) return undefined;
    const ip = asker?.peer.compact ?? ipv4Bytes(a.host);
    if (!ip) return undefined;
    const want = this.#want(a);
    const out = this.#replyBytes;
    if (want === 0) return out.subarray(0, 0);
    const bytes = swarm.compact;
    const flags = swarm.flags;
    const n = swarm.list.length;
    const askerPos = asker ? swarm.index.get(asker.key)! : -1;
    const [i0, i1, i2, i3] = ip;
    const p0 = a.port >>> 8;
    const p1 = a.port & 0xff;
    let got = 0;
    const take = (pos: number): void => {
      const o = 6 * pos;
      if (pos === askerPos || (askerSeed && (flags[pos]! & FLAG_SEED) !== 0)) return;
      if (bytes[o] === i0 && bytes[o + 1] === i1 && bytes[o + 2] === i2 && bytes[o + 3] === i3 && bytes[o + 4] === p0 && bytes[o + 5] === p1) return;
      const d = 6 * got++;
      out[d] = bytes[o]!;
      out[d + 1] = bytes[o + 1]!;
      out[d + 2] = bytes[o + 2]!;
      out[d + 3] = bytes[o + 3]!;
      out[d + 4] = bytes[o + 4]!;
      out[d + 5] = bytes[o + 5]!;
    };
    if (n <= want * 2) {
      if (this.#order.length < n) this.#order = new Int32Array(Math.max(n, 2 * this.#order.length));
      const order = this.#order;
      for (let i = 0; i < n; i++) order[i] = i;
      for (let k = 0; k < n && got < want; k++) {
        const j = k + this.#random(n - k);
        const pos = order[j]!;
        order[j] = order[k]!;
        order[k] = pos;
        take(pos);
      }
    } else {
      const seen = new Set<number>();
      for (let tries = 0; got < want && tries < want * 4; tries++) {
        const i = this.#random(n);
        if (seen.has(i)) continue;
        seen.add(i);
        take(i);
      }
    }
    return out.subarray(0, 6 * got);
  }

}
