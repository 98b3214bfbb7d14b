/**
 * BEP 6 hints for the requester: the pieces a peer lets us request while it
 * chokes us (`allowed_fast`) and the pieces it suggests, turned into a
 * bitfield the picker can pick from. Pieces we have meanwhile are pruned
 * from the set, so it stays small.
 */
import { Bitfield } from '../util/bitfield.js';

/**
 * The pieces of `set` that the peer has (`peerBits`) and we still need
 * (`have(i)` false), as a bitfield over the torrent; undefined when none.
 */
export function pickablePieces(set: Set<number>, peerBits: Bitfield, have: (index: number) => boolean): Bitfield | undefined {
  let out: Bitfield | undefined;
  for (const index of set) {
    if (have(index)) {
      set.delete(index);
      continue;
    }
    if (!peerBits.get(index)) continue;
    out ??= new Bitfield(peerBits.length);
    out.set(index);
  }
  return out;
}

/**
 * A printable name of the client behind a peer id: the Azureus-style
 * `-lt2080-` prefix as `lt2080`, else the leading printable bytes (aria2
 * sends `A2-1-36-0-`), at most 12 characters; '' when none.
 */
export function peerIdClient(peerId: Uint8Array): string {
  let s = '';
  for (const b of peerId) {
    if (b < 0x20 || b > 0x7e) break;
    s += String.fromCharCode(b);
  }
  const az = /^-([A-Za-z]{2}[0-9A-Za-z]{4})-/.exec(s);
  if (az) return az[1]!;
  // Mainline style (aria2's `A2-1-36-0-`, then random bytes): up to the last dash.
  const head = s.slice(0, 12);
  const dash = head.lastIndexOf('-');
  return dash > 0 ? head.slice(0, dash + 1) : head;
}
