/**
 * The BEP 44 items a node stores for others, kept in its `--state` folder
 * (issue 15, item 1) so that a restart loses nothing that has not expired.
 *
 * File `<stateDir>/dht-items.bencode`, replaced atomically:
 *   d 1:vi1e 5:itemsl <item>... e e
 * where each item is a dict with `t` (20-byte target), `v` (the raw
 * bencoded value), `x` (expiry, ms since the epoch) and, for a mutable item,
 * `k`, `seq`, `sig` and optionally `salt`. Expiry is wall-clock time, so an
 * item reloaded after a stop keeps what was left of its lifetime.
 *
 * Writes are batched: a change schedules one save `delayMs` later (not one
 * write per put), and stop() writes whatever is pending. The file is as
 * hostile as the network: every item is checked again on load (size, hash
 * or signature, target), a file too large or that does not parse is logged
 * and the node starts empty. Nothing in it can crash the node.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { decode, encode, isBytes, isDict, isInt, isList, type BValue } from '../bencode/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { bytesEqual } from '../util/bytes.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import { checkPut, MAX_SEQ } from './bep44.js';
import type { Item, ItemStore, StoredItem } from './stores.js';

export const ITEMS_FILE = 'dht-items.bencode';
const FORMAT_VERSION = 1;

export interface PersistedItem {
  target: Uint8Array;
  item: Item;
  expiresAt: number;
}

/** The state file's bytes for these items (pure). */
export function encodeItems(entries: Iterable<[string, StoredItem] | { target: Uint8Array; item: StoredItem }>): Uint8Array {
  const items: BValue[] = [];
  for (const e of entries) {
    const [target, item] = Array.isArray(e) ? [Buffer.from(e[0], 'hex'), e[1]] : [e.target, e.item];
    const d: Record<string, BValue> = { t: target, v: item.v, x: Math.floor(item.expiresAt) };
    if (item.kind === 'mutable') {
      d.k = item.k;
      d.seq = item.seq;
      d.sig = item.sig;
      if (item.salt) d.salt = item.salt;
    }
    items.push(d);
  }
  return encode({ v: FORMAT_VERSION, items });
}

/**
 * The items of a state file that still check out and have not expired at
 * `now`, and how many were refused (malformed, forged, expired). Throws
 * only when the file as a whole is not ours (does not parse, wrong shape).
 */
export function decodeItems(buf: Uint8Array, now: number): { items: PersistedItem[]; refused: number; expired: number } {
  const root = decode(buf, { maxDepth: 4 });
  if (!isDict(root) || root.v !== FORMAT_VERSION || !isList(root.items)) throw new Error('not a DHT item file of version 1');
  const items: PersistedItem[] = [];
  let refused = 0;
  let expired = 0;
  for (const e of root.items) {
    const parsed = parseItem(e);
    if (!parsed) {
      refused++;
      continue;
    }
    if (parsed.expiresAt <= now) {
      expired++;
      continue;
    }
    items.push(parsed);
  }
  return { items, refused, expired };
}

function parseItem(e: BValue): PersistedItem | undefined {
  if (!isDict(e) || !isBytes(e.t) || e.t.length !== 20 || !isBytes(e.v) || !isInt(e.x)) return undefined;
  const mutable = e.k !== undefined || e.sig !== undefined || e.seq !== undefined;
  try {
    if (!mutable) {
      if (!bytesEqual(checkPut(e.v), e.t)) return undefined;
      return { target: e.t, item: { kind: 'immutable', v: e.v }, expiresAt: e.x };
    }
    if (!isBytes(e.k) || e.k.length !== 32 || !isBytes(e.sig) || e.sig.length !== 64 || !isInt(e.seq) || e.seq < 0 || e.seq > MAX_SEQ) return undefined;
    if (e.salt !== undefined && !isBytes(e.salt)) return undefined;
    const salt = e.salt !== undefined && e.salt.length > 0 ? e.salt : undefined;
    // The signature and the target are checked again: the file may have been edited.
    if (!bytesEqual(checkPut(e.v, { k: e.k, sig: e.sig, seq: e.seq, ...(salt ? { salt } : {}) }), e.t)) return undefined;
    return { target: e.t, item: { kind: 'mutable', k: e.k, seq: e.seq, sig: e.sig, v: e.v, ...(salt ? { salt } : {}) }, expiresAt: e.x };
  } catch {
    return undefined;
  }
}

export interface ItemPersisterOptions {
  dir: string;
  store: ItemStore;
  log: Logger;
  /** A change is saved this long after it (one write for a burst of puts). */
  delayMs: number;
  /** A state file larger than this is not read (the store's byte cap, plus room for the encoding). */
  maxFileBytes: number;
  /** Wall-clock ms (expiry is stored as wall-clock time). */
  now: () => number;
}

/** Loads the item store from the state folder, and saves it (batched) while the node runs. */
export class ItemPersister {
  readonly #o: ItemPersisterOptions;
  readonly #path: string;
  #timer: NodeJS.Timeout | undefined;
  #dirty = false;
  #saving: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(opts: ItemPersisterOptions) {
    this.#o = opts;
    this.#path = join(opts.dir, ITEMS_FILE);
  }

  /** Fills the store from the file (none is fine; a bad one is logged and ignored); then watches it for changes. */
  async load(): Promise<number> {
    let loaded = 0;
    try {
      loaded = await this.#load();
    } catch (err) {
      this.#o.log.warn(`ignoring the stored DHT items in ${this.#path}: ${errorMessage(err)}; starting with none`);
    }
    this.#o.store.onChange = () => this.#changed();
    return loaded;
  }

  async #load(): Promise<number> {
    let size: number;
    try {
      size = (await stat(this.#path)).size;
    } catch {
      return 0; // no file yet
    }
    if (size > this.#o.maxFileBytes) throw new Error(`${size} bytes, more than the ${this.#o.maxFileBytes} its caps allow`);
    const { items, refused, expired } = decodeItems(await readFile(this.#path), this.#o.now());
    let loaded = 0;
    let full = 0;
    for (const p of items) {
      if (this.#o.store.restore(p.target, p.item, p.expiresAt)) loaded++;
      else full++;
    }
    if (refused > 0) this.#o.log.warn(`${this.#path}: ${refused} stored DHT item${refused === 1 ? '' : 's'} did not check out (hash, signature or format) and were dropped`);
    if (full > 0) this.#o.log.warn(`${this.#path}: ${full} stored DHT items over the store's caps were dropped`);
    this.#o.log.info(`reloaded ${loaded} stored DHT items${expired ? ` (${expired} had expired)` : ''}`);
    return loaded;
  }

  #changed(): void {
    this.#dirty = true;
    if (this.#timer || this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#save();
    }, this.#o.delayMs);
    this.#timer.unref();
  }

  /** One save at a time; a change during a save is saved by the next one. */
  #save(): Promise<void> {
    this.#saving = this.#saving.then(async () => {
      if (!this.#dirty) return;
      this.#dirty = false;
      try {
        await writeFileAtomic(this.#path, encodeItems(this.#o.store.entries()));
      } catch (err) {
        this.#dirty = true;
        this.#o.log.error(`saving the stored DHT items: ${errorMessage(err)}`);
      }
    });
    return this.#saving;
  }

  /** Writes what is pending and stops saving (the node is stopping). */
  async flush(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#save();
  }

  /** Stops saving without writing (an abrupt end, for tests and benches that simulate a crash). */
  abandon(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#o.store.onChange = undefined;
  }
}
