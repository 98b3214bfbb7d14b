/**
 * The serving side of a DHT node: what it keeps for others and how it
 * answers them (BEP 5 ping, find_node, get_peers, announce_peer; BEP 44
 * get, put). It owns the write tokens, the announced peers, the stored items
 * and the put rate limit, each with its cap (stores.ts).
 *
 * Hostile traffic: puts are checked (205/206/207/301/302), tokens are checked
 * (203), puts per address are rate-limited (silently dropped beyond the
 * limit) and a full store refuses new items (202). Nothing a remote sends
 * throws out of here.
 */
import { DhtError, assertNever, errorMessage } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { PeerAddress } from '../util/peer-address.js';
import { toHex } from '../util/bytes.js';
import { KRPC_PROTOCOL_ERROR, KRPC_SERVER_ERROR, type KrpcQuery, type KrpcResponse, type NodeInfo, type Want } from './krpc.js';
import type { IncomingQuery, KrpcSocket } from './rpc.js';
import type { RoutingTable } from './routing-table.js';
import { ItemStore, PeerStore, RateLimiter, TokenIssuer } from './stores.js';
import { checkPut, checkUpdate } from './bep44.js';

/** What the responder reports (DhtNode re-emits these). */
export interface ResponderEvents {
  'peer:announced': { infoHash: string; host: string; port: number };
  'item:stored': { target: string; mutable: boolean; seq?: number };
}

export interface ResponderContext {
  rpc: Pick<KrpcSocket, 'respond' | 'sendError'>;
  settings: Settings;
  log: Logger;
  now: () => number;
  /** Our id; it may change at start (a saved one is loaded). */
  nodeId: () => Uint8Array;
  /** The routing table; replaced with the id at start. */
  table: () => RoutingTable;
  /** This node's address family: the nodes of `table` (BEP 32). */
  family: 4 | 6;
  /** BEP 32: the node of the other family beside this one, whose nodes a `want` may ask for. */
  sibling?: () => { closestNodes(target: Uint8Array, k: number): NodeInfo[] } | undefined;
  events: Pick<TypedEmitter<ResponderEvents>, 'emit'>;
}

export class QueryResponder {
  /** Peers announced to us (BEP 5 announce_peer). */
  readonly peers: PeerStore;
  /** BEP 44 items put on us. */
  readonly items: ItemStore;
  readonly #ctx: ResponderContext;
  readonly #tokens: TokenIssuer;
  readonly #putLimiter: RateLimiter;

  constructor(ctx: ResponderContext) {
    this.#ctx = ctx;
    const s = ctx.settings;
    this.#tokens = new TokenIssuer(s.dhtTokenRotateMs, ctx.now);
    this.peers = new PeerStore({ ttlMs: s.dhtPeerTtlMs, maxInfoHashes: s.dhtMaxInfoHashes, maxPeersPerInfoHash: s.dhtMaxPeersPerInfoHash }, ctx.now);
    this.items = new ItemStore({ ttlMs: s.dhtItemTtlMs, maxItems: s.dhtMaxItems, maxBytes: s.dhtMaxItemBytes }, ctx.now);
    this.#putLimiter = new RateLimiter(s.dhtMaxPutsPerAddressPerMinute, 60_000, s.dhtMaxPutRateAddresses, ctx.now);
  }

  /** Drops what expired (the node's maintenance timer calls this). */
  sweep(): void {
    this.peers.sweep();
    this.items.sweep();
    this.#putLimiter.sweep();
  }

  answer({ t, query, readOnly, from }: IncomingQuery): void {
    const table = this.#ctx.table();
    // BEP 43: read-only nodes ask but never answer, so they do not belong in routing tables.
    if (!readOnly) table.seen({ id: query.id, host: from.host, port: from.port }, 'query');
    const { rpc, settings } = this.#ctx;
    const id = this.#ctx.nodeId();
    switch (query.q) {
      case 'ping':
        return rpc.respond(from, t, { id });
      case 'find_node':
        return rpc.respond(from, t, { id, nodes: this.#nodesNear(query.target, query.want) });
      case 'get_peers': {
        const values = this.peers.get(query.infoHash, settings.dhtMaxValuesPerReply);
        return rpc.respond(from, t, { id, token: this.#tokens.issue(from.host, query.infoHash), nodes: this.#nodesNear(query.infoHash, query.want), ...(values.length ? { values } : {}) });
      }
      case 'announce_peer':
        return this.#onAnnounce(t, query, from);
      case 'get':
        return this.#onGet(t, query, from);
      case 'put':
        return this.#onPut(t, query, from);
      default:
        return assertNever(query);
    }
  }

  /**
   * The closest nodes we know to `target`: this node's family, and with a
   * BEP 32 `want` naming the other family, the sibling node's too (`nodes`
   * and `nodes6` are split by address when encoded). Without `want`, this
   * node's family only, as BEP 32 asks.
   */
  #nodesNear(target: Uint8Array, want?: Want[]): NodeInfo[] {
    const k = this.#ctx.settings.dhtK;
    const own: Want = this.#ctx.family === 6 ? 'n6' : 'n4';
    const mine = want === undefined || want.includes(own) ? this.#ctx.table().closest(target, k).map((c) => ({ id: c.id, host: c.host, port: c.port })) : [];
    const other = want?.includes(own === 'n4' ? 'n6' : 'n4') ? (this.#ctx.sibling?.()?.closestNodes(target, k) ?? []) : [];
    return other.length ? [...mine, ...other] : mine;
  }

  #onAnnounce(t: Uint8Array, q: Extract<KrpcQuery, { q: 'announce_peer' }>, from: PeerAddress): void {
    const { rpc, log } = this.#ctx;
    if (!this.#tokens.valid(q.token, from.host, q.infoHash)) {
      log.debug(`announce_peer from ${from.host}:${from.port} with a bad token`);
      return rpc.sendError(from, t, KRPC_PROTOCOL_ERROR, 'bad token');
    }
    const port = q.impliedPort ? from.port : q.port;
    this.peers.add(q.infoHash, { host: from.host, port });
    rpc.respond(from, t, { id: this.#ctx.nodeId() });
    this.#ctx.events.emit('peer:announced', { infoHash: toHex(q.infoHash), host: from.host, port });
  }

  #onGet(t: Uint8Array, q: Extract<KrpcQuery, { q: 'get' }>, from: PeerAddress): void {
    const r: KrpcResponse = {
      id: this.#ctx.nodeId(),
      token: this.#tokens.issue(from.host, q.target),
      nodes: this.#nodesNear(q.target, q.want),
    };
    const item = this.items.get(q.target);
    if (item?.kind === 'immutable') r.v = item.v;
    else if (item?.kind === 'mutable') {
      r.seq = item.seq;
      // BEP 44: a requester that already has this seq only learns the number.
      if (q.seq === undefined || item.seq > q.seq) Object.assign(r, { v: item.v, k: item.k, sig: item.sig });
    }
    this.#ctx.rpc.respond(from, t, r);
  }

  #onPut(t: Uint8Array, q: Extract<KrpcQuery, { q: 'put' }>, from: PeerAddress): void {
    const { rpc, log, settings } = this.#ctx;
    if (!this.#putLimiter.allow(from.host)) {
      log.debug(`put from ${from.host}:${from.port} dropped: over ${settings.dhtMaxPutsPerAddressPerMinute} puts a minute`);
      return;
    }
    let target: Uint8Array;
    try {
      target = checkPut(q.v, q.mutable);
      if (!this.#tokens.valid(q.token, from.host, target)) throw new DhtError('bad token', KRPC_PROTOCOL_ERROR);
      const stored = this.items.get(target);
      if (q.mutable && stored?.kind === 'mutable') checkUpdate(stored, q.mutable, q.v);
    } catch (err) {
      const code = err instanceof DhtError ? err.krpcCode : KRPC_SERVER_ERROR;
      log.warn(`refused put from ${from.host}:${from.port}: ${errorMessage(err)}`);
      return rpc.sendError(from, t, code, errorMessage(err));
    }
    const m = q.mutable;
    const ok = this.items.set(target, m ? { kind: 'mutable', k: m.k, seq: m.seq, sig: m.sig, v: q.v, ...(m.salt ? { salt: m.salt } : {}) } : { kind: 'immutable', v: q.v });
    if (!ok) return rpc.sendError(from, t, KRPC_SERVER_ERROR, 'item store full');
    rpc.respond(from, t, { id: this.#ctx.nodeId() });
    this.#ctx.events.emit('item:stored', { target: toHex(target), mutable: m !== undefined, ...(m ? { seq: m.seq } : {}) });
  }
}
