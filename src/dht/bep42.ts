/**
 * Where a DHT node's address lets us check it: BEP 42 node ids, and the
 * address classes the routing table and lookups restrict by.
 *
 * BEP 42 ties the first 21 bits of a node id to the node's IP: they are the
 * top bits of crc32c(IP & mask | r << 29), where r (0-7) is the low 3 bits
 * of the id's last byte. One host can then pick only 8 id prefixes, so it
 * cannot place ids next to every target. Local networks are exempt (BEP 42):
 * their addresses say nothing about who is behind them.
 *
 * Pure: no sockets, no clocks.
 */
import { randomBytes } from '../util/hash.js';
import { ipv4Bytes, ipv6Bytes } from '../wire/compact.js';
import type { Settings } from '../settings.js';
import type { AddressGroup } from './lookup.js';

/** `loopback`: 127.0.0.0/8; `local`: the other BEP 42 exempt ranges (private and link-local); `public`: everything else. */
export type AddressClass = 'loopback' | 'local' | 'public';

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as BEP 42 uses. */
const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of bytes) crc = CRC32C_TABLE[(crc ^ b) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** BEP 42's exempt ranges, split into loopback and the rest. Anything not IPv4 is `public` (checked by nothing here). */
export function addressClass(host: string): AddressClass {
  const ip = ipv4Bytes(host);
  if (!ip) {
    const v6 = ipv6Bytes(host);
    if (!v6) return 'public';
    // ::1; unique local fc00::/7 and link-local fe80::/10 (BEP 42 exempts local networks).
    if (v6.every((b, i) => (i === 15 ? b === 1 : b === 0))) return 'loopback';
    if ((v6[0]! & 0xfe) === 0xfc || (v6[0] === 0xfe && (v6[1]! & 0xc0) === 0x80)) return 'local';
    return 'public';
  }
  const [a, b] = [ip[0]!, ip[1]!];
  if (a === 127) return 'loopback';
  if (a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254)) return 'local';
  return 'public';
}

/** The /24 an IPv4 address is in (libtorrent's "too close" networks), e.g. "1.2.3.0/24"; the host itself otherwise. */
export function subnetOf(host: string): string {
  const ip = ipv4Bytes(host);
  if (ip) return `${ip[0]}.${ip[1]}.${ip[2]}.0/24`;
  // IPv6: the /64 (one site's hosts share it).
  const v6 = ipv6Bytes(host);
  return v6 ? `${Buffer.from(v6.subarray(0, 8)).toString('hex')}::/64` : host;
}

const V4_MASK = [0x03, 0x0f, 0x3f, 0xff];
/** BEP 42 for IPv6: the first 8 bytes (the /64) under this mask. */
const V6_MASK = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/** The 32-bit crc32c of the masked address with `r` (0-7) in its top bits (BEP 42), or undefined for a host that is no IP address. */
function idCrc(host: string, r: number): number | undefined {
  const v4 = ipv4Bytes(host);
  const ip = v4 ?? ipv6Bytes(host)?.subarray(0, 8);
  if (!ip) return undefined;
  const mask = v4 ? V4_MASK : V6_MASK;
  const masked = Uint8Array.from(ip, (b, i) => b & mask[i]!);
  masked[0]! |= (r & 0x7) << 5;
  return crc32c(masked);
}

/**
 * A BEP 42 node id for `host`: the 21 bits from the crc, then random bytes,
 * and `rand` (0-255; its low 3 bits are r) as the last byte. `rest` fills
 * bytes 2 (low 3 bits) to 18, random by default (tests pass the BEP's).
 */
export function bep42NodeId(host: string, rand = randomBytes(1)[0]!, rest: Uint8Array = randomBytes(20)): Uint8Array {
  const crc = idCrc(host, rand & 0x7);
  if (crc === undefined) throw new RangeError(`BEP 42 needs an IPv4 address, got ${host}`);
  const id = Uint8Array.from(rest.subarray(0, 20));
  id[0] = crc >>> 24;
  id[1] = (crc >>> 16) & 0xff;
  id[2] = ((crc >>> 8) & 0xf8) | (id[2]! & 0x07);
  id[19] = rand & 0xff;
  return id;
}

/** True when `id`'s first 21 bits match `host` (BEP 42). False for hosts it cannot be checked against (not IPv4). */
export function bep42Matches(id: Uint8Array, host: string): boolean {
  if (id.length !== 20) return false;
  const crc = idCrc(host, id[19]! & 0x7);
  if (crc === undefined) return false;
  return id[0] === crc >>> 24 && id[1] === ((crc >>> 16) & 0xff) && (id[2]! & 0xf8) === ((crc >>> 8) & 0xf8);
}

/** BEP 42 as the routing table applies it: nodes on exempt (local, loopback) addresses always pass. */
export function nodeIdVerified(id: Uint8Array, host: string): boolean {
  return addressClass(host) !== 'public' || bep42Matches(id, host);
}

/** A concrete public IPv4 address (not 0.0.0.0, multicast or a BEP 42 exempt range): one whose node id others can check. */
export function isPublicUnicast(host: string): boolean {
  const ip = ipv4Bytes(host);
  if (!ip || addressClass(host) !== 'public') return false;
  return ip[0]! !== 0 && ip[0]! < 224;
}

/** Lookup diversity groups of an address (lookup.ts) under `settings`: its IP, and its /24 if public. */
export function addressGroups(host: string, s: Settings): AddressGroup[] {
  const cls = addressClass(host);
  const perAddress = cls === 'loopback' ? s.dhtMaxNodesPerLoopbackAddress : s.dhtMaxNodesPerAddress;
  const groups: AddressGroup[] = perAddress > 0 ? [{ key: host, limit: perAddress }] : [];
  if (cls === 'public' && s.dhtMaxNodesPerSubnet > 0) groups.push({ key: subnetOf(host), limit: s.dhtMaxNodesPerSubnet });
  return groups;
}
