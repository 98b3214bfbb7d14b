/**
 * The key-value layer over BEP 44 that users see (DESIGN.md, "KV"): a key
 * is the salt of a mutable item; the writer's key pair is a namespace's
 * (derived from its name, so anyone who knows the name can write) or the
 * node's own identity (only it can write). Values are UTF-8 strings: up to
 * 1000 bytes bencoded they are plain byte strings (any BEP 44 client reads
 * them), larger ones up to 64 KiB are chunked into immutable items under a
 * manifest (kv-codec.ts). A delete writes a tombstone at a higher seq. Each
 * key pair keeps an index of its keys (a mutable item under a reserved
 * salt), updated on put and delete with a bounded compare-and-swap retry.
 *
 * Compare-and-swap (`cas`) is checked by the writer against the highest seq
 * it finds and by each storing node (BEP 44 error 301): it catches most
 * races between writers but is not a distributed lock.
 */
import { KvError, UsageError } from '../errors.js';
import { toHex, utf8 } from '../util/bytes.js';
import { MAX_SALT_BYTES, mutableTarget, namespaceKeyPair, type Ed25519KeyPair } from './bep44.js';
import {
  KV_INDEX_SALT, MAX_KV_INDEX_KEYS, MAX_KV_VALUE_BYTES, assembleValue, decodeChunk, decodeIndexItem, decodeKeyIndex, decodeKvStored,
  encodeKeyIndex, encodeKvValue, tombstoneValue, type KvManifest, type KvStoredValue,
} from './kv-codec.js';
import type { DhtItem, DhtNode } from './node.js';

export { MAX_KV_VALUE_BYTES } from './kv-codec.js';

export interface KvPutResult {
  target: string;
  publicKey: string;
  seq: number | null;
  stored: number;
  /** Whether the node keeps putting it again while it runs (and, with --state, after a restart). */
  republished?: boolean;
  /** Whether the namespace's key index (`list`) now agrees; false when updating it failed (the value itself was stored). */
  indexed?: boolean;
}

export interface KvGetResult {
  target: string;
  value: string;
  seq: number | null;
  publicKey: string | null;
}

/**
 * What a get found: `found` (value set), `deleted` (a tombstone), `not-found`
 * (nodes answered, none holds the key) or `unreachable` (no DHT node answered
 * at all, so nothing can be said about the key).
 */
export type KvStatus = 'found' | 'not-found' | 'deleted' | 'unreachable';

export interface KvLookupResult {
  status: KvStatus;
  target: string;
  publicKey: string;
  value: string | null;
  seq: number | null;
  /** DHT nodes that answered the lookup (0 also when this node itself held the item). */
  responded: number;
}

export interface KvOptions {
  namespace?: string;
  signal?: AbortSignal;
}

export interface KvReadOptions extends KvOptions {
  /** Another writer's public key (instead of a namespace or our identity). */
  owner?: Uint8Array;
}

/** The value as bytes; refuses one over 64 KiB with a hint to share a file instead (exit 2). */
export function kvValueBytes(value: string): Uint8Array {
  const bytes = utf8(value);
  if (bytes.length > MAX_KV_VALUE_BYTES) {
    throw new UsageError(`value too large: ${bytes.length} bytes, a KV value holds at most ${MAX_KV_VALUE_BYTES} bytes (64 KiB); share a file instead: peer share PATH --as NAME`);
  }
  return bytes;
}

/** The key as the BEP 44 salt (1..64 bytes of UTF-8). */
export function kvKeySalt(key: string): Uint8Array {
  const salt = utf8(key);
  if (salt.length === 0) throw new UsageError('key must not be empty');
  if (salt.length > MAX_SALT_BYTES) throw new UsageError(`key too long: ${salt.length} bytes, at most ${MAX_SALT_BYTES} (a key is the BEP 44 salt)`);
  return salt;
}

/** Byte-string values as UTF-8 text; anything else another client stored, as its bencoded form. */
export function kvValueText(item: DhtItem): string {
  const bytes = item.v instanceof Uint8Array ? item.v : item.vRaw;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
}

export class KvStore {
  readonly #node: DhtNode;
  readonly #identity: () => Promise<Ed25519KeyPair>;
  readonly #republish: boolean;

  /**
   * `identity` loads the node's own key pair (used when no namespace is
   * given). `republish` (default true) is whether puts are kept alive by the
   * node unless a put says otherwise.
   */
  constructor(node: DhtNode, identity: () => Promise<Ed25519KeyPair>, opts: { republish?: boolean } = {}) {
    this.#node = node;
    this.#identity = identity;
    this.#republish = opts.republish ?? true;
  }

  async #keyPair(namespace?: string): Promise<Ed25519KeyPair> {
    return namespace !== undefined ? namespaceKeyPair(namespace) : this.#identity();
  }

  /** The public key that signs a namespace's (or, with none, this node's) values. */
  async publicKey(namespace?: string): Promise<Uint8Array> {
    return (await this.#keyPair(namespace)).publicKey;
  }

  /**
   * Puts `value` under `key` (up to 64 KiB) and adds the key to the index.
   * `republish` keeps it alive while the node runs; `cas` fails with KvError
   * ECAS when the stored seq differs.
   */
  async put(key: string, value: string, opts: KvOptions & { republish?: boolean; cas?: number } = {}): Promise<KvPutResult> {
    const salt = kvKeySalt(key);
    const bytes = kvValueBytes(value);
    if (opts.cas !== undefined && (!Number.isSafeInteger(opts.cas) || opts.cas < 0)) throw new UsageError(`cas must be a non-negative integer, got ${opts.cas}`);
    const keyPair = await this.#keyPair(opts.namespace);
    const r = await this.#write(keyPair, salt, bytes, opts.republish ?? this.#republish, opts.cas, opts.signal);
    const indexed = r.stored > 0 ? await this.#updateIndex(keyPair, (keys) => keys.add(key), opts) : false;
    return { ...r, indexed };
  }

  /** Deletes `key`: a tombstone at a higher seq (kept alive like a value), and the key leaves the index. */
  async del(key: string, opts: KvOptions & { republish?: boolean } = {}): Promise<KvPutResult> {
    const salt = kvKeySalt(key);
    const keyPair = await this.#keyPair(opts.namespace);
    const target = mutableTarget(keyPair.publicKey, salt);
    const r = await this.#node.putMutable({ keyPair, salt, v: tombstoneValue() }, { republish: opts.republish ?? this.#republish, ...sig(opts.signal) });
    const indexed = r.stored > 0 ? await this.#updateIndex(keyPair, (keys) => keys.delete(key), opts) : false;
    return { target: toHex(target), publicKey: toHex(keyPair.publicKey), seq: r.seq ?? null, stored: r.stored, republished: r.republished ?? false, indexed };
  }

  /** The verified value with the highest seq, or null (missing, deleted or unreachable: see `lookup`). */
  async get(key: string, opts: KvReadOptions = {}): Promise<KvGetResult | null> {
    const r = await this.lookup(key, opts);
    if (r.status !== 'found') return null;
    return { target: r.target, value: r.value!, seq: r.seq, publicKey: r.publicKey };
  }

  /** Looks `key` up and says what became of it (found, deleted, not found, no node answered). */
  async lookup(key: string, opts: KvReadOptions = {}): Promise<KvLookupResult> {
    const salt = kvKeySalt(key);
    const publicKey = opts.owner ?? (await this.#keyPair(opts.namespace)).publicKey;
    const r = await this.#read(publicKey, salt, opts.signal);
    const base = { target: toHex(mutableTarget(publicKey, salt)), publicKey: toHex(publicKey), responded: r.responded };
    if (r.status !== 'found') return { ...base, status: r.status, value: null, seq: r.seq };
    return { ...base, status: 'found', value: Buffer.from(r.bytes!).toString('utf8'), seq: r.seq };
  }

  /** The keys of a namespace (or of this node's identity, or of `owner`), from its index; [] when it has none. */
  async list(opts: KvReadOptions = {}): Promise<string[]> {
    const publicKey = opts.owner ?? (await this.#keyPair(opts.namespace)).publicKey;
    const r = await this.#read(publicKey, KV_INDEX_SALT, opts.signal);
    if (r.status === 'unreachable') throw new KvError('no DHT node answered: the key index could not be read');
    return r.status === 'found' ? decodeKeyIndex(r.bytes!) : [];
  }

  // --- items -----------------------------------------------------------------

  async #write(keyPair: Ed25519KeyPair, salt: Uint8Array, bytes: Uint8Array, republish: boolean, cas: number | undefined, signal?: AbortSignal): Promise<KvPutResult> {
    const enc = encodeKvValue(bytes);
    const r = await this.#node.putMutable(
      { keyPair, salt, v: enc.v, ...(cas !== undefined ? { cas } : {}) },
      { republish, ...(enc.children.length ? { children: enc.children } : {}), ...sig(signal) },
    );
    if (cas !== undefined && r.casRefused === 'writer') {
      throw new KvError(`compare-and-swap failed: the stored seq is ${r.foundSeq ?? 'none (no node holds a value)'}, not ${cas}; nothing was written`, 'ECAS');
    }
    if (cas !== undefined && typeof r.casRefused === 'number' && r.casRefused > 0) {
      const n = r.casRefused;
      throw new KvError(
        `compare-and-swap failed: ${n} storing node${n === 1 ? '' : 's'} hold${n === 1 ? 's' : ''} a seq other than ${cas} (BEP 44 error 301)` +
          (r.stored > 0 ? `; ${r.stored} node${r.stored === 1 ? '' : 's'} that held no value took it (cas is checked per storing node, not a lock)` : '; nothing was written'),
        'ECAS',
      );
    }
    return { target: toHex(r.target), publicKey: toHex(keyPair.publicKey), seq: r.seq ?? null, stored: r.stored, republished: r.republished ?? false };
  }

  /** Reads a key's item and, for a big value, its chunks; a malformed one is KvError (EKVBAD). */
  async #read(publicKey: Uint8Array, salt: Uint8Array, signal?: AbortSignal): Promise<{ status: KvStatus; bytes?: Uint8Array; seq: number | null; responded: number }> {
    const target = mutableTarget(publicKey, salt);
    const found = await this.#node.lookupItem(target, { salt, publicKey, ...sig(signal) });
    if (!found.item) return { status: found.responded === 0 && !found.local ? 'unreachable' : 'not-found', seq: null, responded: found.responded };
    const seq = found.item.seq ?? null;
    const stored: KvStoredValue = decodeKvStored(found.item.v, found.item.vRaw);
    switch (stored.kind) {
      case 'plain':
        return { status: 'found', bytes: stored.bytes, seq, responded: found.responded };
      case 'other':
        return { status: 'found', bytes: stored.raw, seq, responded: found.responded };
      case 'deleted':
        return { status: 'deleted', seq, responded: found.responded };
      case 'big':
        return { status: 'found', bytes: await this.#fetchBig(stored.manifest, signal), seq, responded: found.responded };
    }
  }

  /** The chunks of a big value, fetched a few at a time (kvChunkConcurrency), checked and joined. */
  async #fetchBig(m: KvManifest, outer?: AbortSignal): Promise<Uint8Array> {
    // The first part that cannot be had ends the others' lookups too.
    const failed = new AbortController();
    const signal = outer ? AbortSignal.any([outer, failed.signal]) : failed.signal;
    try {
      return await this.#fetchParts(m, signal);
    } catch (err) {
      failed.abort(err);
      throw err;
    }
  }

  async #fetchParts(m: KvManifest, signal: AbortSignal): Promise<Uint8Array> {
    const fetchImmutable = async (target: Uint8Array, what: string): Promise<DhtItem> => {
      const item = await this.#node.get(target, { signal });
      if (!item) throw new KvError(`${what} of the value (target ${toHex(target)}) was not found on the DHT; the value is incomplete (its publisher may be gone)`);
      return item;
    };
    const indexes = await Promise.all(m.indexTargets.map(async (t, i) => decodeIndexItem(m, i, (await fetchImmutable(t, `index item ${i + 1}`)).v)));
    const chunkTargets = indexes.flat();
    const chunks: Uint8Array[] = new Array<Uint8Array>(chunkTargets.length);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < chunkTargets.length && !signal.aborted) {
        const i = next++;
        chunks[i] = decodeChunk(m, i, (await fetchImmutable(chunkTargets[i]!, `part ${i + 1} of ${m.chunks}`)).v);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#node.settings.kvChunkConcurrency, chunkTargets.length) }, worker));
    return assembleValue(m, chunks);
  }

  /**
   * Read-modify-write of the key index with cas, retried a few times
   * (settings.kvIndexRetries) when another writer got there first. Returns
   * whether the index now says what `change` made of it.
   */
  async #updateIndex(keyPair: Ed25519KeyPair, change: (keys: Set<string>) => void, opts: KvOptions & { republish?: boolean }): Promise<boolean> {
    const retries = this.#node.settings.kvIndexRetries;
    for (let attempt = 0; attempt < retries; attempt++) {
      try {
        const current = await this.#read(keyPair.publicKey, KV_INDEX_SALT, opts.signal);
        if (current.status === 'unreachable') return false;
        let keys: string[] = [];
        if (current.status === 'found') {
          try {
            keys = decodeKeyIndex(current.bytes!);
          } catch {
            keys = []; // a damaged index is rebuilt from here on
          }
        }
        const next = new Set(keys);
        change(next);
        if (current.status === 'found' && next.size === keys.length && keys.every((k) => next.has(k))) return true;
        if (next.size > MAX_KV_INDEX_KEYS) return false;
        const bytes = encodeKeyIndex(next);
        if (bytes.length > MAX_KV_VALUE_BYTES) return false;
        // No index yet: nothing to compare with (a race between two first writers loses a key; the next put restores it).
        const cas = current.seq ?? undefined;
        const r = await this.#write(keyPair, KV_INDEX_SALT, bytes, opts.republish ?? this.#republish, cas, opts.signal);
        if (r.stored > 0) return true;
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        if (!(err instanceof KvError)) return false;
        // ECAS: another writer changed the index meanwhile; read it again after a short random pause.
        await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 200 * (attempt + 1)));
      }
    }
    return false;
  }
}

function sig(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

