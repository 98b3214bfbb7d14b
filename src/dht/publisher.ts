/**
 * The key-value side of a DHT node (BEP 44): put immutable and signed
 * mutable items on the k closest nodes of their target, get the verified
 * item with the highest seq, and put what we published again while the
 * node runs (items expire on the nodes that hold them).
 */
import { DhtError, errorMessage } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import { decode, type BValue } from '../bencode/index.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { checkId } from './krpc.js';
import { QueryFailure } from './rpc.js';
import type { LookupContext, LookupResult, Op } from './lookup.js';
import type { StoredItem } from './stores.js';
import {
  encodeItemValue, immutableTarget, mutableTarget, signatureBuffer, signBuffer, verifyGetResponse,
  type Ed25519KeyPair, type MutableItem, type VerifiedItem,
} from './bep44.js';

/** The verified item with the highest seq found by `get`. */
export interface DhtItem {
  target: Uint8Array;
  /** Decoded value. */
  v: BValue;
  /** The bencoded value as signed / hashed. */
  vRaw: Uint8Array;
  /** Mutable items only. */
  seq?: number;
  publicKey?: Uint8Array;
  sig?: Uint8Array;
  salt?: Uint8Array;
}

export interface PutResult {
  target: Uint8Array;
  /** Nodes that accepted the item. */
  stored: number;
  seq?: number;
  publicKey?: Uint8Array;
}

export interface PutMutableOptions {
  /** Signs with this key pair, or with `publicKey` + `sign`. */
  keyPair?: Ed25519KeyPair;
  publicKey?: Uint8Array;
  sign?: (message: Uint8Array) => Uint8Array;
  salt?: Uint8Array;
  /** Default: one more than the highest seq found on the network, or 0. */
  seq?: number;
  /** Compare-and-swap: only replace an item whose seq is this (BEP 44; 301 otherwise). */
  cas?: number;
  v: BValue;
}

/** What the publisher reports (DhtNode re-emits it). */
export interface PublisherEvents {
  'item:republished': { target: string; stored: number };
}

export interface PublisherContext extends LookupContext {
  /** An item stored on this node itself (a get looks there first). */
  localItem: (target: Uint8Array) => StoredItem | undefined;
  running: () => boolean;
  events: Pick<TypedEmitter<PublisherEvents>, 'emit'>;
}

interface Published {
  kind: 'immutable' | 'mutable';
  v: Uint8Array;
  mutable?: MutableItem;
}

export class ItemPublisher {
  readonly #ctx: PublisherContext;
  readonly #published = new Map<string, Published>();

  constructor(ctx: PublisherContext) {
    this.#ctx = ctx;
  }

  /** Items put again while the node runs. */
  get size(): number {
    return this.#published.size;
  }

  /** Stores an immutable item (BEP 44) on the k closest nodes; kept alive while the node runs. */
  async putImmutable(v: BValue, opts: Op & { republish?: boolean } = {}): Promise<PutResult> {
    const vRaw = encodeItemValue(v);
    const target = immutableTarget(vRaw);
    const stored = await this.#put(target, vRaw, undefined, opts);
    if (opts.republish !== false) this.#published.set(toHex(target), { kind: 'immutable', v: vRaw });
    return { target, stored };
  }

  /** Stores a signed mutable item (BEP 44) on the k closest nodes; kept alive while the node runs. */
  async putMutable(item: PutMutableOptions, opts: Op & { republish?: boolean } = {}): Promise<PutResult> {
    const publicKey = item.keyPair?.publicKey ?? item.publicKey;
    const signFn = item.keyPair ? (m: Uint8Array) => signBuffer(item.keyPair!.privateKey, m) : item.sign;
    if (!publicKey || publicKey.length !== 32 || !signFn) throw new RangeError('putMutable needs a keyPair, or a 32-byte publicKey and a sign function');
    const vRaw = encodeItemValue(item.v);
    const salt = item.salt && item.salt.length > 0 ? item.salt : undefined;
    if (salt && salt.length > 64) throw new DhtError(`salt too big: ${salt.length} bytes, at most 64`, 207);
    const target = mutableTarget(publicKey, salt);
    let highest: number | undefined;
    const lookup = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target }, opts, (_n, r) => {
      const found = verifyGetResponse(target, salt, r);
      if (found?.kind === 'mutable' && (highest === undefined || found.seq > highest)) highest = found.seq;
    });
    const seq = item.seq ?? (highest === undefined ? 0 : highest + 1);
    const sig = signFn(signatureBuffer({ salt, seq, v: vRaw }));
    const mutable: MutableItem = { k: publicKey, seq, sig, v: vRaw, ...(salt ? { salt } : {}) };
    const stored = await this.#sendPuts(lookup, vRaw, { ...mutable, ...(item.cas !== undefined ? { cas: item.cas } : {}) }, opts);
    if (opts.republish !== false) this.#published.set(toHex(target), { kind: 'mutable', v: vRaw, mutable });
    return { target, stored, seq, publicKey };
  }

  async #put(target: Uint8Array, vRaw: Uint8Array, mutable: MutableItem | undefined, opts: Op): Promise<number> {
    const lookup = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target }, opts);
    return this.#sendPuts(lookup, vRaw, mutable, opts);
  }

  async #sendPuts(lookup: LookupResult, v: Uint8Array, mutable: (MutableItem & { cas?: number }) | undefined, opts: Op): Promise<number> {
    const fields = mutable ? { k: mutable.k, sig: mutable.sig, seq: mutable.seq, ...(mutable.salt ? { salt: mutable.salt } : {}), ...(mutable.cas !== undefined ? { cas: mutable.cas } : {}) } : undefined;
    const id = this.#ctx.nodeId();
    const results = await Promise.allSettled(
      lookup.closest
        .filter((c) => c.response.token)
        .map((c) => this.#ctx.query(c.node, { q: 'put', id, token: c.response.token!, v, ...(fields ? { mutable: fields } : {}) }, opts.signal)),
    );
    for (const r of results) if (r.status === 'rejected' && r.reason instanceof QueryFailure && r.reason.kind === 'error') this.#ctx.log.debug(`put refused: ${r.reason.message}`);
    return results.filter((r) => r.status === 'fulfilled').length;
  }

  /**
   * Looks an item up (BEP 44 get) and returns the verified item with the
   * highest seq, or null. Mutable items need the `salt` they were put with;
   * `publicKey`, when given, must match the item's key.
   */
  async get(target: Uint8Array, opts: Op & { salt?: Uint8Array; publicKey?: Uint8Array; seq?: number } = {}): Promise<DhtItem | null> {
    checkId(target, 'target');
    const salt = opts.salt && opts.salt.length > 0 ? opts.salt : undefined;
    if (opts.publicKey && !bytesEqual(mutableTarget(opts.publicKey, salt), target)) throw new RangeError('get: target is not SHA-1(publicKey + salt)');
    let best: VerifiedItem | undefined;
    const consider = (r: { v?: Uint8Array; k?: Uint8Array; sig?: Uint8Array; seq?: number }): boolean => {
      const found = verifyGetResponse(target, salt, r);
      if (!found) return false;
      if (found.kind === 'immutable') {
        best = found;
        return true; // content-addressed: any verified copy is the copy
      }
      if (best === undefined || (best.kind === 'mutable' && found.seq > best.seq)) best = found;
      return false;
    };
    const local = this.#ctx.localItem(target);
    if (local && (local.kind === 'immutable' ? consider({ v: local.v }) : consider(local))) return toDhtItem(target, best!);
    await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target, ...(opts.seq !== undefined ? { seq: opts.seq } : {}) }, opts, (_n, r) => consider(r));
    return best ? toDhtItem(target, best) : null;
  }

  /** Stops re-putting an item. */
  unpublish(target: Uint8Array): void {
    this.#published.delete(toHex(target));
  }

  /** Puts every published item again (the node's republish timer calls this). */
  async republish(): Promise<void> {
    for (const [key, item] of [...this.#published]) {
      if (!this.#ctx.running()) return;
      try {
        const target = item.mutable ? mutableTarget(item.mutable.k, item.mutable.salt) : immutableTarget(item.v);
        const stored = await this.#put(target, item.v, item.mutable, {});
        this.#ctx.events.emit('item:republished', { target: key, stored });
      } catch (err) {
        this.#ctx.log.debug(`republishing ${key}: ${errorMessage(err)}`);
      }
    }
  }
}

function toDhtItem(target: Uint8Array, item: VerifiedItem): DhtItem {
  const v = decode(item.v);
  if (item.kind === 'immutable') return { target, v, vRaw: item.v };
  return { target, v, vRaw: item.v, seq: item.seq, publicKey: item.k, sig: item.sig, ...(item.salt ? { salt: item.salt } : {}) };
}
