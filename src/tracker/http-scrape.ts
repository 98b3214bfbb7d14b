/**
 * Pure codec of the HTTP tracker scrape (BEP 48), both sides: the query a
 * server parses and the reply it writes; the URL a client builds and the
 * reply it reads. Query strings and bencoded replies are read with the
 * helpers of http-codec.ts.
 */
import { decode, dictEntries, encode, isDict } from '../bencode/index.js';
import { TrackerError } from '../errors.js';
import { toHex, utf8OrUndefined } from '../util/bytes.js';
import { decodeDict, failureOf, nonNegInt, parseQuery, percentEncode } from './http-codec.js';

export interface ScrapeCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface ScrapeEntry extends ScrapeCounts {
  infoHash: Uint8Array;
}

/** BEP 48 scrapes of more hashes than this are refused (a URL holds about this many anyway). */
export const MAX_SCRAPE_HASHES = 100;

// --- server side ----------------------------------------------------------------

/** Parses a scrape query: zero or more `info_hash` values (zero = all, which we refuse at the server). */
export function parseScrapeQuery(query: string): Uint8Array[] {
  const q = parseQuery(query);
  const list = q.get('info_hash') ?? [];
  if (list.length > MAX_SCRAPE_HASHES) throw new TrackerError(`info_hash: more than ${MAX_SCRAPE_HASHES} in one scrape`);
  for (const h of list) if (h.length !== 20) throw new TrackerError(`info_hash: expected 20 bytes, got ${h.length}`);
  return list;
}

function bstr(s: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`${s.length}:`), Buffer.from(s)]);
}

/**
 * BEP 48 scrape reply. Written by hand because its keys are raw 20-byte
 * info-hashes, which a JS object cannot hold as keys without mangling them.
 * Keys are sorted as raw bytes, as bencode requires.
 */
export function encodeScrapeReply(entries: ScrapeEntry[]): Uint8Array {
  const sorted = [...entries].sort((a, b) => Buffer.compare(a.infoHash, b.infoHash));
  const parts: Buffer[] = [Buffer.from('d5:filesd')];
  for (const e of sorted) {
    parts.push(bstr(e.infoHash));
    parts.push(Buffer.from(encode({ complete: e.complete, downloaded: e.downloaded, incomplete: e.incomplete })));
  }
  parts.push(Buffer.from('ee'));
  return Buffer.concat(parts);
}

// --- client side ----------------------------------------------------------------

/** BEP 48: the scrape URL is the announce URL with its last `announce` path segment renamed; undefined if it has none. */
export function scrapeUrlFor(announceUrl: string): string | undefined {
  const u = new URL(announceUrl);
  const slash = u.pathname.lastIndexOf('/');
  const last = u.pathname.slice(slash + 1);
  if (!last.startsWith('announce')) return undefined;
  u.pathname = u.pathname.slice(0, slash + 1) + 'scrape' + last.slice('announce'.length);
  return u.toString();
}

export function buildScrapeUrl(scrapeBase: string, infoHashes: Uint8Array[]): string {
  const q = infoHashes.map((h) => `info_hash=${percentEncode(h)}`).join('&');
  return scrapeBase + (scrapeBase.includes('?') ? '&' : '?') + q;
}

/** Parses a BEP 48 scrape reply into counts per hex info-hash. */
export function parseScrapeReply(body: Uint8Array): Map<string, ScrapeCounts> {
  const d = decodeDict(body, 'scrape reply');
  failureOf(d);
  // `files` has binary keys: walk it with dictEntries on the raw bytes.
  let filesStart = -1;
  for (const e of dictEntries(body, 0)) {
    if (Buffer.from(e.key).toString('latin1') === 'files') filesStart = e.value.start;
  }
  const out = new Map<string, ScrapeCounts>();
  if (filesStart < 0) return out;
  if (body[filesStart] !== 0x64) throw new TrackerError('scrape reply files: not a dictionary');
  for (const e of dictEntries(body, filesStart)) {
    const key = scrapeKey(e.key);
    if (!key) continue;
    const v = decode(body.subarray(e.value.start, e.value.end));
    if (!isDict(v)) continue;
    out.set(toHex(key), {
      complete: nonNegInt(v, 'complete') ?? 0,
      incomplete: nonNegInt(v, 'incomplete') ?? 0,
      downloaded: nonNegInt(v, 'downloaded') ?? 0,
    });
  }
  return out;
}

/**
 * A scrape key as 20 raw bytes. Some trackers (bittorrent-tracker's server
 * among them) write the info-hash's bytes as Latin-1 characters re-encoded
 * in UTF-8, giving 20 to 40 bytes; undoing that recovers the hash.
 */
function scrapeKey(raw: Uint8Array): Uint8Array | undefined {
  if (raw.length === 20) return raw;
  const text = utf8OrUndefined(raw);
  if (text === undefined || text.length !== 20) return undefined;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0xff) return undefined;
  return Buffer.from(text, 'latin1');
}
