/**
 * Whom we upload to (BEP 3 tit-for-tat): the periodic round, whose choice
 * is the pure Choker's (picker/choker.ts), and upload slots filled the
 * moment they come free (a peer left or lost interest, e.g. it completed),
 * not at the next round up to chokeIntervalMs later: on a LAN swarm the
 * last leechers otherwise sat idle with one piece to go while the seeder's
 * upload was free.
 *
 * A slot that frees goes to the waiting peer furthest behind (fewest
 * pieces), and leeching, laggardUnchokeSlots of the round's regular slots
 * do too (picker/choker.ts says why).
 *
 * Seeding, each unchoke can be preceded by the seed's suggestions of distinct
 * pieces (seed-spreading.ts), and a choke gives them back.
 */
import type { Settings } from '../settings.js';
import { Choker } from '../picker/choker.js';
import type { PeerConnection } from '../peer/connection.js';
import { SeedSpreading, type SeedSpreadingOptions } from './seed-spreading.js';

export class Choking {
  readonly #choker: Choker;
  readonly #connections: () => Iterable<PeerConnection>;
  readonly #spread: SeedSpreading | undefined;

  constructor(opts: {
    settings: Pick<Settings, 'unchokeSlots' | 'optimisticUnchokeIntervalMs' | 'chokeIntervalMs'> & Partial<Pick<Settings, 'laggardUnchokeSlots'>>;
    connections: () => Iterable<PeerConnection>;
    /** Seed spreading (seed-spreading.ts); without it, unchokes carry no suggestions. */
    spread?: SeedSpreadingOptions;
  }) {
    const s = opts.settings;
    this.#choker = new Choker({
      slots: s.unchokeSlots,
      optimisticEveryRounds: Math.round(s.optimisticUnchokeIntervalMs / s.chokeIntervalMs),
      laggardSlots: s.laggardUnchokeSlots ?? 0,
    });
    this.#connections = opts.connections;
    this.#spread = opts.spread ? new SeedSpreading(opts.spread) : undefined;
  }

  /** Unchokes the peer, the seed's suggestions first. */
  #unchoke(conn: PeerConnection): void {
    if (conn.amChoking) this.#spread?.unchoking(conn);
    conn.unchoke();
  }

  #choke(conn: PeerConnection): void {
    if (!conn.amChoking) this.#spread?.choked(conn);
    conn.choke();
  }

  /** Routes a new connection's interest here. */
  attach(conn: PeerConnection): void {
    this.#spread?.attach(conn);
    conn.on('peer:interested', () => {
      if (this.#choker.tryUnchokeNow(conn.id)) this.#unchoke(conn);
    });
    conn.on('peer:not-interested', () => {
      this.#choker.remove(conn.id);
      this.#choke(conn);
      this.unchokeIntoFreeSlots();
    });
  }

  forget(connId: number): void {
    this.#choker.remove(connId);
    this.#spread?.forget(connId);
  }

  /** The periodic round: the choker picks whom to unchoke (`seeding`: by upload rate). */
  round(seeding: boolean): void {
    const cands = [...this.#connections()]
      .filter((c) => c.handshaken)
      .map((c) => ({
        id: c.id,
        interested: c.peerInterested,
        downloadRate: c.downloadRate.rate(),
        uploadRate: c.uploadRate.rate(),
        isSeed: c.bits.isComplete(),
        pieces: c.bits.count(),
      }));
    const unchoke = this.#choker.round(cands, seeding);
    for (const c of this.#connections()) {
      if (!c.handshaken) continue;
      if (unchoke.has(c.id)) this.#unchoke(c);
      else this.#choke(c);
    }
  }

  /** A slot may have come free: interested peers waiting get it now. */
  unchokeIntoFreeSlots(): void {
    const waiting = [...this.#connections()].filter((c) => c.handshaken && !c.closed && c.peerInterested && c.amChoking && !c.bits.isComplete());
    // The peer furthest behind first (it has the most left to get, and the least to trade for it); ties at random.
    const order = new Map(waiting.map((c) => [c.id, c.bits.count() + Math.random()]));
    waiting.sort((a, b) => order.get(a.id)! - order.get(b.id)!);
    for (const c of waiting) {
      if (!this.#choker.tryUnchokeNow(c.id)) return;
      this.#unchoke(c);
    }
  }
}
