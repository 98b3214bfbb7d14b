/**
 * Pure codec of Local Service Discovery announces (BEP 14): an HTTP-like
 * datagram multicast to 239.192.152.143:6771 (IPv4) or [ff15::efc0:988f]:6771
 * (IPv6):
 *
 *   BT-SEARCH * HTTP/1.1\r\n
 *   Host: 239.192.152.143:6771\r\n
 *   Port: <our peer wire TCP port>\r\n
 *   Infohash: <40 hex>\r\n          (one or more)
 *   cookie: <opaque>\r\n            (optional; lets a sender drop its own announces)
 *   \r\n
 *   \r\n
 *
 * Header names are case-insensitive (libtorrent writes `cookie`, others
 * `Cookie`). Anyone on the LAN can send anything to the group, so parsing is
 * bounded: a datagram, its lines, its infohash lines and each value have a
 * hard limit, and anything outside them is a typed refusal, never a throw.
 */
import { toHex } from '../util/bytes.js';

export const LSD_IPV4_GROUP = '239.192.152.143';
export const LSD_IPV6_GROUP = 'ff15::efc0:988f';
export const LSD_PORT = 6771;

/** The request line every BEP 14 announce starts with. */
const REQUEST_LINE = 'BT-SEARCH * HTTP/1.1';
/**
 * Largest datagram read. One Ethernet frame holds ~1472 bytes of UDP payload;
 * an announce of LSD_MAX_INFOHASHES hashes fits well under it, and nothing
 * legitimate needs fragments.
 */
export const LSD_MAX_DATAGRAM_BYTES = 1472;
/** Header lines read before giving up (the request line and the blank end not counted). */
export const LSD_MAX_HEADER_LINES = 40;
/**
 * Infohash lines per datagram, sent or accepted. 52 bytes each, so 20 keep a
 * datagram near 1.1 KB; a daemon with more torrents sends several datagrams.
 */
export const LSD_MAX_INFOHASHES = 20;
/** Longest cookie sent or accepted (ours are 16 hex digits; libtorrent's are short too). */
export const LSD_MAX_COOKIE_CHARS = 64;

export interface LsdAnnounce {
  /** The sender's peer wire TCP port (1..65535). */
  port: number;
  /** Lower-case 40-hex info-hashes, distinct, in the order sent. */
  infoHashes: string[];
  /** The sender's cookie, when it sent one. */
  cookie?: string;
  /** The Host header as sent (not checked against the group: clients differ). */
  host?: string;
}

export type LsdRefusal =
  | 'too-large'
  | 'not-bt-search'
  | 'too-many-lines'
  | 'bad-line'
  | 'bad-port'
  | 'no-port'
  | 'bad-infohash'
  | 'no-infohash'
  | 'too-many-infohashes'
  | 'bad-cookie';

export type LsdParseResult = { ok: true; announce: LsdAnnounce } | { ok: false; reason: LsdRefusal };

const HEX40 = /^[0-9a-fA-F]{40}$/;
/** A header name: a token of HTTP (RFC 9110), bounded. */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,32}$/;
/** Printable ASCII only in values we keep (a cookie is echoed into logs). */
const PRINTABLE = /^[\x21-\x7e]*$/;
/** Longest header line read (a Host with an IPv6 group and port is ~28 characters). */
const MAX_LINE_CHARS = 256;

/** `Host` value for a group: `239.192.152.143:6771` or `[ff15::efc0:988f]:6771`. */
export function lsdHostHeader(group: string, port: number = LSD_PORT): string {
  return group.includes(':') ? `[${group}]:${port}` : `${group}:${port}`;
}

export interface LsdEncodeInput {
  /** The Host header (see lsdHostHeader). */
  host: string;
  port: number;
  /** 1..LSD_MAX_INFOHASHES info-hashes, 20 bytes or 40 hex each. */
  infoHashes: readonly (Uint8Array | string)[];
  cookie?: string;
}

/** One announce datagram. Throws on misuse (a bad port, hash or cookie, none or too many hashes). */
export function encodeLsdAnnounce(input: LsdEncodeInput): Uint8Array {
  if (!Number.isInteger(input.port) || input.port < 1 || input.port > 65535) throw new RangeError(`LSD port out of range: ${input.port}`);
  const n = input.infoHashes.length;
  if (n < 1 || n > LSD_MAX_INFOHASHES) throw new RangeError(`an LSD announce carries 1..${LSD_MAX_INFOHASHES} info-hashes, got ${n}`);
  if (!/^[\x21-\x7e]{1,64}$/.test(input.host)) throw new RangeError(`bad LSD Host header: ${JSON.stringify(input.host)}`);
  const lines = [REQUEST_LINE, `Host: ${input.host}`, `Port: ${input.port}`];
  for (const ih of input.infoHashes) {
    const hex = typeof ih === 'string' ? ih : toHex(ih);
    if (!HEX40.test(hex)) throw new RangeError(`bad info-hash for LSD: ${JSON.stringify(typeof ih === 'string' ? ih : `${ih.length} bytes`)}`);
    lines.push(`Infohash: ${hex.toLowerCase()}`);
  }
  if (input.cookie !== undefined) {
    if (input.cookie.length === 0 || input.cookie.length > LSD_MAX_COOKIE_CHARS || !PRINTABLE.test(input.cookie)) throw new RangeError(`bad LSD cookie: ${JSON.stringify(input.cookie)}`);
    lines.push(`cookie: ${input.cookie}`);
  }
  // BEP 14 ends the header with an empty line and adds one more; libtorrent sends both.
  return new Uint8Array(Buffer.from(lines.join('\r\n') + '\r\n\r\n\r\n', 'latin1'));
}

/** Splits info-hashes into groups that each fit one announce. */
export function batchInfoHashes<T>(hashes: readonly T[], max: number = LSD_MAX_INFOHASHES): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < hashes.length; i += max) out.push(hashes.slice(i, i + max));
  return out;
}

/**
 * Reads one datagram. Unknown headers are skipped (within the line limit);
 * a duplicate Port or cookie is refused, as is any Infohash that is not 40
 * hex digits (libtorrent sends v1 or truncated v2 hashes, both 40 hex).
 */
export function parseLsdAnnounce(datagram: Uint8Array): LsdParseResult {
  const refuse = (reason: LsdRefusal): LsdParseResult => ({ ok: false, reason });
  if (datagram.length > LSD_MAX_DATAGRAM_BYTES) return refuse('too-large');
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('latin1');
  // Lines end in CRLF; a bare LF is accepted too (some clients' announces).
  const lines = text.split(/\r?\n/);
  if (lines[0] !== REQUEST_LINE) return refuse('not-bt-search');
  let port: number | undefined;
  let cookie: string | undefined;
  let host: string | undefined;
  const hashes: string[] = [];
  const seen = new Set<string>();
  let headerLines = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') break; // the end of the header; what follows (the extra CRLF) is ignored
    if (++headerLines > LSD_MAX_HEADER_LINES) return refuse('too-many-lines');
    if (line.length > MAX_LINE_CHARS) return refuse('bad-line');
    const colon = line.indexOf(':');
    if (colon <= 0) return refuse('bad-line');
    const name = line.slice(0, colon);
    if (!HEADER_NAME.test(name)) return refuse('bad-line');
    const value = line.slice(colon + 1).trim();
    switch (name.toLowerCase()) {
      case 'port': {
        if (port !== undefined || !/^[0-9]{1,5}$/.test(value)) return refuse('bad-port');
        const p = Number(value);
        if (p < 1 || p > 65535) return refuse('bad-port');
        port = p;
        break;
      }
      case 'infohash': {
        if (!HEX40.test(value)) return refuse('bad-infohash');
        const hex = value.toLowerCase();
        if (seen.has(hex)) break;
        if (hashes.length >= LSD_MAX_INFOHASHES) return refuse('too-many-infohashes');
        seen.add(hex);
        hashes.push(hex);
        break;
      }
      case 'cookie':
        if (cookie !== undefined || value.length === 0 || value.length > LSD_MAX_COOKIE_CHARS || !PRINTABLE.test(value)) return refuse('bad-cookie');
        cookie = value;
        break;
      case 'host':
        if (PRINTABLE.test(value)) host = value;
        break;
      default:
        break; // headers of other clients' extensions
    }
  }
  if (port === undefined) return refuse('no-port');
  if (hashes.length === 0) return refuse('no-infohash');
  return { ok: true, announce: { port, infoHashes: hashes, ...(cookie !== undefined ? { cookie } : {}), ...(host !== undefined ? { host } : {}) } };
}
