/**
 * The piece picker: which blocks to ask of which peer (BEP 3 leaves the
 * policy to clients; this is the common one).
 *
 * - Started pieces are finished first, so few pieces sit half-done and
 *   verified data reaches the disk early (it also shortens the resume gap).
 * - New pieces are chosen rarest first, ties broken at random, so that the
 *   swarm's rarest data spreads before its holders leave.
 * - Priorities (issue 14): each piece has one, 0 (not wanted: never
 *   asked for), 1 normal, 2 high (a file the user put first); from 3
 *   (a sequential read-ahead window) up, pieces are taken in index order
 *   rather than rarest first, so a player reading the file gets its next
 *   bytes first. A higher level is always served before a lower one.
 * - Endgame: once every missing block has been requested, a peer whose
 *   queue is nearly empty may ask for blocks already requested of one other
 *   peer; the first copy wins and the other is cancelled. This removes the
 *   long tail where one slow peer holds the last blocks, without every peer
 *   sending every last block.
 *
 * Pure: imports nothing but Bitfield and the BlockRequest type; peers are plain numbers chosen by the
 * caller; randomness is injectable for tests.
 */
import { Bitfield } from '../util/bitfield.js';
import type { BlockRequest } from '../wire/messages.js';

/** Kept here too for the code above the picker; below it, import it from wire/. */
export type { BlockRequest };

export interface PickerOptions {
  pieceCount: number;
  pieceLength: number;
  totalLength: number;
  blockBytes: number;
  /** Pieces already verified. */
  have: Bitfield;
  /** Returns a float in [0, 1). Defaults to Math.random. */
  random?: () => number;
}

/** What the caller learns when a block arrives. */
export interface BlockReceipt {
  /** False when nobody asked for this block or it already arrived (duplicate in endgame). */
  accepted: boolean;
  /** All blocks of the piece are in: hash it. */
  pieceComplete: boolean;
  /** Other peers that were asked for the same block (endgame): send them a cancel. */
  cancelAt: number[];
}

const NONE = -1;

/** Piece priority levels (see the header). */
export const PRIORITY = { skip: 0, normal: 1, high: 2, window: 3, urgent: 4 } as const;
const LEVELS = 5;
/** From this level up, pieces are picked in index order. */
const ORDERED = PRIORITY.window;
/** Endgame: besides the block's first requester, how many more peers it may be asked of. */
const MAX_EXTRA_REQUESTERS = 1;

/** Request state of one piece being downloaded. */
class Download {
  readonly blockCount: number;
  /** Peer the block was first requested of, or NONE. */
  readonly owner: Int32Array;
  /** Extra requesters per block in endgame. */
  readonly extra = new Map<number, Set<number>>();
  readonly received: Uint8Array;
  receivedCount = 0;
  requestedCount = 0;

  constructor(
    readonly index: number,
    readonly length: number,
    readonly blockBytes: number,
  ) {
    this.blockCount = Math.ceil(length / blockBytes);
    this.owner = new Int32Array(this.blockCount).fill(NONE);
    this.received = new Uint8Array(this.blockCount);
  }

  blockLength(block: number): number {
    return block === this.blockCount - 1 ? this.length - block * this.blockBytes : this.blockBytes;
  }

  requestersOf(block: number): number[] {
    const out: number[] = [];
    if (this.owner[block] !== NONE) out.push(this.owner[block]!);
    const more = this.extra.get(block);
    if (more) out.push(...more);
    return out;
  }
}

export class PiecePicker {
  readonly pieceCount: number;
  readonly pieceLength: number;
  readonly totalLength: number;
  readonly blockBytes: number;
  readonly #have: Bitfield;
  /** How many connected peers have each piece. */
  readonly #availability: Uint32Array;
  /** Pieces being downloaded, in the order they were started. */
  readonly #downloads = new Map<number, Download>();
  /** Pieces whose blocks are all in, waiting for hash and write. */
  readonly #pending = new Set<number>();
  /** block keys requested per peer, so a departing peer's requests can be released. */
  readonly #byPeer = new Map<number, Set<number>>();
  readonly #random: () => number;
  readonly #maxBlocks: number;
  /** 1 for a piece we lack that nobody started (not had, downloading or pending): the rarest-first scan reads only this. */
  readonly #unstarted: Uint8Array;
  /** Priority of each piece (PRIORITY). */
  readonly #priority: Uint8Array;
  /** Pieces we lack, per priority level: which levels hold work, in O(1). */
  readonly #missingAt = new Uint32Array(LEVELS);

  constructor(opts: PickerOptions) {
    if (opts.have.length !== opts.pieceCount) throw new RangeError('have bitfield length differs from pieceCount');
    if (opts.blockBytes <= 0 || opts.pieceLength <= 0) throw new RangeError('blockBytes and pieceLength must be positive');
    this.pieceCount = opts.pieceCount;
    this.pieceLength = opts.pieceLength;
    this.totalLength = opts.totalLength;
    this.blockBytes = opts.blockBytes;
    this.#have = opts.have.clone();
    this.#availability = new Uint32Array(opts.pieceCount);
    this.#random = opts.random ?? Math.random;
    this.#maxBlocks = Math.ceil(opts.pieceLength / opts.blockBytes);
    this.#unstarted = new Uint8Array(opts.pieceCount);
    for (let i = 0; i < opts.pieceCount; i++) this.#unstarted[i] = this.#have.get(i) ? 0 : 1;
    this.#priority = new Uint8Array(opts.pieceCount).fill(PRIORITY.normal);
    this.#missingAt[PRIORITY.normal] = opts.pieceCount - this.#have.count();
  }

  // --- priorities --------------------------------------------------------

  priority(index: number): number {
    return this.#priority[index]!;
  }

  /** Sets a piece's priority (0..4, PRIORITY); blocks already asked for stay asked. */
  setPriority(index: number, level: number): void {
    if (!Number.isInteger(level) || level < 0 || level >= LEVELS) throw new RangeError(`priority must be an integer 0..${LEVELS - 1}, got ${level}`);
    const old = this.#priority[index]!;
    if (old === level) return;
    this.#priority[index] = level;
    if (!this.#have.get(index)) {
      this.#missingAt[old]!--;
      this.#missingAt[level]!++;
    }
  }

  /** True when we lack the piece and want it (priority above 0). */
  wants(index: number): boolean {
    return this.#priority[index]! > 0 && !this.#have.get(index);
  }

  /** Every wanted piece is had (all of them, unless some are set to 0). */
  wantedComplete(): boolean {
    for (let l = 1; l < LEVELS; l++) if (this.#missingAt[l]! > 0) return false;
    return true;
  }

  /** Bytes of the wanted pieces we lack. */
  wantedBytesLeft(): number {
    if (this.wantedComplete()) return 0;
    let left = 0;
    for (let i = 0; i < this.pieceCount; i++) if (this.wants(i)) left += this.pieceSize(i);
    return left;
  }

  pieceSize(index: number): number {
    return index === this.pieceCount - 1 ? this.totalLength - index * this.pieceLength : this.pieceLength;
  }

  // --- availability ------------------------------------------------------

  peerBitfield(bits: Bitfield): void {
    for (const i of bits.ones()) this.#availability[i]!++;
  }

  peerHave(index: number): void {
    this.#availability[index]!++;
  }

  /** Forget a departing peer: its availability and its outstanding requests. */
  peerGone(peer: number, bits: Bitfield): void {
    for (const i of bits.ones()) if (this.#availability[i]! > 0) this.#availability[i]!--;
    this.releasePeer(peer);
  }

  availability(index: number): number {
    return this.#availability[index]!;
  }

  // --- our state ---------------------------------------------------------

  has(index: number): boolean {
    return this.#have.get(index);
  }

  get haveCount(): number {
    return this.#have.count();
  }

  isComplete(): boolean {
    return this.#have.isComplete();
  }

  /** True when the peer has a piece we still lack. */
  isInteresting(peerBits: Bitfield): boolean {
    if (this.#have.isComplete()) return false;
    for (let i = 0; i < this.pieceCount; i++) if (peerBits.get(i) && this.wants(i)) return true;
    return false;
  }

  /** True when every missing wanted block is requested of someone (or already in). */
  get endgame(): boolean {
    // A piece nobody started yet: not the endgame (O(1), the common answer).
    if (this.#have.count() + this.#downloads.size + this.#pending.size + this.#missingAt[PRIORITY.skip]! < this.pieceCount) return false;
    for (let i = 0; i < this.pieceCount; i++) {
      if (this.#have.get(i) || this.#pending.has(i) || this.#priority[i] === PRIORITY.skip) continue;
      const d = this.#downloads.get(i);
      if (!d || d.requestedCount + d.receivedCount < d.blockCount) return false;
    }
    return true;
  }

  // --- picking -----------------------------------------------------------

  /**
   * Up to `max` blocks to request of `peer`, marked as requested by it.
   * Blocks of started pieces come first; then new pieces, rarest first.
   * `maxAvailability` limits the pick to pieces at most that many connected
   * peers have: asked of a seed with the number of seeds, it takes from the
   * seed only what no other leecher can give, so a seed's upload goes into
   * data the swarm lacks and leechers trade the rest among themselves.
   */
  pick(peer: number, peerBits: Bitfield, max: number, opts: { maxAvailability?: number } = {}): BlockRequest[] {
    const out: BlockRequest[] = [];
    if (max <= 0) return out;
    const cap = opts.maxAvailability ?? Infinity;
    const blocksPerPiece = Math.max(1, Math.floor(this.pieceLength / this.blockBytes));
    // Highest level first; at each level, its started pieces, then new ones.
    for (let level = LEVELS - 1; level >= PRIORITY.normal; level--) {
      if (this.#missingAt[level] === 0) continue;
      // The order a reader waits on beats the seed's "only what no one else has".
      const levelCap = level >= ORDERED ? Infinity : cap;
      for (const d of this.#downloads.values()) {
        if (this.#priority[d.index] !== level || !peerBits.get(d.index) || this.#availability[d.index]! > levelCap) continue;
        this.#takeFree(peer, d, out, max);
        if (out.length >= max) return out;
      }
      const need = Math.ceil((max - out.length) / blocksPerPiece) + 1;
      const fresh = level >= ORDERED ? this.#inOrderCandidates(peerBits, need, level) : this.#rarestCandidates(peerBits, need, levelCap, level);
      for (const index of fresh) {
        const d = new Download(index, this.pieceSize(index), this.blockBytes);
        this.#downloads.set(index, d);
        this.#unstarted[index] = 0;
        this.#takeFree(peer, d, out, max);
        if (out.length >= max) return out;
      }
    }
    if (out.length < max && cap === Infinity && this.endgame) this.#pickEndgame(peer, peerBits, out, max);
    return out;
  }

  /** Up to `need` unstarted pieces of `level` the peer has, lowest index first. */
  #inOrderCandidates(peerBits: Bitfield, need: number, level: number): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.pieceCount && out.length < need; i++) {
      if (this.#unstarted[i] === 1 && this.#priority[i] === level && peerBits.get(i)) out.push(i);
    }
    return out;
  }

  #takeFree(peer: number, d: Download, out: BlockRequest[], max: number): void {
    if (d.requestedCount + d.receivedCount >= d.blockCount) return;
    for (let b = 0; b < d.blockCount && out.length < max; b++) {
      if (d.received[b] || d.owner[b] !== NONE) continue;
      d.owner[b] = peer;
      d.requestedCount++;
      this.#track(peer, d.index, b);
      out.push({ index: d.index, begin: b * this.blockBytes, length: d.blockLength(b) });
    }
  }

  /**
   * Endgame, strict (as libtorrent's): a peer takes blocks already asked of
   * another only once its own queue is nearly empty (under a piece's worth
   * of blocks), and a block is asked of at most two peers. With 20 leechers
   * in endgame at once, each duplicating every missing block at every peer
   * that unchoked it, the duplicates (sent before the cancel arrives) ate
   * the upload the last leechers needed.
   */
  #pickEndgame(peer: number, peerBits: Bitfield, out: BlockRequest[], max: number): void {
    if (this.outstanding(peer) >= this.#maxBlocks) return;
    for (const d of this.#downloads.values()) {
      if (!peerBits.get(d.index) || this.#pending.has(d.index)) continue;
      for (let b = 0; b < d.blockCount && out.length < max; b++) {
        if (d.received[b]) continue;
        if (d.owner[b] === peer || d.extra.get(b)?.has(peer)) continue;
        if (d.owner[b] !== NONE && (d.extra.get(b)?.size ?? 0) >= MAX_EXTRA_REQUESTERS) continue;
        if (d.owner[b] === NONE) {
          d.owner[b] = peer;
          d.requestedCount++;
        } else {
          let set = d.extra.get(b);
          if (!set) d.extra.set(b, (set = new Set()));
          set.add(peer);
        }
        this.#track(peer, d.index, b);
        out.push({ index: d.index, begin: b * this.blockBytes, length: d.blockLength(b) });
      }
      if (out.length >= max) return;
    }
  }

  /**
   * Up to `need` missing, unstarted pieces the peer has (and at most `cap`
   * peers have), rarest first with random ties. One pass, no sort: this
   * runs on every pick, so it must stay linear in the piece count.
   */
  #rarestCandidates(peerBits: Bitfield, need: number, cap: number, priority: number): number[] {
    const best: number[] = [];
    // Every piece had, pending or started: nothing to scan (the endgame, where picks are most frequent).
    if (this.#have.count() + this.#downloads.size + this.#pending.size >= this.pieceCount) return best;
    // First pass, no allocation: the rarest level among candidates and how many pieces are on it.
    let minA = Infinity;
    let atMin = 0;
    const unstarted = this.#unstarted;
    const avail = this.#availability;
    const prio = this.#priority;
    for (let i = 0; i < this.pieceCount; i++) {
      if (unstarted[i] === 0 || prio[i] !== priority) continue;
      const a = avail[i]!;
      if (a > cap || a > minA || !peerBits.get(i)) continue;
      if (a < minA) {
        minA = a;
        atMin = 0;
      }
      atMin++;
    }
    if (atMin === 0) return best;
    if (atMin >= need) {
      // Second pass: `need` of the rarest level at random (selection sampling, Knuth's algorithm S).
      let left = atMin;
      for (let i = 0; i < this.pieceCount && best.length < need; i++) {
        if (unstarted[i] === 0 || prio[i] !== priority || avail[i] !== minA || !peerBits.get(i)) continue;
        if (this.#random() * left < need - best.length) best.push(i);
        left--;
      }
      return best;
    }
    // The rarest level is too small: gather the next levels too.
    const byAvail = new Map<number, number[]>();
    for (let i = 0; i < this.pieceCount; i++) {
      if (unstarted[i] === 0 || prio[i] !== priority || !peerBits.get(i)) continue;
      const a = avail[i]!;
      if (a > cap) continue;
      let level = byAvail.get(a);
      if (!level) byAvail.set(a, (level = []));
      level.push(i);
    }
    const levels = [...byAvail.keys()].sort((x, y) => x - y);
    for (const a of levels) {
      const level = byAvail.get(a)!;
      // Partial Fisher-Yates: random picks within the level, only as many as needed.
      const take = Math.min(level.length, need - best.length);
      for (let k = 0; k < take; k++) {
        const j = k + Math.floor(this.#random() * (level.length - k));
        const t = level[k]!;
        level[k] = level[j]!;
        level[j] = t;
        best.push(level[k]!);
      }
      if (best.length >= need) break;
    }
    return best;
  }

  #blockKey(index: number, block: number): number {
    return index * this.#maxBlocks + block;
  }

  #track(peer: number, index: number, block: number): void {
    let set = this.#byPeer.get(peer);
    if (!set) this.#byPeer.set(peer, (set = new Set()));
    set.add(this.#blockKey(index, block));
  }

  #untrack(peer: number, index: number, block: number): void {
    this.#byPeer.get(peer)?.delete(this.#blockKey(index, block));
  }

  /** Blocks requested of `peer` and not yet received. */
  outstanding(peer: number): number {
    return this.#byPeer.get(peer)?.size ?? 0;
  }

  // --- outcomes ----------------------------------------------------------

  /** A block arrived from `peer`. */
  blockReceived(peer: number, req: BlockRequest): BlockReceipt {
    const d = this.#downloads.get(req.index);
    const block = Math.floor(req.begin / this.blockBytes);
    if (!d || req.begin % this.blockBytes !== 0 || block >= d.blockCount || d.blockLength(block) !== req.length) {
      return { accepted: false, pieceComplete: false, cancelAt: [] };
    }
    if (d.received[block]) {
      this.#untrack(peer, req.index, block);
      return { accepted: false, pieceComplete: false, cancelAt: [] };
    }
    const requesters = d.requestersOf(block);
    if (!requesters.includes(peer)) return { accepted: false, pieceComplete: false, cancelAt: [] };
    for (const p of requesters) this.#untrack(p, req.index, block);
    d.received[block] = 1;
    d.receivedCount++;
    d.requestedCount--;
    d.owner[block] = NONE;
    d.extra.delete(block);
    const complete = d.receivedCount === d.blockCount;
    if (complete) {
      this.#downloads.delete(req.index);
      this.#pending.add(req.index);
    }
    return { accepted: true, pieceComplete: complete, cancelAt: requesters.filter((p) => p !== peer) };
  }

  /** A request of `peer` will not be answered (choked, rejected, timed out, cancelled). */
  release(peer: number, req: BlockRequest): void {
    const d = this.#downloads.get(req.index);
    if (!d) return;
    const block = Math.floor(req.begin / this.blockBytes);
    if (block >= d.blockCount || d.received[block]) return;
    this.#untrack(peer, req.index, block);
    if (d.owner[block] === peer) {
      const more = d.extra.get(block);
      const next = more && more.size ? more.values().next().value! : NONE;
      if (next !== NONE) more!.delete(next);
      else d.requestedCount--;
      d.owner[block] = next;
    } else {
      d.extra.get(block)?.delete(peer);
    }
  }

  /** Releases every request of `peer`; returns them. */
  releasePeer(peer: number): BlockRequest[] {
    const keys = this.#byPeer.get(peer);
    if (!keys) return [];
    const released: BlockRequest[] = [];
    for (const key of [...keys]) {
      const index = Math.floor(key / this.#maxBlocks);
      const block = key % this.#maxBlocks;
      const req = { index, begin: block * this.blockBytes, length: Math.min(this.blockBytes, this.pieceSize(index) - block * this.blockBytes) };
      this.release(peer, req);
      released.push(req);
    }
    this.#byPeer.delete(peer);
    return released;
  }

  /** The piece's hash matched and its data is written. */
  pieceVerified(index: number): void {
    this.#pending.delete(index);
    this.#downloads.delete(index);
    if (!this.#have.get(index)) this.#missingAt[this.#priority[index]!]!--;
    this.#have.set(index);
    this.#unstarted[index] = 0;
  }

  /** The piece's hash failed: forget its blocks so it is fetched again. */
  pieceFailed(index: number): void {
    this.#pending.delete(index);
    const d = this.#downloads.get(index);
    if (d) for (let b = 0; b < d.blockCount; b++) for (const p of d.requestersOf(b)) this.#untrack(p, index, b);
    this.#downloads.delete(index);
    this.#unstarted[index] = this.#have.get(index) ? 0 : 1;
  }

  /** Pieces started but not complete, for progress displays. */
  get inProgress(): number {
    return this.#downloads.size + this.#pending.size;
  }
}
