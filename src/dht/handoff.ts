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
 * held up beyond it.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { KrpcQuery, KrpcResponse, NodeInfo } from './krpc.js';
import type { LookupResult, Op } from './lookup.js';
import type { PeerAddress } from '../util/peer-address.js';
import type { StoredItem } from './stores.js';

export interface HandoffContext {
  nodeId: Uint8Array;
  log: Logger;
  lookup: (target: Uint8Array, query: KrpcQuery, opts: Op) => Promise<LookupResult>;
  query: (to: PeerAddress, query: KrpcQuery, signal?: AbortSignal) => Promise<KrpcResponse>;
  /**
   * The closest nodes our routing table knows to a target. An item we store
   * lies near our own id, where our table is densest, so one round of `get`
   * to those nodes (for their tokens) finds where it belongs without an
   * iterative lookup: several times fewer queries per item, which is what
   * bounds how many items a leave hands on in its time.
   */
  known?: (target: Uint8Array, n: number) => NodeInfo[];
  /** k: how many of the known closest are asked in that one round. */
  k?: number;
  /** Items looked up and put at once. */
  concurrency: number;
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
  const k = ctx.k ?? 8;
  const nearOrLookup = async (target: Uint8Array): Promise<{ closest: { node: NodeInfo; response: KrpcResponse }[] }> => {
    const near = ctx.known?.(target, k) ?? [];
    if (near.length >= k / 2) {
      const asked = await Promise.allSettled(near.map((node) => ctx.query(node, { q: 'get', id: ctx.nodeId, target }, ctx.signal).then((response) => ({ node, response }))));
      const closest = asked.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      // Most of them answered: that is the neighbourhood. Otherwise the table is stale there: look it up.
      if (closest.length >= Math.min(k / 2, near.length)) return { closest };
    }
    return ctx.lookup(target, { q: 'get', id: ctx.nodeId, target }, { signal: ctx.signal });
  };
  const one = async (target: Uint8Array, item: StoredItem): Promise<void> => {
    const lookup = await nearOrLookup(target);
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
