/**
 * What we tell peers about our swarm through PEX (BEP 11; the messages
 * themselves are extensions.ts's): the peers we are connected to, and the
 * seeds we left because we are a seed too. Those are still live peers of
 * the swarm, so newcomers keep hearing of them for droppedSeedPexMs
 * (at most maxDroppedSeeds of them).
 */
import type { Settings } from '../settings.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import type { PeerConnection } from '../peer/connection.js';
import { systemClock, type Clock } from '../util/clock.js';

/** The swarm as PEX describes it, keyed by connection id (negative ids: peers we are no longer connected to). */
export type PexSwarm = Map<number, { addr: PeerAddress; seed: boolean; outgoing: boolean }>;

export class PexSwarmView {
  readonly #settings: Pick<Settings, 'maxDroppedSeeds' | 'droppedSeedPexMs'>;
  readonly #now: Clock;
  readonly #listenAddressOf: (conn: PeerConnection) => PeerAddress | undefined;
  readonly #seedsDropped = new Map<string, { addr: PeerAddress; at: number }>();

  constructor(opts: {
    settings: Pick<Settings, 'maxDroppedSeeds' | 'droppedSeedPexMs'>;
    clock?: Clock;
    /** Where a connected peer accepts connections (extensions.ts), if known. */
    listenAddressOf: (conn: PeerConnection) => PeerAddress | undefined;
  }) {
    this.#settings = opts.settings;
    this.#now = opts.clock ?? systemClock;
    this.#listenAddressOf = opts.listenAddressOf;
  }

  /** We are closing our connection to this seed because we are a seed too. */
  seedDropped(conn: PeerConnection): void {
    const addr = this.#listenAddressOf(conn);
    if (!addr) return;
    this.#seedsDropped.set(`${addr.host}:${addr.port}`, { addr, at: this.#now() });
    if (this.#seedsDropped.size > this.#settings.maxDroppedSeeds) this.#seedsDropped.delete(this.#seedsDropped.keys().next().value!);
  }

  /** Our connected peers with known listen addresses, and the seeds dropped recently. */
  swarm(conns: Iterable<PeerConnection>): PexSwarm {
    const swarm: PexSwarm = new Map();
    for (const c of conns) {
      if (!c.handshaken) continue;
      const addr = this.#listenAddressOf(c);
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
