/**
 * What we tell peers about our swarm through PEX (BEP 11; the messages
 * themselves, rate-limited per peer, are extensions.ts's): the peers we
 * are connected to, and the seeds we left because we are a seed too.
 * Those are still live peers of the swarm, so newcomers keep hearing of
 * them for droppedSeedPexMs (at most maxDroppedSeeds of them).
 */
import type { Settings } from '../settings.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import type { PeerConnection } from '../peer/connection.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { ExtensionHub } from './extensions.js';

/** The swarm as PEX describes it, keyed by connection id (negative ids: peers we are no longer connected to). */
export type PexSwarm = Map<number, { addr: PeerAddress; seed: boolean; outgoing: boolean }>;

export class PexSwarmView {
  readonly #settings: Pick<Settings, 'maxDroppedSeeds' | 'droppedSeedPexMs'>;
  readonly #now: Clock;
  readonly #extensions: Pick<ExtensionHub, 'listenAddressOf' | 'sendPex'>;
  readonly #connections: () => Iterable<PeerConnection>;
  readonly #seedsDropped = new Map<string, { addr: PeerAddress; at: number }>();

  constructor(opts: {
    settings: Pick<Settings, 'maxDroppedSeeds' | 'droppedSeedPexMs'>;
    clock?: Clock;
    extensions: Pick<ExtensionHub, 'listenAddressOf' | 'sendPex'>;
    connections: () => Iterable<PeerConnection>;
  }) {
    this.#settings = opts.settings;
    this.#now = opts.clock ?? systemClock;
    this.#extensions = opts.extensions;
    this.#connections = opts.connections;
  }

  /** Sends each PEX-capable peer the swarm's changes since we last told it (when its interval allows). */
  send(): void {
    this.#extensions.sendPex(this.#connections(), this.swarm());
  }

  /** When we are a seed (`seeding`) and so is this peer, there is nothing to trade: it is closed but kept in PEX. */
  dropIfBothSeeds(conn: PeerConnection, seeding: boolean): void {
    if (!seeding || !conn.bits.isComplete()) return;
    const addr = this.#extensions.listenAddressOf(conn);
    if (addr) {
      this.#seedsDropped.set(`${addr.host}:${addr.port}`, { addr, at: this.#now() });
      if (this.#seedsDropped.size > this.#settings.maxDroppedSeeds) this.#seedsDropped.delete(this.#seedsDropped.keys().next().value!);
    }
    conn.close('both sides are seeds');
  }

  /** True while the peer at `key` (its listen address, `host:port`) is a seed we left because we are one too (droppedSeedPexMs). */
  isDroppedSeed(key: string): boolean {
    const d = this.#seedsDropped.get(key);
    return d !== undefined && this.#now() - d.at <= this.#settings.droppedSeedPexMs;
  }

  /** Our connected peers with known listen addresses, and the seeds dropped recently. */
  swarm(): PexSwarm {
    const swarm: PexSwarm = new Map();
    for (const c of this.#connections()) {
      if (!c.handshaken) continue;
      const addr = this.#extensions.listenAddressOf(c);
      if (addr) swarm.set(c.id, { addr, seed: c.bits.isComplete(), outgoing: c.outgoing });
    }
    let fakeId = -1;
    const now = this.#now();
    for (const [k, d] of this.#seedsDropped) {
      if (now - d.at > this.#settings.droppedSeedPexMs) this.#seedsDropped.delete(k);
      else swarm.set(fakeId--, { addr: d.addr, seed: true, outgoing: true });
    }
    return swarm;
  }
}
