/**
 * How a KV value lives in BEP 44 items. Pure: bytes in, typed values out.
 *
 * - A value whose bencoded form fits in one item (at most 1000 bytes) is a
 *   plain byte string in the mutable item, as before: libtorrent and any
 *   BEP 44 client read it.
 * - A larger value (up to MAX_KV_VALUE_BYTES, 64 KiB) is cut into chunks of
 *   KV_CHUNK_BYTES, each an immutable item (its target is the SHA-1 of its
 *   bencoded form). 64 KiB is 67 chunks, and 67 targets of 20 bytes do not
 *   fit in one item, so the targets go in "index" immutable items of up to
 *   KV_TARGETS_PER_INDEX targets each, and the mutable item holds a manifest:
 *     d 3:_kv 3:big  3:len i<bytes>e  1:n i<chunks>e  4:sha1 20:<SHA-1 of the value>
 *       3:idx <20 bytes per index item> e
 *   (keys in bencode order). A reader checks every count and size against
 *   `len` before fetching anything, every chunk against its target, and the
 *   whole against `sha1`.
 * - A deleted key holds a tombstone `d 3:_kv 3:del e` at a higher seq.
 *
 * Plain values are always byte strings, so a dict with `_kv` is ours; any
 * other value another client stored is shown as its bencoded form.
 *
 * The key index of a namespace (`kv list`) is a mutable item under
 * KV_INDEX_SALT, a salt no key can take (0xFF never occurs in UTF-8); its
 * value is the bencoded list of keys, stored like any value (so a big
 * index is chunked the same way).
 */
import { KvError } from '../errors.js';
import { decode, encode, type BDict, type BValue } from '../bencode/index.js';
import { sha1 } from '../util/hash.js';
import { bytesEqual } from '../util/bytes.js';
import { MAX_VALUE_BYTES } from './bep44.js';

/** The largest value `kv put` takes; beyond it share a file (`peer share`). */
export const MAX_KV_VALUE_BYTES = 64 * 1024;
/** Bytes of a value per chunk: "990:" + 990 bytes = 994 bytes bencoded, under BEP 44's 1000. */
export const KV_CHUNK_BYTES = 990;
/** Chunk targets per index item: 49 x 20 = 980 bytes, "980:" + 980 = 984 bencoded. */
export const KV_TARGETS_PER_INDEX = 49;
/** The most chunks a manifest may name (a value of MAX_KV_VALUE_BYTES). */
export const MAX_KV_CHUNKS = Math.ceil(MAX_KV_VALUE_BYTES / KV_CHUNK_BYTES);
/** The salt of a namespace's key index: starts with 0xFF, which no UTF-8 key contains. */
export const KV_INDEX_SALT = new Uint8Array([0xff, ...new TextEncoder().encode('kv:index')]);
/** The most keys an index lists (it must also fit in MAX_KV_VALUE_BYTES bencoded). */
export const MAX_KV_INDEX_KEYS = 2_000;

const te = new TextEncoder();
const MARKER = '_kv';

export interface KvManifest {
  /** Bytes of the whole value. */
  length: number;
  chunks: number;
  sha1: Uint8Array;
  /** Targets of the index items, in order. */
  indexTargets: Uint8Array[];
}

/** What the mutable item of a key holds. */
export type KvStoredValue =
  | { kind: 'plain'; bytes: Uint8Array }
  | { kind: 'big'; manifest: KvManifest }
  | { kind: 'deleted' }
  /** A value another client stored that is not a byte string: its bencoded form. */
  | { kind: 'other'; raw: Uint8Array };

/** The items that carry one value: the mutable item's `v`, and the immutable items (bencoded) it needs. */
export interface KvEncoded {
  v: BValue;
  /** Bencoded immutable items: chunks, then index items. Empty for a plain value. */
  children: Uint8Array[];
}

/** Whether `bytes` fit in the mutable item itself as a plain byte string. */
export function fitsInOneItem(bytes: Uint8Array): boolean {
  return encode(bytes).length <= MAX_VALUE_BYTES;
}

/** The items for a value (checked against MAX_KV_VALUE_BYTES by the caller). */
export function encodeKvValue(bytes: Uint8Array): KvEncoded {
  if (fitsInOneItem(bytes)) return { v: bytes, children: [] };
  if (bytes.length > MAX_KV_VALUE_BYTES) throw new RangeError(`value of ${bytes.length} bytes is over ${MAX_KV_VALUE_BYTES}`);
  const chunks: Uint8Array[] = [];
  const chunkTargets: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += KV_CHUNK_BYTES) {
    const raw = encode(bytes.subarray(at, at + KV_CHUNK_BYTES));
    chunks.push(raw);
    chunkTargets.push(sha1(raw));
  }
  const indexes: Uint8Array[] = [];
  for (let i = 0; i < chunkTargets.length; i += KV_TARGETS_PER_INDEX) {
    indexes.push(encode(Buffer.concat(chunkTargets.slice(i, i + KV_TARGETS_PER_INDEX))));
  }
  const v: BDict = {
    [MARKER]: te.encode('big'),
    idx: Buffer.concat(indexes.map((raw) => sha1(raw))),
    len: bytes.length,
    n: chunks.length,
    sha1: sha1(bytes),
  };
  return { v, children: [...chunks, ...indexes] };
}

export function tombstoneValue(): BValue {
  return { [MARKER]: te.encode('del') };
}

/** Reads the decoded `v` of a key's mutable item. A manifest that does not add up throws KvError (EKVBAD). */
export function decodeKvStored(v: BValue, vRaw: Uint8Array): KvStoredValue {
  if (v instanceof Uint8Array) return { kind: 'plain', bytes: v };
  if (typeof v !== 'object' || Array.isArray(v) || !(v[MARKER] instanceof Uint8Array)) return { kind: 'other', raw: vRaw };
  const marker = Buffer.from(v[MARKER]).toString('latin1');
  if (marker === 'del') return { kind: 'deleted' };
  if (marker !== 'big') throw bad(`unknown kind ${JSON.stringify(marker.slice(0, 16))}`);
  return { kind: 'big', manifest: checkManifest(v) };
}

function bad(why: string): KvError {
  return new KvError(`the stored value is malformed (${why}); it was not written by a conforming peer`, 'EKVBAD');
}

function checkManifest(d: BDict): KvManifest {
  const { len, n, idx } = d;
  const hash = d.sha1;
  if (typeof len !== 'number' || !Number.isSafeInteger(len) || len < 1 || len > MAX_KV_VALUE_BYTES) throw bad(`length ${String(len)} is not 1..${MAX_KV_VALUE_BYTES}`);
  const chunks = Math.ceil(len / KV_CHUNK_BYTES);
  if (n !== chunks) throw bad(`${String(n)} chunks for ${len} bytes, expected ${chunks}`);
  if (!(hash instanceof Uint8Array) || hash.length !== 20) throw bad('no 20-byte SHA-1');
  const indexItems = Math.ceil(chunks / KV_TARGETS_PER_INDEX);
  if (!(idx instanceof Uint8Array) || idx.length !== indexItems * 20) throw bad(`index targets of ${idx instanceof Uint8Array ? idx.length : 0} bytes, expected ${indexItems * 20}`);
  const indexTargets: Uint8Array[] = [];
  for (let i = 0; i < indexItems; i++) indexTargets.push(idx.subarray(i * 20, i * 20 + 20));
  return { length: len, chunks, sha1: hash, indexTargets };
}

/** The chunk targets an index item must hold (`i`-th index item of `m`), from its decoded value. */
export function decodeIndexItem(m: KvManifest, i: number, v: BValue): Uint8Array[] {
  const expected = Math.min(KV_TARGETS_PER_INDEX, m.chunks - i * KV_TARGETS_PER_INDEX);
  if (!(v instanceof Uint8Array) || v.length !== expected * 20) throw bad(`index item ${i} is not ${expected} targets`);
  const out: Uint8Array[] = [];
  for (let j = 0; j < expected; j++) out.push(v.subarray(j * 20, j * 20 + 20));
  return out;
}

/** The `i`-th chunk's bytes, checked for its size. */
export function decodeChunk(m: KvManifest, i: number, v: BValue): Uint8Array {
  const expected = Math.min(KV_CHUNK_BYTES, m.length - i * KV_CHUNK_BYTES);
  if (!(v instanceof Uint8Array) || v.length !== expected) throw bad(`chunk ${i} is not ${expected} bytes`);
  return v;
}

/** Joins the chunks and checks the whole against the manifest's SHA-1. */
export function assembleValue(m: KvManifest, chunks: Uint8Array[]): Uint8Array {
  const whole = Buffer.concat(chunks);
  if (whole.length !== m.length) throw bad(`${whole.length} bytes assembled, expected ${m.length}`);
  if (!bytesEqual(sha1(whole), m.sha1)) throw bad('the assembled value does not match its SHA-1');
  return whole;
}

// --- the key index -------------------------------------------------------------

/** The index's bytes: the bencoded list of keys (UTF-8), sorted. */
export function encodeKeyIndex(keys: Iterable<string>): Uint8Array {
  return encode([...new Set(keys)].sort().map((k) => te.encode(k)));
}

/** The keys of an index value; anything malformed is KvError (EKVBAD). */
export function decodeKeyIndex(bytes: Uint8Array): string[] {
  let list: BValue;
  try {
    list = decode(bytes, { maxDepth: 2 });
  } catch {
    throw bad('the key index is not bencoded');
  }
  if (!Array.isArray(list) || list.length > MAX_KV_INDEX_KEYS) throw bad('the key index is not a list of at most ' + MAX_KV_INDEX_KEYS + ' keys');
  const keys: string[] = [];
  for (const k of list) {
    if (!(k instanceof Uint8Array) || k.length === 0 || k.length > 64) throw bad('a key in the index is not 1..64 bytes');
    keys.push(Buffer.from(k).toString('utf8'));
  }
  return keys;
}
