/**
 * The live peer connections of one torrent and the slots they hold: dialing
 * the peers the peer list picks, admitting incoming ones (bans, the
 * per-address limit, a full torrent making room by evicting an idle peer),
 * and closing peers idle either way for inactivityTimeoutMs. What a
 * connection says is the torrent's to route (`onAttach`).
 */
import type net from 'node:net';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { Settings } from '../settings.js';
import { PeerConnection } from '../peer/connection.js';
import { dialTcp, tcpTransport, type PeerTransport } from '../peer/transport.js';
import type { Handshake } from '../wire/handshake.js';
import type { TorrentShape } from '../wire/validate.js';
import { isLoopbackHost, plainHost } from '../util/address.js';
import { systemClock, type Clock } from '../util/clock.js';
import { WarnLimiter } from '../util/warn-limiter.js';
import { PeerList, type KnownPeer } from './peer-list.js';

let nextConnectionId = 1;

export interface ConnectionsOptions {
  /** Given to each PeerConnection; the slot limits are read here too. */
  settings: Settings;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  shape: TorrentShape;
  logger: Logger;
  /** We run a DHT node: set the DHT bit in our handshake (BEP 5). */
  dht: boolean;
  /** Our listen port (peer-list.ts: an address that is ourselves is never dialled). */
  listenPort: number;
  /** Address outgoing connections are made from (`--host`), unless 0.0.0.0. */
  localAddress?: string;
  banned: (host: string) => boolean;
  /** Known peers not to dial now (a seed we left because we are a seed too). */
  skipDial?: (key: string) => boolean;
  /** Whether the session's global connection limit allows one more. */
  canConnect?: () => boolean;
  /** No connections now (the torrent is stopped or paused). */
  refusing: () => boolean;
  clock?: Clock;
  /** A new connection, before it starts: route its events. */
  onAttach: (conn: PeerConnection) => void;
}

export class Connections {
  /** The peers we know of and may dial. */
  readonly peers: PeerList;
  readonly #o: ConnectionsOptions;
  readonly #now: Clock;
  readonly #conns = new Map<number, PeerConnection>();
  /** A warning logged at most once a minute per key (a flood of refusals must not flood the log). */
  readonly #warnings: WarnLimiter;

  constructor(opts: ConnectionsOptions) {
    this.#o = opts;
    this.#now = opts.clock ?? systemClock;
    const local = opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {};
    this.peers = new PeerList({ settings: opts.settings, clock: this.#now, listenPort: opts.listenPort, ...local });
    this.#warnings = new WarnLimiter((text) => opts.logger.warn(text));
  }

  get size(): number {
    return this.#conns.size;
  }

  values(): IterableIterator<PeerConnection> {
    return this.#conns.values();
  }

  get(id: number): PeerConnection | undefined {
    return this.#conns.get(id);
  }

  /** A connection closed: false if it was gone already. */
  delete(id: number): boolean {
    return this.#conns.delete(id);
  }

  handshaken(): PeerConnection[] {
    return [...this.#conns.values()].filter((c) => c.handshaken);
  }

  closeAll(reason: string): void {
    for (const c of [...this.#conns.values()]) c.close(reason);
  }

  /** Another connection has this peer id already. */
  isDuplicate(conn: PeerConnection, peerId: Uint8Array): boolean {
    for (const other of this.#conns.values()) {
      if (other !== conn && other.remote && Buffer.compare(other.remote.peerId, peerId) === 0) return true;
    }
    return false;
  }

  /** Dials known peers into the free slots. */
  connectMore(): void {
    if (this.#o.refusing()) return;
    const slots = this.#o.settings.maxPeersPerTorrent - this.#conns.size;
    const dial = this.peers.toDial(slots, this.#conns.values(), { banned: this.#o.banned, canConnect: this.#o.canConnect ?? (() => true), ...(this.#o.skipDial ? { skip: this.#o.skipDial } : {}) });
    for (const p of dial) this.#connect(p);
  }

  #connect(p: KnownPeer): void {
    const o = this.#o;
    const list = this.peers;
    const uncount = list.dialing(p);
    const local = o.localAddress;
    dialTcp({ host: p.host, port: p.port, ...(local ? { localAddress: local } : {}), timeoutMs: o.settings.connectTimeoutMs }).then(
      (transport) => {
        list.dialConnected(p);
        uncount();
        if (o.refusing() || this.#conns.size >= o.settings.maxPeersPerTorrent || o.canConnect?.() === false) return void transport.destroy();
        const conn = this.#attach(transport, true);
        list.attached(p, conn.id);
        conn.on('peer:close', () => list.closed(p));
        conn.on('peer:handshake', () => list.handshaken(p));
      },
      (err: unknown) => {
        uncount();
        if (list.dialFailed(p)) o.logger.debug(`connect to ${p.key} failed: ${errorMessage(err)}`);
      },
    );
  }

  /** An incoming connection whose handshake the listener read and routed here. */
  accept(socket: net.Socket, handshake: Handshake, rest: Uint8Array): void {
    const host = plainHost(socket.remoteAddress ?? '');
    if (this.#o.refusing() || this.#o.banned(host)) {
      socket.destroy();
      return;
    }
    const list = this.peers;
    const limit = list.addressLimit(host);
    if (list.connectionsWith(host, this.#conns.values()) >= limit) {
      const crossing = this.#crossing(host, handshake.peerId);
      if (crossing === 'ours') {
        this.#o.logger.debug(`${host} dialled us while we dialled it: our connection stands (the lower peer id's)`);
        socket.destroy();
        return;
      }
      if (crossing === 'none') {
        const key = isLoopbackHost(host) ? 'maxConnectionsPerLoopbackAddress' : 'maxConnectionsPerAddress';
        this.#warnings.warn(`address ${host}`, `refusing more connections from ${host}: it already has ${limit} with this torrent (${key})`);
        socket.destroy();
        return;
      }
      // 'theirs': this one stands, and the remote refuses our dialling.
    }
    if (this.#conns.size >= this.#o.settings.maxPeersPerTorrent && !this.#evictForNewcomer(`${host}:${socket.remotePort ?? 0}`)) {
      this.#o.logger.debug(`refused ${host}: torrent full (${this.#conns.size} peers, none idle)`);
      socket.destroy();
      return;
    }
    this.#attach(tcpTransport(socket), false, handshake, rest);
  }

  /**
   * A crossing: we are dialling `host` while it dials us. Each side would
   * refuse the other's connection as a second one from one address, neither
   * would stand, and both would wait reconnectAfterCloseMs before crossing
   * again. Both sides decide alike: the connection opened by the lower peer
   * id stands ('theirs': this incoming one; 'ours': our dialling, which the
   * remote takes by the same rule). 'none' when what we have with `host` is
   * more than our own dialling, not answered yet.
   */
  #crossing(host: string, theirPeerId: Uint8Array): 'theirs' | 'ours' | 'none' {
    for (const c of this.#conns.values()) if (c.remoteHost === host && (!c.outgoing || c.handshaken)) return 'none';
    const order = Buffer.compare(theirPeerId, this.#o.peerId);
    return order < 0 ? 'theirs' : order > 0 ? 'ours' : 'none';
  }

  /** Closes the least useful peer to make room for a newcomer; false when every peer is worth its slot. */
  #evictForNewcomer(newcomer: string): boolean {
    const list = this.peers;
    const victim = list.evictionVictim(this.#conns.values());
    if (!victim) return false;
    const idleS = Math.round(list.uselessFor(victim) / 1000);
    this.#warnings.warn('evict', `torrent full (${this.#conns.size} peers): closing idle ${victim.address} (no data for ${idleS} s) for ${newcomer}`);
    victim.close('evicted: idle while the torrent was full');
    return true;
  }

  /** Peers with no interest either way and no payload for inactivityTimeoutMs are closed: keep-alives alone keep no one. */
  closeInactive(): void {
    const now = this.#now();
    const limit = this.#o.settings.inactivityTimeoutMs;
    for (const c of [...this.#conns.values()]) {
      if (!c.handshaken || c.amInterested || c.peerInterested) continue;
      if (now - Math.max(c.connectedAt, c.lastPayloadAt) >= limit) c.close(`inactive: no interest either way and no data for ${Math.round(limit / 1000)} s`);
    }
  }

  #attach(transport: PeerTransport, outgoing: boolean, handshake?: Handshake, rest?: Uint8Array): PeerConnection {
    const o = this.#o;
    const conn = new PeerConnection({
      id: nextConnectionId++,
      transport,
      outgoing,
      infoHash: o.infoHash,
      peerId: o.peerId,
      shape: o.shape,
      settings: o.settings,
      logger: o.logger,
      extensionProtocol: true,
      dht: o.dht,
      ...(handshake ? { remoteHandshake: handshake } : {}),
      ...(rest ? { initialBytes: rest } : {}),
      // One clock for the connection's timestamps and the slot policies that compare them.
      clock: this.#now,
    });
    this.#conns.set(conn.id, conn);
    o.onAttach(conn);
    conn.start();
    return conn;
  }
}
