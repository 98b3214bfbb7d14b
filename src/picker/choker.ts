/**
 * The choker (BEP 3 "tit-for-tat"): which interested peers we upload to.
 *
 * Every round (10 s) the `slots` interested peers that gave us the most
 * (leeching), or, seeding, those furthest behind (fewest pieces; by how
 * fast they take data from us when that is not known) are unchoked: a
 * seed that fed the fastest takers let them finish first and leave, and the
 * last leechers then had only the seed left (a LAN swarm's long tail); one more, rotated every
 * third round (30 s), is unchoked optimistically so newcomers with nothing
 * to trade get a start and we discover better partners.
 *
 * Leeching, the last `laggardSlots` regular slots go to the interested
 * peers furthest behind (fewest pieces) rather than to the next fastest:
 * a leecher that fell behind has less to give, so pure tit-for-tat choked
 * it everywhere and it fell further (LAN, 1 seed + 20 leechers exiting on
 * completion: in half the runs one leecher was still 20 MB short when the
 * others left, and spent the last 5 s alone with the seed).
 *
 * Pure: the caller supplies rates and calls `round()` on its timer.
 */

export interface ChokeCandidate {
  id: number;
  interested: boolean;
  /** Bytes/s we receive from this peer. */
  downloadRate: number;
  /** Bytes/s we send to this peer. */
  uploadRate: number;
  /** Peers that are seeds have no use for our data. */
  isSeed: boolean;
  /** Pieces the peer has: seeding, the ones with the fewest come first. */
  pieces?: number;
}

export interface ChokerOptions {
  slots: number;
  /** Rounds between optimistic unchoke rotations (30 s / 10 s = 3). */
  optimisticEveryRounds: number;
  /** Leeching: regular slots (of `slots`) given to the interested peers with the fewest pieces. Default 0. */
  laggardSlots?: number;
  random?: () => number;
}

export class Choker {
  readonly #slots: number;
  readonly #optimisticEvery: number;
  readonly #laggardSlots: number;
  readonly #random: () => number;
  #round = 0;
  #optimistic: number | undefined;
  #unchoked = new Set<number>();

  constructor(opts: ChokerOptions) {
    this.#slots = opts.slots;
    this.#optimisticEvery = Math.max(1, opts.optimisticEveryRounds);
    this.#laggardSlots = Math.max(0, Math.min(opts.slots, opts.laggardSlots ?? 0));
    this.#random = opts.random ?? Math.random;
  }

  get unchoked(): ReadonlySet<number> {
    return this.#unchoked;
  }

  /** Recomputes the unchoked set. `seeding`: we have everything. */
  round(peers: ChokeCandidate[], seeding: boolean): Set<number> {
    const interested = peers.filter((p) => p.interested && !p.isSeed);
    const rate = (p: ChokeCandidate): number => (seeding ? p.uploadRate : p.downloadRate);
    const behind = (a: ChokeCandidate, b: ChokeCandidate): number => (seeding && a.pieces !== undefined && b.pieces !== undefined ? a.pieces - b.pieces : 0);
    // Ties broken at random so equal peers take turns.
    const jitter = new Map(interested.map((p) => [p.id, this.#random()]));
    const ranked = [...interested].sort((a, b) => behind(a, b) || rate(b) - rate(a) || jitter.get(a.id)! - jitter.get(b.id)!);
    const laggards = seeding ? 0 : this.#laggardSlots;
    const next = new Set(ranked.slice(0, this.#slots - laggards).map((p) => p.id));
    if (laggards > 0) {
      const fewest = (a: ChokeCandidate, b: ChokeCandidate): number => (a.pieces ?? 0) - (b.pieces ?? 0) || jitter.get(a.id)! - jitter.get(b.id)!;
      for (const p of ranked.filter((q) => !next.has(q.id)).sort(fewest).slice(0, laggards)) next.add(p.id);
    }

    const rest = interested.filter((p) => !next.has(p.id));
    const rotate = this.#round % this.#optimisticEvery === 0 || this.#optimistic === undefined || !rest.some((p) => p.id === this.#optimistic);
    if (rotate) this.#optimistic = rest.length ? rest[Math.floor(this.#random() * rest.length)]!.id : undefined;
    if (this.#optimistic !== undefined) next.add(this.#optimistic);
    this.#round++;
    this.#unchoked = next;
    return next;
  }

  /**
   * A peer became interested between rounds: unchoke it now if a slot is
   * free, so a new leecher does not wait up to 10 s for its first byte.
   */
  tryUnchokeNow(id: number): boolean {
    if (this.#unchoked.has(id)) return true;
    if (this.#unchoked.size >= this.#slots + 1) return false;
    this.#unchoked.add(id);
    return true;
  }

  /** A peer left or lost interest. */
  remove(id: number): void {
    this.#unchoked.delete(id);
    if (this.#optimistic === id) this.#optimistic = undefined;
  }
}
