/**
 * BEP 11 peer exchange (ut_pex): `{added, added.f, dropped}` with compact
 * IPv4 peers (6 bytes each) and one flags byte per added peer.
 *
 * IPv6 lists (`added6`, `added6.f`, `dropped6`) are ignored, as are unknown
 * keys. Refused: a payload that is not a dict, a peer list that is not a byte
 * string of a multiple of 6 bytes or that holds more than MAX_PEX_PEERS
 * peers, and an `added.f` whose length is not the number of added peers.
 * Entries with port 0 are dropped (they cannot be dialed). BEP 11 asks
 * senders for at most 50 peers per list per minute; the limit of 200 leaves
 * room for lenient clients. Pacing is the sender's job, not the codec's.
 */
import { encode, isBytes, isDict, type BValue } from '../bencode/index.js';
import { decodePayload } from './bencoded-payload.js';
import { ProtocolError } from '../errors.js';
import type { PeerAddress } from '../util/peer-address.js';
import { COMPACT_PEER_BYTES, decodeCompactPeers, encodeCompactPeers, isIPv4, readCompactPeer } from './compact.js';

/** Most peers accepted in one list of one PEX message. */
export const MAX_PEX_PEERS = 200;

/** BEP 11 `added.f` flag bits. */
export const PexFlags = {
  /** Prefers encryption. */
  encryption: 0x01,
  /** Is a seed or upload-only. */
  seed: 0x02,
  /** Supports uTP. */
  utp: 0x04,
  /** Supports the ut_holepunch extension. */
  holepunch: 0x08,
  /** Is reachable (we connected to it, not the other way round). */
  reachable: 0x10,
} as const;

export interface PexMessage {
  added: PeerAddress[];
  /** One flags byte per entry of `added` (see PexFlags). */
  addedFlags: number[];
  dropped: PeerAddress[];
}

/** The payload of a ut_pex extended message. Non-IPv4 peers are skipped (with their flags). */
export function encodePex(msg: PexMessage): Uint8Array {
  const added: PeerAddress[] = [];
  const flags: number[] = [];
  msg.added.forEach((p, i) => {
    if (!isIPv4(p.host)) return;
    added.push(p);
    flags.push((msg.addedFlags[i] ?? 0) & 0xff);
  });
  return encode({ added: encodeCompactPeers(added), 'added.f': Uint8Array.from(flags), dropped: encodeCompactPeers(msg.dropped) });
}

function peerList(value: BValue | undefined, field: string): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (!isBytes(value)) throw new ProtocolError(`ut_pex ${field} is not a byte string`);
  if (value.length % COMPACT_PEER_BYTES !== 0) throw new ProtocolError(`ut_pex ${field} has ${value.length} bytes, not a multiple of ${COMPACT_PEER_BYTES}`);
  const count = value.length / COMPACT_PEER_BYTES;
  if (count > MAX_PEX_PEERS) throw new ProtocolError(`ut_pex ${field} lists ${count} peers, more than ${MAX_PEX_PEERS}`);
  return value;
}

export function decodePex(payload: Uint8Array): PexMessage {
  const value = decodePayload(payload, 'ut_pex message', { maxDepth: 2 });
  if (!isDict(value)) throw new ProtocolError('ut_pex message is not a dictionary');
  const addedBytes = peerList(value.added, 'added');
  const droppedBytes = peerList(value.dropped, 'dropped');
  const f = value['added.f'];
  let flagBytes: Uint8Array | undefined;
  if (f !== undefined) {
    if (!isBytes(f)) throw new ProtocolError('ut_pex added.f is not a byte string');
    if (f.length !== addedBytes.length / COMPACT_PEER_BYTES) {
      throw new ProtocolError(`ut_pex added.f has ${f.length} flags for ${addedBytes.length / COMPACT_PEER_BYTES} added peers`);
    }
    flagBytes = f;
  }
  const msg: PexMessage = { added: [], addedFlags: [], dropped: [] };
  for (let i = 0; i < addedBytes.length; i += COMPACT_PEER_BYTES) {
    const peer = readCompactPeer(addedBytes, i);
    if (peer.port === 0) continue;
    msg.added.push(peer);
    msg.addedFlags.push(flagBytes ? flagBytes[i / COMPACT_PEER_BYTES]! : 0);
  }
  msg.dropped = decodeCompactPeers(droppedBytes);
  return msg;
}
