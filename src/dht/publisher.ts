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
  BEP44_CAS_MISMATCH, BEP44_SEQ_TOO_LOW, encodeItemValue, immutableTarget, mutableTarget, signatureBuffer, signBuffer, verifyGetResponse,
  type Ed25519KeyPair, type MutableItem, type VerifiedItem,
} from './bep44.js';
import { entryBytes, loadPublished, savePublished, type PublishedEntry } from './kv-published.js';

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
  /** Whether the item is on the list put again while the node runs (false: not asked, or the list is full). */
  republished?: boolean;
  /** Mutable puts: the highest seq the lookup found (null: none). */
  foundSeq?: number | null;
  /** Puts with `cas`: storing nodes that refused with 301; or 'writer' when the found seq differed and nothing was put. */
  casRefused?: number | 'writer';
}

/** What a get lookup found, and how many nodes answered it (0: the DHT could not be reached). */
export interface ItemLookup {
  item: DhtItem | null;
  /** Nodes that answered the lookup. */
  responded: number;
  queried: number;
  /** Whether this node itself held the item (no lookup was needed). */
  local: boolean;
}

/** Options of a put that may be kept alive. */
export interface PublishOptions extends Op {
  republish?: boolean;
  /**
   * Bencoded immutable items the mutable item needs (a big KV value's
   * chunks): put first, and again with it on every republish.
   */
  children?: Uint8Array[];
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
  /** The list of published items is kept here (kv-published.ts) and put again after a restart. */
  stateDir?: string;
}

/** Published items put again at once in a republish round (each is a lookup and puts, a big value's parts too). */
const REPUBLISH_ENTRIES_AT_ONCE = 4;

export class ItemPublisher {
  readonly #ctx: PublisherContext;
  readonly #published = new Map<string, PublishedEntry>();
  #bytes = 0;
  /** The save in progress, and whether another must follow it. */
  #saving: Promise<void> | undefined;
  #saveAgain = false;
  #republishing: Promise<void> | undefined;

  constructor(ctx: PublisherContext) {
    this.#ctx = ctx;
  }

  /** Items put again while the node runs. */
  get size(): number {
    return this.#published.size;
  }

  /** Loads the list kept in stateDir (none: nothing); returns how many items it holds. */
  async restore(): Promise<number> {
    if (!this.#ctx.stateDir) return 0;
    // The file holds what the caps allow, plus each entry's framing.
    const maxFileBytes = this.#ctx.settings.kvMaxPublishedBytes + this.#ctx.settings.kvMaxPublishedItems * 256 + 1024;
    for (const e of await loadPublished(this.#ctx.stateDir, this.#ctx.log, maxFileBytes)) this.#remember(e, false);
    return this.#published.size;
  }

  /** Adds or replaces an entry within the caps (settings kvMaxPublishedItems/Bytes); false when full. */
  #remember(e: PublishedEntry, save = true): boolean {
    const key = toHex(e.mutable ? mutableTarget(e.mutable.k, e.mutable.salt) : immutableTarget(e.v));
    const old = this.#published.get(key);
    const size = entryBytes(e);
    const s = this.#ctx.settings;
    const bytesAfter = this.#bytes - (old ? entryBytes(old) : 0) + size;
    if ((!old && this.#published.size >= s.kvMaxPublishedItems) || bytesAfter > s.kvMaxPublishedBytes) {
      this.#ctx.log.warn(`not keeping ${key} alive: the list of published items is full (${this.#published.size} items, ${this.#bytes} bytes; settings kvMaxPublishedItems/kvMaxPublishedBytes)`);
      return false;
    }
    this.#published.set(key, e);
    this.#bytes = bytesAfter;
    if (save) this.#save();
    return true;
  }

  /** Writes the list (coalesced: one write at a time, one more after it if anything changed meanwhile). */
  #save(): void {
    const dir = this.#ctx.stateDir;
    if (!dir) return;
    if (this.#saving) {
      this.#saveAgain = true;
      return;
    }
    this.#saving = (async () => {
      do {
        this.#saveAgain = false;
        try {
          await savePublished(dir, [...this.#published.values()]);
        } catch (err) {
          this.#ctx.log.error(`saving the list of published items: ${errorMessage(err)}`);
        }
      } while (this.#saveAgain);
    })().finally(() => (this.#saving = undefined));
  }

  /** Resolves when the list on disk is up to date. */
  async flush(): Promise<void> {
    while (this.#saving) await this.#saving;
  }

  /** Stores an immutable item (BEP 44) on the k closest nodes; kept alive while the node runs. */
  async putImmutable(v: BValue, opts: Op & { republish?: boolean } = {}): Promise<PutResult> {
    const vRaw = encodeItemValue(v);
    const target = immutableTarget(vRaw);
    const stored = await this.#put(target, vRaw, undefined, opts);
    const republished = opts.republish !== false && this.#remember({ kind: 'immutable', v: vRaw });
    return { target, stored, republished };
  }

  /**
   * Puts bencoded immutable items, a few at a time (settings
   * kvChunkConcurrency); resolves with the fewest nodes that took any one of
   * them (0: some item is nowhere).
   */
  async #putChildren(children: readonly Uint8Array[], opts: Op): Promise<number> {
    let fewest = Number.POSITIVE_INFINITY;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < children.length) {
        const raw = children[next++]!;
        const once = (): Promise<number> =>
          this.#put(immutableTarget(raw), raw, undefined, opts).catch((err: unknown) => {
            if (opts.signal?.aborted) throw err;
            return 0;
          });
        // A part no node took (every put lost or timed out on a busy network) is tried once more
        // before the whole value fails: one part of 66 failing cost bench:dht-durability a key in 500.
        let stored = await once();
        if (stored === 0) stored = await once();
        fewest = Math.min(fewest, stored);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#ctx.settings.kvChunkConcurrency, children.length) }, worker));
    return fewest === Number.POSITIVE_INFINITY ? 0 : fewest;
  }

  /**
   * Stores a signed mutable item (BEP 44) on the k closest nodes; kept alive
   * while the node runs. With `cas` (and no explicit seq), the highest seq
   * found must be `cas`, else nothing is put (`casRefused: 'writer'`); the
   * new seq is cas + 1; storing nodes that answer 301 are counted in
   * `casRefused`: a check made by each storing node, not a distributed lock.
   */
  async putMutable(item: PutMutableOptions, opts: PublishOptions = {}): Promise<PutResult> {
    const publicKey = item.keyPair?.publicKey ?? item.publicKey;
    const signFn = item.keyPair ? (m: Uint8Array) => signBuffer(item.keyPair!.privateKey, m) : item.sign;
    if (!publicKey || publicKey.length !== 32 || !signFn) throw new RangeError('putMutable needs a keyPair, or a 32-byte publicKey and a sign function');
    const vRaw = encodeItemValue(item.v);
    const salt = item.salt && item.salt.length > 0 ? item.salt : undefined;
    if (salt && salt.length > 64) throw new DhtError(`salt too big: ${salt.length} bytes, at most 64`, 207);
    const target = mutableTarget(publicKey, salt);
    let highest: number | undefined;
    const lookup = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target }, { ...opts, k: this.#ctx.settings.dhtStoreReplicas }, (_n, r) => {
      const found = verifyGetResponse(target, salt, r);
      if (found?.kind === 'mutable' && (highest === undefined || found.seq > highest)) highest = found.seq;
    });
    // An explicit seq is the caller's choice: only the storing nodes check its cas then.
    if (item.cas !== undefined && item.seq === undefined && highest !== item.cas) {
      return { target, stored: 0, publicKey, republished: false, foundSeq: highest ?? null, casRefused: 'writer' };
    }
    const seq = item.seq ?? (item.cas !== undefined ? item.cas + 1 : highest === undefined ? 0 : highest + 1);
    const sig = signFn(signatureBuffer({ salt, seq, v: vRaw }));
    const mutable: MutableItem = { k: publicKey, seq, sig, v: vRaw, ...(salt ? { salt } : {}) };
    const children = opts.children ?? [];
    if (children.length > 0 && (await this.#putChildren(children, opts)) === 0) {
      throw new DhtError(`no DHT node took a part of the value (${children.length} parts); nothing was written under the key`);
    }
    const { stored, refusals } = await this.#sendPuts(lookup, vRaw, { ...mutable, ...(item.cas !== undefined ? { cas: item.cas } : {}) }, opts);
    const casRefused = refusals.filter((c) => c === BEP44_CAS_MISMATCH).length;
    // A cas refused anywhere: the caller decides (KvStore fails); nothing of it is republished.
    const republished = casRefused === 0 && opts.republish !== false && this.#remember({ kind: 'mutable', v: vRaw, mutable, ...(children.length ? { children } : {}) });
    return { target, stored, seq, publicKey, republished, foundSeq: highest ?? null, ...(item.cas !== undefined ? { casRefused } : {}) };
  }

  async #put(target: Uint8Array, vRaw: Uint8Array, mutable: MutableItem | undefined, opts: Op): Promise<number> {
    const lookup = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target }, { ...opts, k: this.#ctx.settings.dhtStoreReplicas });
    return (await this.#sendPuts(lookup, vRaw, mutable, opts)).stored;
  }

  /** Puts to the lookup's closest nodes; `refusals` are the BEP 44 error codes of the nodes that refused. */
  async #sendPuts(lookup: LookupResult, v: Uint8Array, mutable: (MutableItem & { cas?: number }) | undefined, opts: Op): Promise<{ stored: number; refusals: number[] }> {
    const fields = mutable ? { k: mutable.k, sig: mutable.sig, seq: mutable.seq, ...(mutable.salt ? { salt: mutable.salt } : {}), ...(mutable.cas !== undefined ? { cas: mutable.cas } : {}) } : undefined;
    const id = this.#ctx.nodeId();
    const results = await Promise.allSettled(
      lookup.closest
        .filter((c) => c.response.token)
        .map((c) => this.#ctx.query(c.node, { q: 'put', id, token: c.response.token!, v, ...(fields ? { mutable: fields } : {}) }, opts.signal)),
    );
    const refusals: number[] = [];
    for (const r of results) {
      if (r.status === 'rejected' && r.reason instanceof QueryFailure && r.reason.kind === 'error') {
        this.#ctx.log.debug(`put refused: ${r.reason.message}`);
        refusals.push(r.reason.krpcCode);
      }
    }
    return { stored: results.filter((r) => r.status === 'fulfilled').length, refusals };
  }

  /**
   * Looks an item up (BEP 44 get) and returns the verified item with the
   * highest seq, or null. Mutable items need the `salt` they were put with;
   * `publicKey`, when given, must match the item's key.
   */
  async get(target: Uint8Array, opts: Op & { salt?: Uint8Array; publicKey?: Uint8Array; seq?: number } = {}): Promise<DhtItem | null> {
    return (await this.lookupItem(target, opts)).item;
  }

  /** As `get`, also saying how many nodes answered (0 with no item: the DHT could not be reached). */
  async lookupItem(target: Uint8Array, opts: Op & { salt?: Uint8Array; publicKey?: Uint8Array; seq?: number } = {}): Promise<ItemLookup> {
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
    if (local && (local.kind === 'immutable' ? consider({ v: local.v }) : consider(local))) return { item: toDhtItem(target, best!), responded: 0, queried: 0, local: true };
    const r = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target, ...(opts.seq !== undefined ? { seq: opts.seq } : {}) }, opts, (_n, res) => consider(res));
    return { item: best ? toDhtItem(target, best) : null, responded: r.responded, queried: r.queried, local: false };
  }

  /** Stops re-putting an item. */
  unpublish(target: Uint8Array): void {
    const key = toHex(target);
    const old = this.#published.get(key);
    if (!old) return;
    this.#published.delete(key);
    this.#bytes -= entryBytes(old);
    this.#save();
  }

  /** Puts every published item again (the node's republish timer calls this, and the node once it joined after a restart). */
  async republish(): Promise<void> {
    // One round at a time: a long round (big values, a slow network) is not doubled by the next tick.
    if (this.#republishing) return this.#republishing;
    this.#republishing = this.#republishRound().then(() => undefined).finally(() => (this.#republishing = undefined));
    return this.#republishing;
  }

  /**
   * After a restart: a round once the node has joined, then again (after
   * kvRestartRetryMs, twice that, ... 5 tries) for the items no node took, e.g. a LAN
   * node whose DHT is found over LSD only after it has joined with nobody.
   */
  async republishRestored(): Promise<void> {
    let pending = await this.#republishRound();
    for (let attempt = 0; pending.length > 0 && attempt < 5 && this.#ctx.running(); attempt++) {
      await new Promise<void>((resolve) => setTimeout(resolve, this.#ctx.settings.kvRestartRetryMs * 2 ** attempt).unref());
      if (!this.#ctx.running()) return;
      pending = await this.#republishRound(pending.filter((k) => this.#published.has(k)));
    }
  }

  /** Puts the items again (all, or those of `keys`); resolves with the keys no node took. */
  async #republishRound(keys?: string[]): Promise<string[]> {
    const entries = keys ? keys.map((k) => [k, this.#published.get(k)!] as const).filter(([, e]) => e) : [...this.#published];
    const missed: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < entries.length && this.#ctx.running()) {
        const [key, item] = entries[next++]!;
        if ((await this.#republishOne(key, item)) === 0) missed.push(key);
      }
    };
    await Promise.all(Array.from({ length: Math.min(REPUBLISH_ENTRIES_AT_ONCE, entries.length) }, worker));
    return missed;
  }

  /** Puts one item again; resolves with how many nodes took it. */
  async #republishOne(key: string, item: PublishedEntry): Promise<number> {
    try {
      const target = item.mutable ? mutableTarget(item.mutable.k, item.mutable.salt) : immutableTarget(item.v);
      if (item.children?.length) await this.#putChildren(item.children, {});
      const lookup = await this.#ctx.lookup(target, { q: 'get', id: this.#ctx.nodeId(), target }, { k: this.#ctx.settings.dhtStoreReplicas });
      const { stored, refusals } = await this.#sendPuts(lookup, item.v, item.mutable, {});
      // Every node holds a newer seq (another writer of the namespace, or a delete elsewhere): ours is stale,
      // unless it was replaced by a newer put of ours meanwhile.
      if (stored === 0 && refusals.length > 0 && refusals.every((c) => c === BEP44_SEQ_TOO_LOW) && this.#published.get(key) === item) {
        this.#ctx.log.info(`stopped republishing ${key}: the network holds a newer value`);
        this.unpublish(target);
      }
      this.#ctx.events.emit('item:republished', { target: key, stored });
      return stored;
    } catch (err) {
      this.#ctx.log.debug(`republishing ${key}: ${errorMessage(err)}`);
      return 0;
    }
  }
}

function toDhtItem(target: Uint8Array, item: VerifiedItem): DhtItem {
  const v = decode(item.v);
  if (item.kind === 'immutable') return { target, v, vRaw: item.v };
  return { target, v, vRaw: item.v, seq: item.seq, publicKey: item.k, sig: item.sig, ...(item.salt ? { salt: item.salt } : {}) };
}
