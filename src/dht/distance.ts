/**
 * The XOR metric of BEP 5 (Kademlia) over 160-bit ids: shared prefixes,
 * which of two ids is closer to a target, and random ids at a given
 * prefix length (for refreshing a routing-table bucket). Pure.
 */
import { randomBytes } from '../util/hash.js';
import { ID_BYTES } from './krpc.js';

const ID_BITS = ID_BYTES * 8;

/** Length of the common bit prefix of two ids. */
export function commonPrefixBits(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.length * 8;
}

/** Negative when `a` is closer to `target` than `b` (XOR metric, BEP 5). */
export function compareDistance(a: Uint8Array, b: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < target.length; i++) {
    const da = a[i]! ^ target[i]!;
    const db = b[i]! ^ target[i]!;
    if (da !== db) return da - db;
  }
  return 0;
}

/**
 * A random id whose first `bits` bits are those of `localId`; with `exact`,
 * bit `bits` is flipped too, so it shares exactly `bits` (a routing table's
 * bucket `bits`; its last bucket holds every id sharing at least that many).
 */
export function randomIdSharingPrefix(localId: Uint8Array, bits: number, exact: boolean): Uint8Array {
  const id = randomBytes(ID_BYTES);
  const fixedBits = exact ? bits + 1 : bits;
  for (let bit = 0; bit < fixedBits && bit < ID_BITS; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    let want = localId[byte]! & mask;
    if (exact && bit === bits) want ^= mask;
    id[byte] = (id[byte]! & ~mask) | want;
  }
  return id;
}
