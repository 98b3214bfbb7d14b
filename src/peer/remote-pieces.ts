/**
 * The remote's pieces as its messages tell them: its initial piece set (a
 * bitfield, or BEP 6 have_all / have_none), then haves, and the late piece
 * sets some clients send (wire/validate.ts `PieceSetOrder` tells which is
 * which).
 */
import { Bitfield } from '../util/bitfield.js';
import type { PeerMessage } from '../wire/messages.js';
import { PieceSetOrder } from '../wire/validate.js';

export interface RemotePiecesHandlers {
  /** The initial piece set (the live bitfield, not a copy). */
  bitfield(bits: Bitfield): void;
  /** A piece the remote did not have before. */
  have(index: number): void;
}

export class RemotePieces {
  readonly bits: Bitfield;
  readonly #order = new PieceSetOrder();
  readonly #on: RemotePiecesHandlers;
  #initial = false;

  constructor(pieceCount: number, handlers: RemotePiecesHandlers) {
    this.bits = new Bitfield(pieceCount);
    this.#on = handlers;
  }

  /** Every checked message of the remote, in order, before it is applied. */
  observe(msg: PeerMessage): void {
    this.#initial = this.#order.observe(msg);
  }

  have(index: number): void {
    if (this.bits.set(index)) this.#on.have(index);
  }

  /**
   * A bitfield, have_all or have_none (`bits` undefined: no pieces). The
   * initial one is the peer's set; a late one (aria2 sends its bitfield
   * again after haves) only adds pieces, reported as haves: a peer never
   * loses a piece it announced (BEP 3 has no message for that).
   */
  pieceSet(bits: Bitfield | undefined): void {
    if (this.#initial) {
      if (bits) for (const i of bits.ones()) this.bits.set(i);
      this.#on.bitfield(this.bits);
      return;
    }
    if (!bits) return;
    for (const i of bits.ones()) this.have(i);
  }
}
