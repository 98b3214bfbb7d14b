/**
 * A whole .torrent around an info dictionary fetched from peers (BEP 9):
 * the info bytes are spliced in verbatim, never re-encoded, so the result
 * hashes to the same info-hash.
 */
import { encode } from '../bencode/index.js';

export function torrentFromInfo(infoBytes: Uint8Array, trackers: readonly string[]): Uint8Array {
  // Keys in byte order: announce < announce-list < info.
  const parts: Uint8Array[] = [Buffer.from('d')];
  if (trackers.length) {
    const head = encode({ announce: trackers[0], 'announce-list': trackers.map((t) => [t]) });
    parts.push(head.subarray(1, head.length - 1));
  }
  parts.push(Buffer.from('4:info'), infoBytes, Buffer.from('e'));
  return new Uint8Array(Buffer.concat(parts));
}
