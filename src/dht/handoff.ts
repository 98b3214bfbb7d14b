/**
 * Graceful leave (issue 15, item 3): before a node stops, each BEP 44 item
 * it stores for others is handed to the nodes now closest to the item's
 * target, so that a node leaving does not take copies out of the network.
 *
 * Per item: a `get` lookup of its target (which yields the closest nodes and
 * their write tokens), then a `put` of the item exactly as stored to the
 * closest nodes that do not hold it already. A mutable item keeps its
 * original key, seq and signature: BEP 44 lets anyone re-put a signed item,
 * and storing nodes check the signature as for any put. A node holding a
 * newer seq refuses the older one (302), which is right.
 *
 * Bounded: at most `concurrency` items at a time, and everything is
 * abandoned when `signal` aborts (the leave's time bound): exit is never
 * held up beyond it. The caller gives the items in random order, so that
 * what a short bound leaves undone differs between the nodes that leave:
 * in storage order, every node handed on the same oldest items and never
 * the newest.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { KrpcQuery, KrpcResponse } from './krpc.js';
import type { LookupOp, LookupResult } from './lookup.js';
import type { PeerAddress } from '../util/peer-address.js';
import type { StoredItem } from './stores.js';

export interface HandoffContext {
  nodeId: Uint8Array;
  log: Logger;
  lookup: (target: Uint8Array, query: KrpcQuery, opts: LookupOp) => Promise<LookupResult>;
  query: (to: PeerAddress, query: KrpcQuery, signal?: AbortSignal) => Promise<KrpcResponse>;
  /** Items looked up and put at once. */
  concurrency: number;
  /** Nodes each item should be on (settings.dhtStoreReplicas): the lookup finds that many closest. */
  replicas: number;
  signal: AbortSignal;
}

export interface HandoffResult {
  /** Items there were to hand on. */
  items: number;
  /** Items at least one other node now holds (it took our put, or had it already). */
  handedOn: number;
  /** Puts other nodes accepted. */
  puts: number;
  /** Items not finished when the time bound ran out. */
  unfinished: number;
}

/** True when a `get` answer shows the node holds this item already (same or newer seq; any copy of an immutable one). */
function alreadyHeld(item: StoredItem, r: KrpcResponse): boolean {
  if (item.kind === 'immutable') return r.v !== undefined;
  return r.seq !== undefined && r.seq >= item.seq;
}

export async function handOffItems(items: [target: Uint8Array, item: StoredItem][], ctx: HandoffContext): Promise<HandoffResult> {
  const result: HandoffResult = { items: items.length, handedOn: 0, puts: 0, unfinished: 0 };
  let next = 0;
  let finished = 0;
  const one = async (target: Uint8Array, item: StoredItem): Promise<void> => {
    // A mutable item's holders of this seq (or newer) answer with the seq alone, not the value (BEP 44 get `seq`).
    const query: KrpcQuery = { q: 'get', id: ctx.nodeId, target, ...(item.kind === 'mutable' ? { seq: item.seq } : {}) };
    const lookup = await ctx.lookup(target, query, { signal: ctx.signal, k: ctx.replicas });
    let held = 0;
    const puts: Promise<unknown>[] = [];
    const mutable = item.kind === 'mutable' ? { k: item.k, sig: item.sig, seq: item.seq, ...(item.salt ? { salt: item.salt } : {}) } : undefined;
    for (const c of lookup.closest) {
      if (alreadyHeld(item, c.response)) held++;
      else if (c.response.token) puts.push(ctx.query(c.node, { q: 'put', id: ctx.nodeId, token: c.response.token, v: item.v, ...(mutable ? { mutable } : {}) }, ctx.signal));
    }
    const accepted = (await Promise.allSettled(puts)).filter((r) => r.status === 'fulfilled').length;
    result.puts += accepted;
    if (held + accepted > 0) result.handedOn++;
  };
  const worker = async (): Promise<void> => {
    while (next < items.length && !ctx.signal.aborted) {
      const [target, item] = items[next++]!;
      try {
        await one(target, item);
        finished++;
      } catch (err) {
        if (!ctx.signal.aborted) {
          finished++;
          ctx.log.debug(`handing on a DHT item: ${errorMessage(err)}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(ctx.concurrency, items.length)) }, worker));
  result.unfinished = items.length - finished;
  return result;
}
