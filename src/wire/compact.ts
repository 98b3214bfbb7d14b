/**
 * Compact IPv4 peer lists (BEP 23 tracker replies, BEP 5 `values`, BEP 11
 * PEX): 6 bytes per peer, a 4-byte address then a 2-byte big-endian port.
 * Shared by the HTTP and UDP tracker codecs, the DHT (`values`, and the
 * address part of compact node info) and PEX.
 *
 * Port 0 cannot be dialed, so `decodeCompactPeers` skips such entries rather
 * than refusing the whole list (trackers in the wild return them); a list
 * whose length is not a multiple of 6 is refused. IPv6 (BEP 7, 18 bytes per
 * peer) has its own functions below (`encodeCompactPeers6`...):
 * `encodeCompactPeers` skips hosts that are not dotted IPv4.
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

/**
 * IPv6 (BEP 7 `peers6`, BEP 11 `added6`, BEP 32 `values`): 18 bytes per
 * peer, a 16-byte address then a 2-byte big-endian port. IPv4-mapped
 * addresses (::ffff:a.b.c.d) decode to plain a.b.c.d, so one peer has one
 * spelling whichever list it came in.
 */
export const COMPACT_PEER6_BYTES = 18;

/** The 16 bytes of an IPv6 address in text form (`::1`, `fd77::2`, `::ffff:1.2.3.4`; no zone, no brackets), or undefined. */
export function ipv6Bytes(host: string): Uint8Array | undefined {
  if (!host.includes(':') || host.length > 45 || !/^[0-9a-fA-F:.]+$/.test(host)) return undefined;
  let text = host;
  if (host.includes('.')) {
    // A dotted IPv4 tail stands for the last two groups.
    const at = host.lastIndexOf(':');
    const v4 = ipv4Bytes(host.slice(at + 1));
    if (!v4) return undefined;
    text = `${host.slice(0, at + 1)}${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const groups = (s: string): number[] | undefined => {
    if (s === '') return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const halves = text.split('::');
  let words: number[] | undefined;
  if (halves.length === 2) {
    const a = groups(halves[0]!);
    const b = groups(halves[1]!);
    if (!a || !b || a.length + b.length > 7) return undefined;
    words = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else if (halves.length === 1) {
    words = groups(text);
    if (words?.length !== 8) return undefined;
  }
  if (!words) return undefined;
  const out = new Uint8Array(16);
  words.forEach((w, i) => {
    out[i * 2] = w >>> 8;
    out[i * 2 + 1] = w & 0xff;
  });
  return out;
}

/** True for an IPv6 address in text form (see ipv6Bytes). */
export function isIPv6(host: string): boolean {
  return ipv6Bytes(host) !== undefined;
}

/** The text form of 16 address bytes at `offset`: RFC 5952 (lower case, longest zero run as `::`); IPv4-mapped as dotted IPv4. */
export function formatIPv6(bytes: Uint8Array, offset = 0): string {
  const b = (i: number): number => bytes[offset + i]!;
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b(i) !== 0) mapped = false;
  if (mapped && b(10) === 0xff && b(11) === 0xff) return `${b(12)}.${b(13)}.${b(14)}.${b(15)}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b(i * 2) << 8) | b(i * 2 + 1));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestAt < 0) return hex(words);
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** Writes one IPv6 peer at `offset` (18 bytes); `peer.host` must be IPv6 text. */
export function writeCompactPeer6(out: Uint8Array, offset: number, peer: PeerAddress): void {
  const addr = ipv6Bytes(peer.host);
  if (!addr) throw new RangeError(`not an IPv6 address: ${peer.host}`);
  if (!Number.isInteger(peer.port) || peer.port < 0 || peer.port > 0xffff) throw new RangeError(`port must be 0..65535, got ${peer.port}`);
  out.set(addr, offset);
  out[offset + 16] = peer.port >>> 8;
  out[offset + 17] = peer.port & 0xff;
}

/** Reads the IPv6 peer at `offset` (18 bytes must be there). */
export function readCompactPeer6(bytes: Uint8Array, offset: number): PeerAddress {
  return { host: formatIPv6(bytes, offset), port: (bytes[offset + 16]! << 8) | bytes[offset + 17]! };
}

/** The compact list of the IPv6 peers among `peers` (IPv4 and names are skipped). */
export function encodeCompactPeers6(peers: readonly PeerAddress[]): Uint8Array {
  const v6 = peers.filter((p) => isIPv6(p.host));
  const out = new Uint8Array(v6.length * COMPACT_PEER6_BYTES);
  v6.forEach((p, i) => writeCompactPeer6(out, i * COMPACT_PEER6_BYTES, p));
  return out;
}

/** Decodes a compact IPv6 list: refused unless a multiple of 18 bytes (and within maxPeers); port-0 entries skipped. */
export function decodeCompactPeers6(bytes: Uint8Array, opts: CompactDecodeOptions = {}): PeerAddress[] {
  const field = opts.field ?? 'peers6';
  const fail = opts.error ?? ((m: string) => new ProtocolError(m));
  if (bytes.length % COMPACT_PEER6_BYTES !== 0) throw fail(`compact ${field} list of ${bytes.length} bytes is not a multiple of ${COMPACT_PEER6_BYTES}`);
  const count = bytes.length / COMPACT_PEER6_BYTES;
  if (opts.maxPeers !== undefined && count > opts.maxPeers) throw fail(`compact ${field} list holds ${count} peers, more than ${opts.maxPeers}`);
  const out: PeerAddress[] = [];
  for (let i = 0; i < bytes.length; i += COMPACT_PEER6_BYTES) {
    const peer = readCompactPeer6(bytes, i);
    if (peer.port !== 0) out.push(peer);
  }
  return out;
}
