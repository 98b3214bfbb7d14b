/**
 * The list of items a node published (ItemPublisher), kept in its --state
 * as `kv-published.bencode` so that a restarted peer puts them again
 * (issue 15, item 2). Written atomically; read defensively (a damaged file
 * or entry is skipped with a warning, never a crash).
 *
 * File: bencoded `d 5:itemsl ... e 7:versioni1e e`, each item either
 *   d 1:v <bencoded value> e                                  (immutable)
 *   d 1:c l <bencoded immutable items> e 1:k <32> 4:salt <..> 3:seq i..e 3:sig <64> 1:v <..> e   (mutable)
 * `c` are the immutable items a mutable one needs (the chunks and index
 * items of a big KV value): put again with it.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode, type BDict, type BValue } from '../bencode/index.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { MAX_VALUE_BYTES, immutableTarget, mutableTarget, type MutableItem } from './bep44.js';
import { toHex } from '../util/bytes.js';

export const PUBLISHED_FILE = 'kv-published.bencode';

export interface PublishedEntry {
  kind: 'immutable' | 'mutable';
  /** Bencoded value. */
  v: Uint8Array;
  mutable?: MutableItem;
  /** Bencoded immutable items put (and republished) before the mutable one. */
  children?: Uint8Array[];
}

/** Bytes an entry takes (what the list's byte cap counts). */
export function entryBytes(e: PublishedEntry): number {
  return e.v.length + (e.mutable ? 32 + 64 + (e.mutable.salt?.length ?? 0) + 8 : 0) + (e.children ?? []).reduce((n, c) => n + c.length, 0);
}

/** The hex target of an entry (the key of the publisher's map). */
export function entryTarget(e: PublishedEntry): string {
  return toHex(e.mutable ? mutableTarget(e.mutable.k, e.mutable.salt) : immutableTarget(e.v));
}

export function encodePublished(entries: Iterable<PublishedEntry>): Uint8Array {
  const items: BDict[] = [];
  for (const e of entries) {
    if (!e.mutable) {
      items.push({ v: e.v });
      continue;
    }
    const m = e.mutable;
    items.push({ ...(e.children?.length ? { c: e.children } : {}), k: m.k, ...(m.salt ? { salt: m.salt } : {}), seq: m.seq, sig: m.sig, v: m.v });
  }
  return encode({ items, version: 1 });
}

/** The entries of a file's bytes; malformed entries are skipped (counted in `skipped`). */
export function decodePublished(bytes: Uint8Array): { entries: PublishedEntry[]; skipped: number } {
  const root = decode(bytes, { maxDepth: 6 });
  if (!isDict(root) || !Array.isArray(root.items)) throw new Error('not a list of published items');
  const entries: PublishedEntry[] = [];
  let skipped = 0;
  for (const it of root.items) {
    const e = readEntry(it);
    if (e) entries.push(e);
    else skipped++;
  }
  return { entries, skipped };
}

function isDict(v: BValue | undefined): v is BDict {
  return typeof v === 'object' && v !== null && !(v instanceof Uint8Array) && !Array.isArray(v);
}

function isItemBytes(v: BValue | undefined): v is Uint8Array {
  return v instanceof Uint8Array && v.length > 0 && v.length <= MAX_VALUE_BYTES;
}

function readEntry(it: BValue): PublishedEntry | undefined {
  if (!isDict(it) || !isItemBytes(it.v)) return undefined;
  if (it.k === undefined) return { kind: 'immutable', v: it.v };
  const { k, sig, seq, salt, c } = it;
  if (!(k instanceof Uint8Array) || k.length !== 32 || !(sig instanceof Uint8Array) || sig.length !== 64) return undefined;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (salt !== undefined && (!(salt instanceof Uint8Array) || salt.length === 0 || salt.length > 64)) return undefined;
  const children: Uint8Array[] = [];
  if (c !== undefined) {
    if (!Array.isArray(c)) return undefined;
    for (const x of c) {
      if (!isItemBytes(x)) return undefined;
      children.push(x);
    }
  }
  const mutable: MutableItem = { k, seq, sig, v: it.v, ...(salt ? { salt } : {}) };
  return { kind: 'mutable', v: it.v, mutable, ...(children.length ? { children } : {}) };
}

/** Reads `<stateDir>/kv-published.bencode`; none (or unreadable, with a warning) is an empty list. */
export async function loadPublished(stateDir: string, log: Logger, maxBytes = 256 * 1024 * 1024): Promise<PublishedEntry[]> {
  const file = join(stateDir, PUBLISHED_FILE);
  let bytes: Uint8Array;
  try {
    const size = (await stat(file)).size;
    if (size > maxBytes) {
      log.warn(`${file} is ${size} bytes, over the ${maxBytes} this node keeps; the items published before are not put again`);
      return [];
    }
    bytes = await readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') log.warn(`cannot read ${file}: ${errorMessage(err)}; the items published before are not put again`);
    return [];
  }
  try {
    const { entries, skipped } = decodePublished(bytes);
    if (skipped > 0) log.warn(`${file}: ${skipped} damaged entr${skipped === 1 ? 'y' : 'ies'} skipped`);
    return entries;
  } catch (err) {
    log.warn(`${file} is damaged (${errorMessage(err)}); the items published before are not put again`);
    return [];
  }
}

export async function savePublished(stateDir: string, entries: Iterable<PublishedEntry>): Promise<void> {
  await writeFileAtomic(join(stateDir, PUBLISHED_FILE), encodePublished(entries));
}
