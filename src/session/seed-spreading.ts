/**
 * A seed hands out distinct pieces (picker/seed-spread.ts says why): while
 * we seed, each leecher we unchoke that speaks BEP 6 is sent `suggest`
 * messages for pieces no other peer was given or has, before the unchoke
 * itself so that its first requests already follow them, and one more each
 * time it asks for a new piece. Choked, uninterested or gone, its
 * suggestions go back to the pool.
 */
import type { Settings } from '../settings.js';
import { SeedSpread } from '../picker/seed-spread.js';
import type { PeerConnection } from '../peer/connection.js';
import type { Clock } from '../util/clock.js';

export type SeedSpreadSettings = Pick<Settings, 'blockBytes' | 'seedSuggestBlocks' | 'seedSuggestMaxPieces' | 'seedSuggestAssignMs'>;

export interface SeedSpreadingOptions {
  pieceCount: number;
  pieceLength: number;
  settings: SeedSpreadSettings;
  /** Connected peers that have the piece (the picker's count). */
  availability: (index: number) => number;
  /** We have every piece. */
  seeding: () => boolean;
  clock: Clock;
  /** Told once, when every piece has left the seed at least once. */
  log?: (message: string) => void;
}

export class SeedSpreading {
  readonly #o: SeedSpreadingOptions;
  readonly #spread: SeedSpread;
  /** Suggestions kept outstanding per leecher. */
  readonly #target: number;
  #allOut = false;

  constructor(opts: SeedSpreadingOptions) {
    this.#o = opts;
    const s = opts.settings;
    this.#spread = new SeedSpread({ pieceCount: opts.pieceCount, availability: opts.availability, assignMs: s.seedSuggestAssignMs });
    const blocksPerPiece = Math.max(1, Math.ceil(opts.pieceLength / s.blockBytes));
    this.#target = s.seedSuggestBlocks <= 0 ? 0 : Math.max(1, Math.min(s.seedSuggestMaxPieces, Math.ceil(s.seedSuggestBlocks / blocksPerPiece)));
  }

  /** Pieces we began to serve to at least one peer (for logs and tests). */
  get servedOnce(): number {
    return this.#spread.servedOnce;
  }

  /** Routes a connection's requests and loss of interest here. */
  attach(conn: PeerConnection): void {
    conn.on('peer:request', (req) => {
      if (!this.#spread.requested(conn.id, req.index)) return;
      if (this.#spread.servedOnce === this.#spread.pieceCount && !this.#allOut) {
        this.#allOut = true;
        this.#o.log?.(`seed spread: every piece has left the seed once (${this.#spread.earlyRepeats} pieces went out again before that)`);
      }
      this.topUp(conn);
    });
    conn.on('peer:not-interested', () => this.#spread.release(conn.id));
  }

  /** We are about to unchoke the peer: its suggestions go first, so its first requests follow them. */
  unchoking(conn: PeerConnection): void {
    this.topUp(conn);
  }

  choked(conn: PeerConnection): void {
    this.#spread.release(conn.id);
  }

  forget(connId: number): void {
    this.#spread.peerGone(connId);
  }

  /** Keeps `target` suggestions outstanding with an interested BEP 6 leecher while we seed. */
  topUp(conn: PeerConnection): void {
    if (this.#target === 0 || !conn.fast || conn.closed || !conn.handshaken || !conn.peerInterested || !this.#o.seeding()) return;
    for (const index of this.#spread.suggest(conn.id, conn.bits, this.#target, this.#o.clock())) conn.send({ type: 'suggest', index });
  }
}
