/**
 * Compact IPv4 peer lists (BEP 23 tracker replies, BEP 5 `values`, BEP 11
 * PEX): 6 bytes per peer, a 4-byte address then a 2-byte big-endian port.
 * Shared by the HTTP and UDP tracker codecs, the DHT (`values`, and the
 * address part of compact node info) and PEX.
 *
 * Port 0 cannot be dialed, so `decodeCompactPeers` skips such entries rather
 * than refusing the whole list (trackers in the wild return them); a list
 * whose length is not a multiple of 6 is refused. IPv6 (BEP 7, 18 bytes per
 * peer) is not handled here: `encodeCompactPeers` skips hosts that are not
 * dotted IPv4.
 */
import { ProtocolError } from '../errors.js';
import type { PeerAddress } from '../util/peer-address.js';

export const COMPACT_PEER_BYTES = 6;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True for a dotted-quad IPv4 address without leading zeros. */
export function isIPv4(host: string): boolean {
  return IPV4.test(host);
}

/** The 4 bytes of a dotted-quad IPv4 address, or undefined for anything else (IPv6, names). */
export function ipv4Bytes(host: string): Uint8Array | undefined {
  return isIPv4(host) ? Uint8Array.from(host.split('.'), Number) : undefined;
}

/** Writes one peer at `offset`; `peer.host` must be IPv4. */
export function writeCompactPeer(out: Uint8Array, offset: number, peer: PeerAddress): void {
  if (!isIPv4(peer.host)) throw new RangeError(`not an IPv4 address: ${peer.host}`);
  if (!Number.isInteger(peer.port) || peer.port < 0 || peer.port > 0xffff) throw new RangeError(`port must be 0..65535, got ${peer.port}`);
  const parts = peer.host.split('.');
  for (let i = 0; i < 4; i++) out[offset + i] = Number(parts[i]);
  out[offset + 4] = peer.port >>> 8;
  out[offset + 5] = peer.port & 0xff;
}

/** Reads the peer at `offset` (6 bytes must be there). */
export function readCompactPeer(bytes: Uint8Array, offset: number): PeerAddress {
  return {
    host: `${bytes[offset]}.${bytes[offset + 1]}.${bytes[offset + 2]}.${bytes[offset + 3]}`,
    port: (bytes[offset + 4]! << 8) | bytes[offset + 5]!,
  };
}

/** The compact list of the IPv4 peers among `peers` (others are skipped). */
export function encodeCompactPeers(peers: readonly PeerAddress[]): Uint8Array {
  const v4 = peers.filter((p) => isIPv4(p.host));
  const out = new Uint8Array(v4.length * COMPACT_PEER_BYTES);
  v4.forEach((p, i) => writeCompactPeer(out, i * COMPACT_PEER_BYTES, p));
  return out;
}

export interface CompactDecodeOptions {
  /** Refuse lists of more peers than this. */
  maxPeers?: number;
  /** Names the list in error messages (e.g. "peers", "added"). */
  field?: string;
  /** Builds the error thrown on a malformed list (default ProtocolError), so trackers and the DHT raise their own type. */
  error?: (message: string) => Error;
}

/** Decodes a compact list; entries with port 0 are skipped (see the file comment). */
export function decodeCompactPeers(bytes: Uint8Array, opts: CompactDecodeOptions = {}): PeerAddress[] {
  const field = opts.field ?? 'peers';
  const fail = opts.error ?? ((m: string) => new ProtocolError(m));
  if (bytes.length % COMPACT_PEER_BYTES !== 0) throw fail(`compact ${field} list of ${bytes.length} bytes is not a multiple of ${COMPACT_PEER_BYTES}`);
  const count = bytes.length / COMPACT_PEER_BYTES;
  if (opts.maxPeers !== undefined && count > opts.maxPeers) throw fail(`compact ${field} list holds ${count} peers, more than ${opts.maxPeers}`);
  const out: PeerAddress[] = [];
  for (let i = 0; i < bytes.length; i += COMPACT_PEER_BYTES) {
    const peer = readCompactPeer(bytes, i);
    if (peer.port !== 0) out.push(peer);
  }
  return out;
}
