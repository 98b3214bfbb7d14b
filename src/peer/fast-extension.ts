/**
 * The remote's side of the BEP 6 fast extension as one connection keeps it:
 * the allowed-fast and suggested pieces it sent, each set bounded (a hostile
 * peer could send millions), and the check that a fast message came with
 * the extension negotiated.
 */
import { ProtocolError } from '../errors.js';

/** A fast-extension message (have_all, have_none, reject, allowed_fast, suggest) closes a connection that did not negotiate it. */
export function requireFast(fast: boolean, type: string): void {
  if (!fast) throw new ProtocolError(`${type} sent without the fast extension (BEP 6) negotiated`);
}

export class FastSets {
  /** Pieces the remote lets us request while it chokes us. */
  readonly allowedFast = new Set<number>();
  /** Pieces the remote suggested, most recent last. */
  readonly suggested = new Set<number>();
  readonly #max: number;

  constructor(maxPieces: number) {
    this.#max = maxPieces;
  }

  /**
   * Records an allowed-fast piece; false when it was known or the set is
   * full. A remote may announce pieces it does not have yet: the picker only
   * asks for pieces it has.
   */
  allow(index: number): boolean {
    if (this.allowedFast.size >= this.#max || this.allowedFast.has(index)) return false;
    this.allowedFast.add(index);
    return true;
  }

  /** Records a suggestion as the most recent one, forgetting the oldest when full. */
  suggest(index: number): void {
    this.suggested.delete(index);
    if (this.suggested.size >= this.#max) this.suggested.delete(this.suggested.values().next().value!);
    this.suggested.add(index);
  }
}
