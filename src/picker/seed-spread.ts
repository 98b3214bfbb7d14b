/**
 * Seed spreading (issue 13): which pieces a seed suggests (BEP 6
 * `suggest_piece`) to the leechers it unchokes, so that its upload goes out
 * as distinct pieces, each once, before any piece goes out twice.
 *
 * A seed's upload is the swarm's floor: until every piece has left it once,
 * a block it sends twice is a block the whole swarm waits for. Leechers pick
 * rarest first from their own view, but they cannot see what the other
 * leechers have just asked of the seed, so with five leechers unchoked and
 * a second of requests queued at the seed, the same seed-only piece was
 * asked for by two of them more and more often as the pieces only the seed
 * had ran out (LAN, 1 seed + 20 leechers: the seed sent 1.6 copies).
 *
 * The seed sees every request, so it hands out the pieces itself, as
 * BEP 16 super-seeding does, but without hiding its bitfield (a peer that
 * ignores suggestions still downloads at full speed): each unchoked
 * leecher is suggested a few pieces no other peer was given or has, the
 * least spread first (the most of: peers that have it, peers the seed has
 * served it to), and one more each time it asks for one of them. A piece
 * suggested to one peer is not suggested to another until that peer asked
 * for it, was choked, left, or let `assignMs` pass without asking.
 *
 * Pure: peers are numbers chosen by the caller, availability (connected
 * peers that have each piece) comes from the caller, time is passed in.
 */
import type { Bitfield } from '../util/bitfield.js';

export interface SeedSpreadOptions {
  pieceCount: number;
  /** Connected peers that have the piece (the torrent's picker keeps this count). */
  availability: (index: number) => number;
  /** A suggestion not asked for within this long goes back to the pool. */
  assignMs: number;
  /** Returns a float in [0, 1). Defaults to Math.random. */
  random?: () => number;
}

const NONE = -1;

export class SeedSpread {
  readonly pieceCount: number;
  readonly #availability: (index: number) => number;
  readonly #assignMs: number;
  readonly #random: () => number;
  /** Peers the seed began to serve each piece to. */
  readonly #served: Uint16Array;
  /** The peer a piece is suggested to and not yet asked for, or NONE. */
  readonly #owner: Int32Array;
  /** When it was suggested. */
  readonly #since: Float64Array;
  /** Per peer: pieces suggested to it and not yet asked for; and pieces it asked for (each counted once). */
  readonly #peers = new Map<number, { assigned: Set<number>; asked: Set<number> }>();
  #servedOnce = 0;
  #repeats = 0;

  constructor(opts: SeedSpreadOptions) {
    if (!Number.isInteger(opts.pieceCount) || opts.pieceCount <= 0) throw new RangeError(`pieceCount must be a positive integer, got ${opts.pieceCount}`);
    this.pieceCount = opts.pieceCount;
    this.#availability = opts.availability;
    this.#assignMs = opts.assignMs;
    this.#random = opts.random ?? Math.random;
    this.#served = new Uint16Array(opts.pieceCount);
    this.#owner = new Int32Array(opts.pieceCount).fill(NONE);
    this.#since = new Float64Array(opts.pieceCount);
  }

  /** Pieces the seed has begun to serve to at least one peer. */
  get servedOnce(): number {
    return this.#servedOnce;
  }

  /** Pieces asked for by one more peer before every piece had been served once: the seed's upload that went out twice too early. */
  get earlyRepeats(): number {
    return this.#repeats;
  }

  /** Peers the seed began to serve the piece to. */
  served(index: number): number {
    return this.#served[index]!;
  }

  /** Pieces suggested to `peer` and not yet asked for. */
  assigned(peer: number): ReadonlySet<number> {
    return this.#peers.get(peer)?.assigned ?? new Set();
  }

  #peer(peer: number): { assigned: Set<number>; asked: Set<number> } {
    let p = this.#peers.get(peer);
    if (!p) this.#peers.set(peer, (p = { assigned: new Set(), asked: new Set() }));
    return p;
  }

  /** `peer` asked for a block of the piece. Returns true the first time this peer asks for it. */
  requested(peer: number, index: number): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) return false;
    const p = this.#peer(peer);
    if (p.asked.has(index)) return false;
    p.asked.add(index);
    if (this.#served[index] === 0) this.#servedOnce++;
    else if (this.#servedOnce < this.pieceCount) this.#repeats++;
    if (this.#served[index]! < 0xffff) this.#served[index]!++;
    const owner = this.#owner[index]!;
    if (owner !== NONE) {
      this.#owner[index] = NONE;
      this.#peers.get(owner)?.assigned.delete(index);
    }
    return true;
  }

  /**
   * Tops the peer's suggestions up to `target` pieces it lacks (`peerBits`)
   * and nobody else holds a suggestion for; returns the new ones, to send.
   */
  suggest(peer: number, peerBits: Bitfield, target: number, now: number): number[] {
    const p = this.#peer(peer);
    for (const i of p.assigned) if (peerBits.get(i)) this.#unassign(i);
    const need = target - p.assigned.size;
    if (need <= 0) return [];
    const picked = this.#leastSpread(peerBits, need, now);
    for (const i of picked) {
      this.#owner[i] = peer;
      this.#since[i] = now;
      p.assigned.add(i);
    }
    return picked;
  }

  /** The peer was choked (or lost interest): its suggestions go back to the pool. */
  release(peer: number): void {
    const p = this.#peers.get(peer);
    if (!p) return;
    for (const i of [...p.assigned]) this.#unassign(i);
  }

  /** The peer left. */
  peerGone(peer: number): void {
    this.release(peer);
    this.#peers.delete(peer);
  }

  #unassign(index: number): void {
    const owner = this.#owner[index]!;
    if (owner === NONE) return;
    this.#owner[index] = NONE;
    this.#peers.get(owner)?.assigned.delete(index);
  }

  /**
   * Up to `need` pieces the peer lacks, free to suggest (no owner, or an
   * owner that let `assignMs` pass), least spread first, random among equals.
   * Linear in the piece count: it runs once per piece a peer asks for.
   */
  #leastSpread(peerBits: Bitfield, need: number, now: number): number[] {
    const byLevel = new Map<number, number[]>();
    for (let i = 0; i < this.pieceCount; i++) {
      if (peerBits.get(i)) continue;
      const owner = this.#owner[i]!;
      if (owner !== NONE) {
        if (now - this.#since[i]! < this.#assignMs) continue;
        this.#unassign(i);
      }
      const level = Math.max(this.#availability(i), this.#served[i]!);
      let bucket = byLevel.get(level);
      if (!bucket) byLevel.set(level, (bucket = []));
      bucket.push(i);
    }
    const out: number[] = [];
    for (const level of [...byLevel.keys()].sort((a, b) => a - b)) {
      const bucket = byLevel.get(level)!;
      // Partial Fisher-Yates: random picks within the level, only as many as needed.
      const take = Math.min(bucket.length, need - out.length);
      for (let k = 0; k < take; k++) {
        const j = k + Math.floor(this.#random() * (bucket.length - k));
        const t = bucket[k]!;
        bucket[k] = bucket[j]!;
        bucket[j] = t;
        out.push(bucket[k]!);
      }
      if (out.length >= need) break;
    }
    return out;
  }
}
