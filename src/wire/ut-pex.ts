/**
 * BEP 11 peer exchange (ut_pex): `{added, added.f, dropped}` with compact
 * IPv4 peers (6 bytes each) and one flags byte per added peer.
 *
 * IPv6 peers go in `added6`, `added6.f` and `dropped6` (18 bytes each, BEP 7
 * form); both families decode into one `added` and one `dropped` list.
 * Unknown keys are ignored. Refused: a payload that is not a dict, a peer
 * list that is not a byte string of a multiple of 6 (18 for the IPv6 lists)
 * bytes or that holds more than MAX_PEX_PEERS peers, and an `added.f` (or
 * `added6.f`) whose length is not the number of peers it flags.
 * Entries with port 0 are dropped (they cannot be dialed). BEP 11 asks
 * senders for at most 50 peers per list per minute; the limit of 200 leaves
 * room for lenient clients. Pacing is the sender's job, not the codec's.
 */
import { encode, isBytes, isDict, type BValue } from '../bencode/index.js';
import { decodePayload } from './bencoded-payload.js';
import { ProtocolError } from '../errors.js';
import type { PeerAddress } from '../util/peer-address.js';
import {
  COMPACT_PEER6_BYTES,
  COMPACT_PEER_BYTES,
  decodeCompactPeers,
  decodeCompactPeers6,
  encodeCompactPeers,
  encodeCompactPeers6,
  isIPv4,
  isIPv6,
  readCompactPeer,
  readCompactPeer6,
} from './compact.js';

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

/**
 * The payload of a ut_pex extended message: IPv4 peers in `added`/`dropped`,
 * IPv6 ones in `added6`/`dropped6` (those keys only when there are any).
 * Names and other hosts are skipped (with their flags).
 */
export function encodePex(msg: PexMessage): Uint8Array {
  const added: PeerAddress[] = [];
  const flags: number[] = [];
  const added6: PeerAddress[] = [];
  const flags6: number[] = [];
  msg.added.forEach((p, i) => {
    const f = (msg.addedFlags[i] ?? 0) & 0xff;
    if (isIPv4(p.host)) {
      added.push(p);
      flags.push(f);
    } else if (isIPv6(p.host)) {
      added6.push(p);
      flags6.push(f);
    }
  });
  const dropped6 = msg.dropped.filter((p) => isIPv6(p.host));
  const d: Record<string, Uint8Array> = { added: encodeCompactPeers(added), 'added.f': Uint8Array.from(flags), dropped: encodeCompactPeers(msg.dropped) };
  if (added6.length > 0) {
    d.added6 = encodeCompactPeers6(added6);
    d['added6.f'] = Uint8Array.from(flags6);
  }
  if (dropped6.length > 0) d.dropped6 = encodeCompactPeers6(dropped6);
  return encode(d);
}

function peerList(value: BValue | undefined, field: string, entryBytes = COMPACT_PEER_BYTES): Uint8Array {
  if (value === undefined) return new Uint8Array(0);
  if (!isBytes(value)) throw new ProtocolError(`ut_pex ${field} is not a byte string`);
  if (value.length % entryBytes !== 0) throw new ProtocolError(`ut_pex ${field} has ${value.length} bytes, not a multiple of ${entryBytes}`);
  const count = value.length / entryBytes;
  if (count > MAX_PEX_PEERS) throw new ProtocolError(`ut_pex ${field} lists ${count} peers, more than ${MAX_PEX_PEERS}`);
  return value;
}

function flagList(value: BValue | undefined, field: string, peers: number): Uint8Array | undefined {
  if (value === undefined) return undefined;
  if (!isBytes(value)) throw new ProtocolError(`ut_pex ${field} is not a byte string`);
  if (value.length !== peers) throw new ProtocolError(`ut_pex ${field} has ${value.length} flags for ${peers} added peers`);
  return value;
}

export function decodePex(payload: Uint8Array): PexMessage {
  const value = decodePayload(payload, 'ut_pex message', { maxDepth: 2 });
  if (!isDict(value)) throw new ProtocolError('ut_pex message is not a dictionary');
  const addedBytes = peerList(value.added, 'added');
  const droppedBytes = peerList(value.dropped, 'dropped');
  const flagBytes = flagList(value['added.f'], 'added.f', addedBytes.length / COMPACT_PEER_BYTES);
  const added6Bytes = peerList(value.added6, 'added6', COMPACT_PEER6_BYTES);
  const dropped6Bytes = peerList(value.dropped6, 'dropped6', COMPACT_PEER6_BYTES);
  const flag6Bytes = flagList(value['added6.f'], 'added6.f', added6Bytes.length / COMPACT_PEER6_BYTES);
  const msg: PexMessage = { added: [], addedFlags: [], dropped: [] };
  for (let i = 0; i < addedBytes.length; i += COMPACT_PEER_BYTES) {
    const peer = readCompactPeer(addedBytes, i);
    if (peer.port === 0) continue;
    msg.added.push(peer);
    msg.addedFlags.push(flagBytes ? flagBytes[i / COMPACT_PEER_BYTES]! : 0);
  }
  for (let i = 0; i < added6Bytes.length; i += COMPACT_PEER6_BYTES) {
    const peer = readCompactPeer6(added6Bytes, i);
    if (peer.port === 0) continue;
    msg.added.push(peer);
    msg.addedFlags.push(flag6Bytes ? flag6Bytes[i / COMPACT_PEER6_BYTES]! : 0);
  }
  msg.dropped = [...decodeCompactPeers(droppedBytes), ...decodeCompactPeers6(dropped6Bytes)];
  return msg;
}
