/**
 * The peers a torrent knows of and which of them to dial: learned addresses
 * (trackers, DHT, PEX, LSD) and pinned ones (`--peer`), connection attempts
 * with exponential backoff, the per-address connection limit, and the
 * choice of which connected peer gives up its slot when the torrent is full.
 *
 * No sockets here: the torrent dials what `toDial()` returns and reports
 * the outcome; time comes from an injected clock.
 */
import { isIPv4, isIPv6 } from '../wire/compact.js';
import type { Settings } from '../settings.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { isLoopbackHost, plainHost } from '../util/address.js';
import { systemClock, type Clock } from '../util/clock.js';

export type PeerListSettings = Pick<
  Settings,
  | 'maxKnownPeers'
  | 'connectRetryInitialMs'
  | 'connectRetryMaxMs'
  | 'maxConnectFailures'
  | 'reconnectAfterCloseMs'
  | 'pinnedReconnectAfterCloseMs'
  | 'maxConnectionsPerAddress'
  | 'maxConnectionsPerLoopbackAddress'
  | 'evictionGraceMs'
>;

export interface KnownPeer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, the key of the list. */
  readonly key: string;
  connecting: boolean;
  connectionId?: number;
  /** Failed attempts in a row. */
  failures: number;
  nextTryAt: number;
  /** Given by the user: retried forever (with backoff). */
  pinned: boolean;
}

/** What the list needs to know of a connection (PeerConnection has it). */
export interface ConnectedPeer {
  readonly remoteHost: string;
  readonly handshaken: boolean;
  readonly connectedAt: number;
  readonly lastPayloadAt: number;
  readonly peerInterested: boolean;
  readonly amChoking: boolean;
  readonly amInterested: boolean;
}

export interface PeerListOptions {
  settings: PeerListSettings;
  clock?: Clock;
  /** Our listen port and outgoing address: an address that is ourselves is never added. */
  listenPort: number;
  localAddress?: string;
}

export class PeerList {
  readonly #settings: PeerListSettings;
  readonly #now: Clock;
  readonly #opts: PeerListOptions;
  readonly #known = new Map<string, KnownPeer>();
  /** Connection attempts under way, per host (with the connections: the per-address limit). */
  readonly #connectingTo = new Map<string, number>();

  constructor(opts: PeerListOptions) {
    this.#opts = opts;
    this.#settings = opts.settings;
    this.#now = opts.clock ?? systemClock;
  }

  get size(): number {
    return this.#known.size;
  }

  get(key: string): KnownPeer | undefined {
    return this.#known.get(key);
  }

  /** Learns of peers (up to maxKnownPeers); `pinned` ones are retried forever, and a known peer given again becomes pinned. */
  add(peers: Iterable<PeerAddress>, opts: { pinned?: boolean } = {}): void {
    for (const given of peers) {
      const p = { host: plainHost(given.host), port: given.port };
      if (!Number.isInteger(p.port) || p.port <= 0 || p.port > 65535) continue;
      const key = `${p.host}:${p.port}`;
      if (this.#isSelf(p) || this.#otherFamily(p.host)) continue;
      const known = this.#known.get(key);
      if (known) {
        if (opts.pinned) known.pinned = true;
        continue;
      }
      if (this.#known.size >= this.#settings.maxKnownPeers) continue;
      this.#known.set(key, { host: p.host, port: p.port, key, connecting: false, failures: 0, nextTryAt: 0, pinned: opts.pinned ?? false });
    }
  }

  /** A peer of the other address family than a --host address cannot be dialled from it (an IPv6 peer from 10.77.0.3). */
  #otherFamily(host: string): boolean {
    const local = this.#opts.localAddress;
    if (local === undefined) return false;
    const family = (h: string): number => (isIPv4(h) ? 4 : isIPv6(h) ? 6 : 0);
    const ours = family(local);
    const theirs = family(host);
    return ours !== 0 && theirs !== 0 && ours !== theirs;
  }

  #isSelf(p: PeerAddress): boolean {
    const local = this.#opts.localAddress;
    return p.port === this.#opts.listenPort && (p.host === local || (local === undefined && (p.host === '127.0.0.1' || p.host === '::1' || p.host === 'localhost')));
  }

  /** Every peer may be dialled at once again (a resume asked for by the user). */
  resetBackoff(): void {
    for (const p of this.#known.values()) p.nextTryAt = 0;
  }

  /**
   * Peers to dial now, at most `slots`, in the order learned: not connected
   * or being dialled, past their backoff, not banned, and within the
   * per-address limit counting `conns` and attempts under way. `canConnect`
   * is asked before each (the session's global limit).
   */
  toDial(slots: number, conns: Iterable<{ remoteHost: string }>, opts: { banned: (host: string) => boolean; canConnect: () => boolean; skip?: (key: string) => boolean }): KnownPeer[] {
    const out: KnownPeer[] = [];
    if (slots <= 0) return out;
    const now = this.#now();
    const perHost = new Map<string, number>();
    for (const c of conns) perHost.set(c.remoteHost, (perHost.get(c.remoteHost) ?? 0) + 1);
    for (const [h, n] of this.#connectingTo) perHost.set(h, (perHost.get(h) ?? 0) + n);
    for (const p of this.#known.values()) {
      if (out.length >= slots || !opts.canConnect()) break;
      if (p.connecting || p.connectionId !== undefined || p.nextTryAt > now || opts.banned(p.host) || opts.skip?.(p.key)) continue;
      const n = perHost.get(p.host) ?? 0;
      if (n >= this.addressLimit(p.host)) continue;
      perHost.set(p.host, n + 1);
      out.push(p);
    }
    return out;
  }

  /** A connection attempt to `p` begins; the returned function ends it (once) as far as the per-address count goes. */
  dialing(p: KnownPeer): () => void {
    p.connecting = true;
    this.#connectingTo.set(p.host, (this.#connectingTo.get(p.host) ?? 0) + 1);
    let counted = true;
    return () => {
      if (!counted) return;
      counted = false;
      const n = (this.#connectingTo.get(p.host) ?? 1) - 1;
      if (n > 0) this.#connectingTo.set(p.host, n);
      else this.#connectingTo.delete(p.host);
    };
  }

  /** The attempt failed: backoff doubles; a learned peer failing maxConnectFailures times in a row is forgotten. False if it was no longer under way. */
  dialFailed(p: KnownPeer): boolean {
    if (!p.connecting) return false;
    const s = this.#settings;
    p.connecting = false;
    p.failures++;
    p.nextTryAt = this.#now() + Math.min(s.connectRetryMaxMs, s.connectRetryInitialMs * 2 ** Math.min(p.failures, 30));
    if (!p.pinned && p.failures >= s.maxConnectFailures) this.#known.delete(p.key);
    return true;
  }

  /** The TCP connection is up (the handshake may still fail). */
  dialConnected(p: KnownPeer): void {
    p.connecting = false;
  }

  /** The connection to `p` became connection `id`. */
  attached(p: KnownPeer, id: number): void {
    p.connectionId = id;
  }

  /** The peer answered our handshake: its failures are forgiven. */
  handshaken(p: KnownPeer): void {
    p.failures = 0;
  }

  /** Its connection closed: dialled again after reconnectAfterCloseMs (pinned: pinnedReconnectAfterCloseMs). */
  closed(p: KnownPeer): void {
    p.connectionId = undefined;
    p.nextTryAt = this.#now() + (p.pinned ? this.#settings.pinnedReconnectAfterCloseMs : this.#settings.reconnectAfterCloseMs);
  }

  /** Connections (and attempts) this torrent may have with one remote address. */
  addressLimit(host: string): number {
    return isLoopbackHost(host) ? this.#settings.maxConnectionsPerLoopbackAddress : this.#settings.maxConnectionsPerAddress;
  }

  /** Connections and attempts under way with `host`. */
  connectionsWith(host: string, conns: Iterable<{ remoteHost: string }>): number {
    let n = this.#connectingTo.get(host) ?? 0;
    for (const c of conns) if (c.remoteHost === host) n++;
    return n;
  }

  /**
   * How long a peer has held a slot for nothing: connected and without
   * payload either way, and not waiting for our data (not interested, or
   * unchoked and taking nothing). Keep-alives do not count.
   */
  uselessFor(conn: ConnectedPeer, now = this.#now()): number {
    if (!conn.handshaken) return now - conn.connectedAt;
    if (conn.peerInterested && conn.amChoking) return 0;
    return now - Math.max(conn.connectedAt, conn.lastPayloadAt);
  }

  /**
   * The least useful peer, to close for a newcomer when the torrent is full:
   * connected and useless for evictionGraceMs at least, one we want nothing
   * from first, then the longest useless. Undefined when every peer is worth
   * its slot.
   */
  evictionVictim<C extends ConnectedPeer>(conns: Iterable<C>): C | undefined {
    const now = this.#now();
    const grace = this.#settings.evictionGraceMs;
    let victim: C | undefined;
    let worst = 0;
    for (const c of conns) {
      const idle = this.uselessFor(c, now);
      if (now - c.connectedAt < grace || idle < grace) continue;
      const score = idle + (c.amInterested ? 0 : 1e12);
      if (score > worst) {
        worst = score;
        victim = c;
      }
    }
    return victim;
  }
}
