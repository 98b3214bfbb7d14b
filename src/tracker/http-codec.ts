/**
 * Pure codec of the HTTP tracker protocol (BEP 3 announce, BEP 23 compact
 * peers): query strings in, typed requests out on the server side; typed
 * requests in, URLs out and bencoded replies in, typed replies out on the
 * client side. No sockets, no timers. BEP 48 scrape, which shares the query
 * and reply helpers here, is in http-scrape.ts.
 *
 * `info_hash` and `peer_id` travel as percent-encoded raw bytes, which is not
 * UTF-8: URLSearchParams would turn them into U+FFFD, so queries are split
 * and percent-decoded here byte by byte.
 */
import { decode, encode, isBytes, isDict, isInt, isList, type BDict, type BValue } from '../bencode/index.js';
import { BencodeError, TrackerError } from '../errors.js';
import { utf8OrUndefined } from '../util/bytes.js';
import { decodeCompactPeers, decodeCompactPeers6, encodeCompactPeers, encodeCompactPeers6 } from '../wire/compact.js';

export type AnnounceEvent = 'started' | 'completed' | 'stopped';

/** One peer as a tracker hands it out. `peerId` is absent in compact and `no_peer_id` replies. */
export interface TrackerPeer {
  host: string;
  port: number;
  peerId?: Uint8Array;
  /** Its BEP 23 compact form (6 bytes), when the tracker keeps it ready; `host` and `port` say the same. */
  compact?: Uint8Array;
}

/** An announce as the server reads it from the query string. */
/** The announce fields both sides share (BEP 3). */
export interface AnnounceFields {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event?: AnnounceEvent;
  trackerId?: string;
}

export interface HttpAnnounceRequest extends AnnounceFields {
  /** Absent when the client did not say; the registry applies its default. */
  numwant?: number;
  /** BEP 23: compact unless the client sends `compact=0`. */
  compact: boolean;
  noPeerId: boolean;
  key?: string;
  /** The `ip` parameter as given; the server ignores it (see server.ts). */
  ip?: string;
}

export interface AnnounceReply {
  interval: number;
  minInterval?: number;
  complete?: number;
  incomplete?: number;
  trackerId?: string;
  warning?: string;
  peers: TrackerPeer[];
}

/** Longest query string the server parses; real announces are a few hundred bytes. */
export const MAX_QUERY_BYTES = 8 * 1024;

// --- query strings ------------------------------------------------------------

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/** Percent-decodes to raw bytes (`+` is a space, as in forms). Throws on a broken escape. */
export function percentDecode(text: string, field: string): Uint8Array {
  const out = new Uint8Array(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hi = hexVal(text.charCodeAt(i + 1));
      const lo = hexVal(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) throw new TrackerError(`${field}: broken percent escape`);
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c === 0x2b) {
      out[n++] = 0x20;
    } else if (c > 0x7e || c < 0x20) {
      // A URL is ASCII; anything else came through unencoded and is refused.
      throw new TrackerError(`${field}: character outside URL ASCII`);
    } else {
      out[n++] = c;
    }
  }
  return out.subarray(0, n);
}

const UNRESERVED = /[A-Za-z0-9\-._~]/;
/** Percent-encodes raw bytes, leaving RFC 3986 unreserved characters as they are. */
export function percentEncode(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) {
    const ch = String.fromCharCode(b);
    s += UNRESERVED.test(ch) ? ch : '%' + (b < 16 ? '0' : '') + b.toString(16).toUpperCase();
  }
  return s;
}

/** Splits a query string (without `?`) into raw-byte values per key. Keys are ASCII. */
export function parseQuery(query: string): Map<string, Uint8Array[]> {
  if (query.length > MAX_QUERY_BYTES) throw new TrackerError(`query string longer than ${MAX_QUERY_BYTES} bytes`);
  const out = new Map<string, Uint8Array[]>();
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const rawKey = eq < 0 ? part : part.slice(0, eq);
    const key = Buffer.from(percentDecode(rawKey, 'query key')).toString('latin1');
    const value = percentDecode(eq < 0 ? '' : part.slice(eq + 1), key);
    const list = out.get(key);
    if (list) list.push(value);
    else out.set(key, [value]);
  }
  return out;
}

/** The value of `key`; identity fields given twice are ambiguous and refused, others take the last. */
function one(q: Map<string, Uint8Array[]>, key: string): Uint8Array | undefined {
  const list = q.get(key);
  if (!list) return undefined;
  if (list.length > 1 && STRICT_KEYS.has(key)) throw new TrackerError(`${key}: given more than once`);
  return list[list.length - 1];
}
const STRICT_KEYS = new Set(['info_hash', 'peer_id', 'port']);

function text(q: Map<string, Uint8Array[]>, key: string): string | undefined {
  const v = one(q, key);
  return v === undefined ? undefined : Buffer.from(v).toString('latin1');
}

function requireBytes20(q: Map<string, Uint8Array[]>, key: string): Uint8Array {
  const v = one(q, key);
  if (v === undefined) throw new TrackerError(`missing ${key}`);
  if (v.length !== 20) throw new TrackerError(`${key}: expected 20 bytes, got ${v.length}`);
  return v;
}

/** A decimal integer within [0, max]; absent -> undefined. */
function optInt(q: Map<string, Uint8Array[]>, key: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const s = text(q, key);
  if (s === undefined) return undefined;
  if (!/^\d{1,16}$/.test(s)) throw new TrackerError(`${key}: not a non-negative integer`);
  const n = Number(s);
  if (n > max) throw new TrackerError(`${key}: out of range`);
  return n;
}

function reqInt(q: Map<string, Uint8Array[]>, key: string, max?: number): number {
  const n = optInt(q, key, max);
  if (n === undefined) throw new TrackerError(`missing ${key}`);
  return n;
}

/** Parses an announce query (BEP 3). Anything malformed throws a TrackerError naming the field. */
export function parseAnnounceQuery(query: string): HttpAnnounceRequest {
  const q = parseQuery(query);
  const infoHash = requireBytes20(q, 'info_hash');
  const peerId = requireBytes20(q, 'peer_id');
  const port = reqInt(q, 'port', 65535);
  if (port === 0) throw new TrackerError('port: 0 is not a listening port');
  const ev = text(q, 'event');
  let event: AnnounceEvent | undefined;
  if (ev === 'started' || ev === 'completed' || ev === 'stopped') event = ev;
  else if (ev !== undefined && ev !== '' && ev !== 'empty') throw new TrackerError(`event: unknown value`);
  const compact = text(q, 'compact');
  const req: HttpAnnounceRequest = {
    infoHash,
    peerId,
    port,
    // Some clients omit the counters on `stopped`; treat a missing one as 0.
    uploaded: optInt(q, 'uploaded') ?? 0,
    downloaded: optInt(q, 'downloaded') ?? 0,
    left: optInt(q, 'left') ?? 0,
    compact: compact !== '0',
    noPeerId: text(q, 'no_peer_id') === '1',
  };
  if (event) req.event = event;
  const numwant = optInt(q, 'numwant');
  if (numwant !== undefined) req.numwant = numwant;
  const key = text(q, 'key');
  if (key !== undefined) req.key = key;
  const trackerId = text(q, 'trackerid');
  if (trackerId !== undefined) req.trackerId = trackerId;
  const ip = text(q, 'ip');
  if (ip !== undefined) req.ip = ip;
  return req;
}

// --- server replies -------------------------------------------------------------

/**
 * `peers6`: the asker came over IPv6, so it also gets the swarm's IPv6 peers
 * in a BEP 7 `peers6` list (compact replies only; an IPv4 asker gets `peers`
 * alone, and a non-compact list carries both families in `ip`).
 */
export function encodeAnnounceReply(reply: AnnounceReply, opts: { compact: boolean; noPeerId: boolean; peers6?: boolean }): Uint8Array {
  const d: Record<string, unknown> = { interval: reply.interval };
  if (reply.minInterval !== undefined) d['min interval'] = reply.minInterval;
  if (reply.complete !== undefined) d.complete = reply.complete;
  if (reply.incomplete !== undefined) d.incomplete = reply.incomplete;
  if (reply.trackerId !== undefined) d['tracker id'] = reply.trackerId;
  if (reply.warning !== undefined) d['warning message'] = reply.warning;
  if (opts.compact) {
    d.peers = encodeCompactPeers(reply.peers);
    if (opts.peers6) d.peers6 = encodeCompactPeers6(reply.peers);
  } else {
    d.peers = reply.peers.map((p) => {
      const e: Record<string, unknown> = { ip: p.host, port: p.port };
      if (!opts.noPeerId && p.peerId) e['peer id'] = p.peerId;
      return e;
    });
  }
  return encode(d);
}

export function encodeFailure(reason: string): Uint8Array {
  return encode({ 'failure reason': reason });
}

// --- client side ------------------------------------------------------------------

export interface AnnounceParams extends AnnounceFields {
  numwant?: number;
  key?: number;
}

/** The announce URL with our query appended (keeps any query the URL already has, e.g. a passkey). */
export function buildAnnounceUrl(base: string, p: AnnounceParams): string {
  const parts = [
    `info_hash=${percentEncode(p.infoHash)}`,
    `peer_id=${percentEncode(p.peerId)}`,
    `port=${p.port}`,
    `uploaded=${p.uploaded}`,
    `downloaded=${p.downloaded}`,
    `left=${p.left}`,
    'compact=1',
  ];
  if (p.event) parts.push(`event=${p.event}`);
  if (p.numwant !== undefined) parts.push(`numwant=${p.numwant}`);
  if (p.key !== undefined) parts.push(`key=${(p.key >>> 0).toString(16).padStart(8, '0')}`);
  if (p.trackerId !== undefined) parts.push(`trackerid=${percentEncode(Buffer.from(p.trackerId, 'latin1'))}`);
  return base + (base.includes('?') ? '&' : '?') + parts.join('&');
}

function textField(v: BValue | undefined): string | undefined {
  return isBytes(v) ? Buffer.from(v).toString('utf8') : undefined;
}

export function failureOf(d: BDict): void {
  const f = d['failure reason'];
  if (f !== undefined) throw new TrackerError(`tracker refused: ${textField(f) ?? 'unreadable failure reason'}`);
}

export function nonNegInt(d: BDict, key: string): number | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (!isInt(v) || v < 0) throw new TrackerError(`reply ${key}: not a non-negative integer`);
  return v;
}

export function decodeDict(body: Uint8Array, what: string): BDict {
  let v: BValue;
  try {
    v = decode(body, { maxDepth: 8 });
  } catch (err) {
    if (err instanceof BencodeError) throw new TrackerError(`${what}: not bencoded: ${err.message}`);
    throw err;
  }
  if (!isDict(v)) throw new TrackerError(`${what}: not a dictionary`);
  return v;
}

/** Parses an announce reply; a `failure reason` becomes a TrackerError carrying it. */
export function parseAnnounceReply(body: Uint8Array): AnnounceReply {
  const d = decodeDict(body, 'announce reply');
  failureOf(d);
  const interval = nonNegInt(d, 'interval');
  if (interval === undefined) throw new TrackerError('reply interval: missing');
  const reply: AnnounceReply = { interval, peers: [] };
  const mi = nonNegInt(d, 'min interval');
  if (mi !== undefined) reply.minInterval = mi;
  const complete = nonNegInt(d, 'complete');
  if (complete !== undefined) reply.complete = complete;
  const incomplete = nonNegInt(d, 'incomplete');
  if (incomplete !== undefined) reply.incomplete = incomplete;
  const tid = textField(d['tracker id']);
  if (tid !== undefined) reply.trackerId = tid;
  const warning = textField(d['warning message']);
  if (warning !== undefined) reply.warning = warning;
  const peers = d.peers;
  if (isBytes(peers)) reply.peers = decodeCompactPeers(peers, { error: (m) => new TrackerError(m) });
  else if (isList(peers)) {
    for (const p of peers) {
      if (!isDict(p)) continue;
      const ip = isBytes(p.ip) ? utf8OrUndefined(p.ip) : undefined;
      const port = p.port;
      if (ip === undefined || !isInt(port) || port <= 0 || port > 65535) continue; // skip one bad entry, keep the rest
      const peer: TrackerPeer = { host: ip, port };
      if (isBytes(p['peer id'])) peer.peerId = p['peer id'];
      reply.peers.push(peer);
    }
  } else if (peers !== undefined) throw new TrackerError('reply peers: neither a string nor a list');
  // BEP 7 IPv6 peers: 18 bytes each; a list of any other length is refused like a bad `peers`.
  const peers6 = d.peers6;
  if (isBytes(peers6)) reply.peers.push(...decodeCompactPeers6(peers6, { field: 'peers6', error: (m) => new TrackerError(m) }));
  else if (peers6 !== undefined) throw new TrackerError('reply peers6: not a byte string');
  return reply;
}
