/**
 * What a DHT node keeps for others: announce/write tokens, announced peers
 * (BEP 5) and BEP 44 items, each with expiry and hard caps so that hostile
 * traffic cannot grow our memory. Time comes from an injected clock and
 * expiry is lazy (checked on access, plus `sweep()` from the node's
 * maintenance timer): no timers here.
 */
import { createHash } from 'node:crypto';
import type { PeerAddress } from '../util/peer-address.js';
import { randomBytes } from '../util/hash.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import type { MutableItem } from './bep44.js';
import { shuffleInPlace } from '../util/shuffle.js';

type Clock = () => number;

/**
 * Tokens (BEP 5): SHA-1 of a secret, the requester's IP and the target. The
 * secret rotates every `rotateMs`; a token from the current or the previous
 * secret is accepted, so a token lives between one and two rotations.
 * Tying it to the target (BEP 44 allows this) means a token handed out for
 * one key cannot be spent on another.
 */
export class TokenIssuer {
  #current = randomBytes(16);
  #previous = randomBytes(16);
  #rotatedAt: number;
  constructor(
    private readonly rotateMs: number,
    private readonly now: Clock = Date.now,
  ) {
    this.#rotatedAt = now();
  }

  #rotate(): void {
    const now = this.now();
    const elapsed = now - this.#rotatedAt;
    if (elapsed < this.rotateMs) return;
    // After two or more periods both secrets are stale.
    this.#previous = elapsed >= 2 * this.rotateMs ? randomBytes(16) : this.#current;
    this.#current = randomBytes(16);
    this.#rotatedAt = now;
  }

  #make(secret: Uint8Array, host: string, target: Uint8Array): Uint8Array {
    return new Uint8Array(createHash('sha1').update(secret).update(host).update(target).digest()).subarray(0, 8);
  }

  issue(host: string, target: Uint8Array): Uint8Array {
    this.#rotate();
    return this.#make(this.#current, host, target);
  }

  valid(token: Uint8Array, host: string, target: Uint8Array): boolean {
    this.#rotate();
    return bytesEqual(token, this.#make(this.#current, host, target)) || bytesEqual(token, this.#make(this.#previous, host, target));
  }
}

/** Peers announced to us per info-hash (BEP 5 announce_peer), each expiring. */
export class PeerStore {
  readonly #swarms = new Map<string, Map<string, { peer: PeerAddress; expiresAt: number }>>();
  constructor(
    private readonly opts: { ttlMs: number; maxInfoHashes: number; maxPeersPerInfoHash: number },
    private readonly now: Clock = Date.now,
  ) {}

  /** Returns false when a cap refused it. */
  add(infoHash: Uint8Array, peer: PeerAddress): boolean {
    const key = toHex(infoHash);
    let swarm = this.#swarms.get(key);
    if (!swarm) {
      if (this.#swarms.size >= this.opts.maxInfoHashes) {
        this.sweep();
        if (this.#swarms.size >= this.opts.maxInfoHashes) return false;
      }
      swarm = new Map();
      this.#swarms.set(key, swarm);
    }
    const addr = `${peer.host}:${peer.port}`;
    if (!swarm.has(addr) && swarm.size >= this.opts.maxPeersPerInfoHash) {
      // Full: the oldest entry makes way (Map keeps insertion order), so a swarm stays fresh.
      const oldest = swarm.keys().next().value;
      if (oldest !== undefined) swarm.delete(oldest);
    }
    swarm.delete(addr);
    swarm.set(addr, { peer: { host: peer.host, port: peer.port }, expiresAt: this.now() + this.opts.ttlMs });
    return true;
  }

  /** Up to `max` live peers, in random order. */
  get(infoHash: Uint8Array, max: number): PeerAddress[] {
    const swarm = this.#swarms.get(toHex(infoHash));
    if (!swarm) return [];
    const now = this.now();
    const out: PeerAddress[] = [];
    for (const [addr, e] of swarm) {
      if (e.expiresAt <= now) swarm.delete(addr);
      else out.push(e.peer);
    }
    return shuffleInPlace(out).slice(0, max);
  }

  sweep(): void {
    const now = this.now();
    for (const [key, swarm] of this.#swarms) {
      for (const [addr, e] of swarm) if (e.expiresAt <= now) swarm.delete(addr);
      if (swarm.size === 0) this.#swarms.delete(key);
    }
  }

  get infoHashes(): number {
    return this.#swarms.size;
  }

  get peers(): number {
    let n = 0;
    for (const s of this.#swarms.values()) n += s.size;
    return n;
  }
}

/** A BEP 44 item: immutable (just `v`) or mutable. */
export type Item = { kind: 'immutable'; v: Uint8Array } | ({ kind: 'mutable' } & MutableItem);
export type StoredItem = Item & { expiresAt: number };

/**
 * Bytes an item is charged against the store's byte cap: its value, target
 * and, for a mutable item, key, signature, seq and salt. An estimate of what
 * it costs in memory and in the state file, not an exact count of either.
 */
export function itemBytes(item: Item): number {
  return 20 + item.v.length + (item.kind === 'mutable' ? 32 + 64 + 8 + (item.salt?.length ?? 0) : 0);
}

/**
 * BEP 44 items held for others (expire after `ttlMs`, about 2 hours, unless
 * put again), within `maxItems` and `maxBytes`. `onChange` is told of every
 * item stored, refreshed or dropped, so that a persister can save the store
 * in batches (item-persistence.ts).
 */
export class ItemStore {
  readonly #items = new Map<string, StoredItem>();
  #bytes = 0;
  /** Called after any change to what is stored (not on reads). */
  onChange: (() => void) | undefined;
  constructor(
    private readonly opts: { ttlMs: number; maxItems: number; maxBytes?: number },
    private readonly now: Clock = Date.now,
  ) {}

  get(target: Uint8Array): StoredItem | undefined {
    const key = toHex(target);
    const item = this.#items.get(key);
    if (item && item.expiresAt <= this.now()) {
      this.#delete(key, item);
      this.onChange?.();
      return undefined;
    }
    return item;
  }

  #delete(key: string, item: StoredItem): void {
    this.#items.delete(key);
    this.#bytes -= itemBytes(item);
  }

  /** Whether `item` (replacing `old`) fits the caps, after dropping what expired if needed. */
  #fits(key: string, item: Item, old: StoredItem | undefined): boolean {
    const maxBytes = this.opts.maxBytes ?? Infinity;
    const over = (): boolean =>
      (old === undefined && this.#items.size >= this.opts.maxItems) || this.#bytes - (old ? itemBytes(old) : 0) + itemBytes(item) > maxBytes;
    if (!over()) return true;
    this.sweep();
    old = this.#items.get(key);
    return !over();
  }

  /**
   * Stores or refreshes an item already checked by the caller. Returns false
   * when the store is full (in count or bytes): new items are refused rather
   * than evicting live ones, so a flood of puts cannot push out everybody
   * else's items.
   */
  set(target: Uint8Array, item: Item): boolean {
    return this.restore(target, item, this.now() + this.opts.ttlMs);
  }

  /**
   * Stores an item with a given expiry (an item reloaded from the state
   * file keeps what was left of its lifetime). False when it has expired
   * already or does not fit the caps.
   */
  restore(target: Uint8Array, item: Item, expiresAt: number): boolean {
    if (expiresAt <= this.now()) return false;
    const key = toHex(target);
    const old = this.#items.get(key);
    if (!this.#fits(key, item, old)) return false;
    const current = this.#items.get(key);
    if (current) this.#delete(key, current);
    const stored: StoredItem = item.kind === 'immutable' ? { kind: 'immutable', v: item.v, expiresAt } : { kind: 'mutable', k: item.k, seq: item.seq, sig: item.sig, v: item.v, ...(item.salt ? { salt: item.salt } : {}), expiresAt };
    this.#items.set(key, stored);
    this.#bytes += itemBytes(stored);
    this.onChange?.();
    return true;
  }

  sweep(): void {
    const now = this.now();
    let changed = false;
    for (const [key, item] of this.#items) {
      if (item.expiresAt <= now) {
        this.#delete(key, item);
        changed = true;
      }
    }
    if (changed) this.onChange?.();
  }

  /** The live items with their targets (hex), for saving and for handing them on at a graceful leave. */
  *entries(): IterableIterator<[string, StoredItem]> {
    const now = this.now();
    for (const [key, item] of this.#items) if (item.expiresAt > now) yield [key, item];
  }

  get size(): number {
    return this.#items.size;
  }

  /** Bytes charged against the byte cap (itemBytes of every item held). */
  get bytes(): number {
    return this.#bytes;
  }
}

/** Fixed-window counter per address: at most `max` events per `windowMs` (puts per address). */
export class RateLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    /** Addresses counted at once; past it new addresses are refused until old windows end (a memory cap). */
    private readonly maxAddresses: number,
    private readonly now: Clock = Date.now,
  ) {}

  allow(address: string): boolean {
    const now = this.now();
    let w = this.#windows.get(address);
    if (!w || now - w.start >= this.windowMs) {
      if (!w && this.#windows.size >= this.maxAddresses) this.sweep();
      if (!w && this.#windows.size >= this.maxAddresses) return false;
      w = { start: now, count: 0 };
      this.#windows.set(address, w);
    }
    w.count++;
    return w.count <= this.max;
  }

  sweep(): void {
    const now = this.now();
    for (const [a, w] of this.#windows) if (now - w.start >= this.windowMs) this.#windows.delete(a);
  }
}
