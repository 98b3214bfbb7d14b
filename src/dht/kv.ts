/**
 * The key-value layer over BEP 44 that users see (DESIGN.md, "KV"): a key
 * is the salt of a mutable item; the writer's key pair is a namespace's
 * (derived from its name, so anyone who knows the name can write) or the
 * node's own identity (only it can write); values are UTF-8 strings stored
 * as bencoded byte strings of at most 1000 bytes.
 */
import { UsageError } from '../errors.js';
import { encode } from '../bencode/index.js';
import { toHex, utf8 } from '../util/bytes.js';
import { MAX_SALT_BYTES, MAX_VALUE_BYTES, mutableTarget, namespaceKeyPair, type Ed25519KeyPair } from './bep44.js';
import type { DhtItem, DhtNode } from './node.js';

export interface KvPutResult {
  target: string;
  publicKey: string;
  seq: number | null;
  stored: number;
}

export interface KvGetResult {
  target: string;
  value: string;
  seq: number | null;
  publicKey: string | null;
}

/** The value as bytes; refuses one that does not fit in a DHT item, saying the limit. */
export function kvValueBytes(value: string): Uint8Array {
  const bytes = utf8(value);
  const size = encode(bytes).length;
  if (size > MAX_VALUE_BYTES) {
    throw new UsageError(`value too large: ${size} bytes bencoded, but one DHT item holds at most ${MAX_VALUE_BYTES} bytes (BEP 44)`);
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

  /** `identity` loads the node's own key pair (used when no namespace is given). */
  constructor(node: DhtNode, identity: () => Promise<Ed25519KeyPair>) {
    this.#node = node;
    this.#identity = identity;
  }

  async #keyPair(namespace?: string): Promise<Ed25519KeyPair> {
    return namespace !== undefined ? namespaceKeyPair(namespace) : this.#identity();
  }

  /** Puts `value` under `key`; `republish` keeps it alive while the node runs. */
  async put(key: string, value: string, opts: { namespace?: string; republish?: boolean; signal?: AbortSignal } = {}): Promise<KvPutResult> {
    const salt = kvKeySalt(key);
    const v = kvValueBytes(value);
    const keyPair = await this.#keyPair(opts.namespace);
    const r = await this.#node.putMutable(
      { keyPair, salt, v },
      { republish: opts.republish ?? false, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    return { target: toHex(r.target), publicKey: toHex(keyPair.publicKey), seq: r.seq ?? null, stored: r.stored };
  }

  /** The verified value with the highest seq, or null. `owner` reads another writer's key. */
  async get(key: string, opts: { namespace?: string; owner?: Uint8Array; signal?: AbortSignal } = {}): Promise<KvGetResult | null> {
    const salt = kvKeySalt(key);
    const publicKey = opts.owner ?? (await this.#keyPair(opts.namespace)).publicKey;
    const target = mutableTarget(publicKey, salt);
    const item = await this.#node.get(target, { salt, publicKey, ...(opts.signal ? { signal: opts.signal } : {}) });
    if (!item) return null;
    return { target: toHex(target), value: kvValueText(item), seq: item.seq ?? null, publicKey: item.publicKey ? toHex(item.publicKey) : null };
  }
}
