/**
 * The `want` nodes closest to a target when `want` is more than k, the
 * size of a KRPC answer's `nodes` (settings.dhtStoreReplicas: where a put
 * stores its copies).
 *
 * An iterative lookup cannot find them alone: every node near the target
 * answers with the k closest it knows, so the lookup converges on the k
 * closest (and one more) and never hears of the next ones. Those live in the
 * target's sibling subtrees: the nodes sharing exactly `b` leading bits with
 * the target, for the prefix lengths `b` between the k-th and the want-th
 * closest found so far. The k nodes closest to the target with bit `b`
 * flipped are the closest of that subtree, in the same order as seen from
 * the target itself (XOR). The nodes nearest the target know that
 * neighbourhood best (their deepest buckets), so a `find_node` of the
 * flipped target asked of a few of them finds the subtree's nodes in one
 * round. Each node found that way is then asked the caller's query (a BEP 44
 * `get` for the target: its write token and what it holds) directly.
 *
 * A subtree whose k closest were all needed may hold more: its own sibling
 * subtrees are looked into next, nearest to the target first, until none
 * can hold an id closer than the want-th known.
 *
 * Bounded: at most MAX_PROBES subtrees, PROBE_ASKERS queries each.
 */
import { bytesEqual } from '../util/bytes.js';
import { commonPrefixBits, compareDistance } from './distance.js';
import type { KrpcQuery, KrpcResponse, NodeInfo } from './krpc.js';
import type { LookupReply, LookupResult } from './lookup.js';

/** Sibling subtrees looked into at most. */
const MAX_PROBES = 10;
/** Nodes nearest the target asked (find_node) about each sibling subtree: each knows at most k of it. */
const PROBE_ASKERS = 3;

export interface WideLookupContext {
  /** Our own id (find_node queries carry it). */
  nodeId: Uint8Array;
  /** The bucket size k: what one answer's `nodes` holds. */
  k: number;
  /** An iterative lookup of `target` for its `k` closest, asking each node `query`. */
  lookup: (target: Uint8Array, query: KrpcQuery, k: number, onResponse?: (node: NodeInfo, r: KrpcResponse) => boolean | void) => Promise<LookupResult>;
  /** One query to one node. */
  query: (to: NodeInfo, query: KrpcQuery) => Promise<KrpcResponse>;
}

/** A subtree not looked into yet: the ids sharing `point`'s first `level` bits and differing at bit `level`. */
interface Region {
  /** The target with some bits flipped, the last at `level`: the region's ids are closest to it in the target's own order. */
  point: Uint8Array;
  level: number;
  /** XOR of point and target: no id of the region is closer to the target than this. */
  bound: Uint8Array;
}

const addrKey = (n: NodeInfo): string => `${n.host}:${n.port}`;

function flipBit(id: Uint8Array, bit: number): Uint8Array {
  const out = Uint8Array.from(id);
  out[bit >> 3]! ^= 0x80 >> (bit & 7);
  return out;
}

function xor(a: Uint8Array, b: Uint8Array): Uint8Array {
  return a.map((x, i) => x ^ b[i]!);
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** The `want` closest nodes to `target` that answered `query` (closest first). */
export async function wideLookup(
  target: Uint8Array,
  query: KrpcQuery,
  want: number,
  ctx: WideLookupContext,
  onResponse?: (node: NodeInfo, r: KrpcResponse) => boolean | void,
): Promise<LookupResult> {
  const first = await ctx.lookup(target, query, Math.min(want, ctx.k), onResponse);
  if (first.stoppedEarly || want <= ctx.k) return first;
  const replies = new Map<string, LookupReply>(first.closest.map((c) => [addrKey(c.node), c]));
  let { queried, responded, stalled } = first;
  const ranked = (): LookupReply[] => [...replies.values()].sort((a, b) => compareDistance(a.node.id, b.node.id, target));
  /** The want-th closest distance known, or undefined while fewer are known. */
  const threshold = (): Uint8Array | undefined => {
    const now = ranked();
    return now.length >= want ? xor(now[want - 1]!.node.id, target) : undefined;
  };
  const regions: Region[] = [];
  /** The subtrees beside `point` (from `level` + 1) that its k closest (`found`, closest first) did not cover. */
  const split = (point: Uint8Array, level: number, bound: Uint8Array, found: NodeInfo[]): void => {
    if (found.length < ctx.k) return;
    const deepest = commonPrefixBits(point, found[ctx.k - 1]!.id);
    // The k-th is outside this region: the region has fewer than k ids, all found.
    if (deepest <= level) return;
    for (let c = level + 1; c <= Math.min(deepest, 159); c++) {
      const bit = flipBit(bound, c);
      regions.push({ point: flipBit(point, c), level: c, bound: bit });
    }
  };
  split(target, -1, new Uint8Array(target.length), ranked().map((c) => c.node));
  for (let probes = 0; probes < MAX_PROBES && regions.length > 0; probes++) {
    // The region that may hold the closest ids first; none that cannot beat the want-th known.
    regions.sort((a, b) => compareBytes(a.bound, b.bound));
    const region = regions.shift()!;
    const limit = threshold();
    if (limit && compareBytes(region.bound, limit) >= 0) break;
    // Asked of the nodes nearest the target, whose routing tables know its neighbourhood best (one round, not a lookup).
    const askers = ranked().slice(0, PROBE_ASKERS).map((c) => c.node);
    const heard = new Map<string, NodeInfo>();
    const probes = await Promise.allSettled(askers.map((n) => ctx.query(n, { q: 'find_node', id: ctx.nodeId, target: region.point })));
    for (const p of probes) {
      queried++;
      if (p.status !== 'fulfilled') continue;
      responded++;
      for (const n of p.value.nodes ?? []) if (!bytesEqual(n.id, ctx.nodeId)) heard.set(addrKey(n), n);
    }
    const found = [...heard.values()].sort((a, b) => compareDistance(a.id, b.id, region.point));
    const fresh = found.filter((n) => !replies.has(addrKey(n)) && (limit === undefined || compareBytes(xor(n.id, target), limit) < 0));
    const answers = await Promise.allSettled(fresh.map((n) => ctx.query(n, query)));
    answers.forEach((a, i) => {
      queried++;
      if (a.status !== 'fulfilled') return;
      responded++;
      const node = { ...fresh[i]!, id: a.value.id };
      replies.set(addrKey(node), { node, response: a.value, hop: 1 });
      onResponse?.(node, a.value);
    });
    split(region.point, region.level, region.bound, found);
  }
  const closest = ranked().slice(0, want);
  return { closest, queried, responded, hops: first.hops, stoppedEarly: false, stalled };
}
