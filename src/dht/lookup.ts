/**
 * The iterative lookup of BEP 5 (Kademlia): keep the closest nodes heard of
 * so far, query up to `alpha` of the `k` closest unqueried ones at a time,
 * learn closer nodes from each answer, and stop when the `k` closest known
 * nodes have all answered (or failed), or after `maxQueries` queries.
 *
 * The transport is a callback, so the algorithm is tested without sockets.
 * Each node is queried at most once per lookup; nodes that time out drop
 * out of the closest set, which is what routes around dead nodes.
 *
 * Stalled queries: a query with no answer after `stallMs` (a few round-trip
 * times, far less than the query timeout) stops counting toward alpha and
 * leaves the closest set, so the next candidate is asked at once instead of
 * waiting a full timeout per dead node. Its answer is still used if it
 * arrives while the lookup runs. The lookup does not wait for stalled
 * queries once the k closest live candidates have all answered; those
 * queries are not aborted but run on to their own timeout, so the caller
 * still learns that a dead node is dead (routing-table failure count).
 *
 * Address diversity (libtorrent's dht_restrict_search_ips): one host must
 * not supply most of the closest set, or it alone decides what a lookup
 * finds (an eclipse of get_peers and BEP 44 gets). `addressGroups` puts an
 * address in groups (its IP, its /24) with a limit each; walking the
 * candidates closest first, one past a limit is neither queried nor
 * returned. It is kept, not dropped: when a closer node of its group fails
 * (say a bogus entry a liar gave for an honest node's address), it moves up.
 */
import { setMaxListeners } from 'node:events';
import type { PeerAddress } from '../util/peer-address.js';
import { bytesEqual } from '../util/bytes.js';
import type { KrpcQuery, KrpcResponse, NodeInfo } from './krpc.js';
import { compareDistance } from './distance.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';

export interface LookupOptions {
  target: Uint8Array;
  /** Where to start: known nodes, and bootstrap addresses whose id we do not know yet. */
  seeds: (NodeInfo | PeerAddress)[];
  k: number;
  alpha: number;
  /** Hard bound on queries sent by one lookup. */
  maxQueries: number;
  /** Our own id and address, never queried. */
  self: { id: Uint8Array; host: string; port: number };
  query: (to: PeerAddress, signal: AbortSignal) => Promise<KrpcResponse>;
  /** Called for every answer; return true to end the lookup early (e.g. an immutable item was found). */
  onResponse?: (node: NodeInfo, response: KrpcResponse) => boolean | void;
  /** Groups an address counts in, each with how many of its nodes may be in the closest set (see above); default: no limit. */
  addressGroups?: (host: string) => AddressGroup[];
  /** Nodes learned from answers that may be queried at all (e.g. BEP 42 under enforcement); default: all. */
  admit?: (node: NodeInfo) => boolean;
  /** After this many ms without an answer a query is stalled (see above); default: never. */
  stallMs?: (to: PeerAddress) => number;
  signal?: AbortSignal;
}

/** Options of a node operation that may be cancelled. */
export type Op = { signal?: AbortSignal };
/** A lookup's options: `k`, the closest nodes to find (default settings.dhtK; puts ask for settings.dhtStoreReplicas). */
export type LookupOp = Op & { k?: number };

/** What a DHT node lends the operations that run lookups on its behalf (announcer.ts, publisher.ts). */
export interface LookupContext {
  settings: Settings;
  log: Logger;
  now: () => number;
  /** Our id; it may change at start (a saved one is loaded). */
  nodeId: () => Uint8Array;
  /** An iterative lookup of `target` sending `query` to each node (see iterativeLookup). */
  lookup: (target: Uint8Array, query: KrpcQuery, opts: LookupOp, onResponse?: LookupOptions['onResponse']) => Promise<LookupResult>;
  /** One query, with the node's timeouts and bookkeeping. */
  query: (to: PeerAddress, query: KrpcQuery, signal?: AbortSignal) => Promise<KrpcResponse>;
}

export interface AddressGroup {
  key: string;
  limit: number;
}

export interface LookupReply {
  node: NodeInfo;
  response: KrpcResponse;
  /** Queries on the path from a seed to this node (a seed's answer is hop 1). */
  hop: number;
}

export interface LookupResult {
  /** Up to k nodes that answered, closest first. */
  closest: LookupReply[];
  queried: number;
  responded: number;
  /** Hops to the closest node that answered. */
  hops: number;
  stoppedEarly: boolean;
  /** Queries that stalled (answered late, failed, or still unanswered when the lookup ended). */
  stalled: number;
}

interface Candidate {
  id: Uint8Array | undefined;
  host: string;
  port: number;
  hop: number;
  groups: AddressGroup[];
  /** `stalled`: in flight but past its stall time, so not counted toward alpha. */
  state: 'new' | 'inflight' | 'stalled' | 'ok' | 'failed';
  response?: KrpcResponse;
}

export async function iterativeLookup(opts: LookupOptions): Promise<LookupResult> {
  const { target, k, alpha } = opts;
  const candidates = new Map<string, Candidate>();
  const addrKey = (h: string, p: number): string => `${h}:${p}`;
  const isSelf = (c: { id?: Uint8Array; host: string; port: number }): boolean =>
    (c.id !== undefined && bytesEqual(c.id, opts.self.id)) || (c.host === opts.self.host && c.port === opts.self.port);

  const add = (n: { id?: Uint8Array; host: string; port: number }, hop: number): void => {
    if (isSelf(n) || n.port <= 0 || n.port > 65535) return;
    const key = addrKey(n.host, n.port);
    if (candidates.has(key)) return;
    candidates.set(key, { id: n.id, host: n.host, port: n.port, hop, groups: opts.addressGroups?.(n.host) ?? [], state: 'new' });
  };
  for (const s of opts.seeds) add(s, 1);
  const admitted = (n: NodeInfo): boolean => opts.admit === undefined || opts.admit(n);

  /** `list` (closest first) without the candidates past their groups' limits. */
  const diverse = (list: Candidate[]): Candidate[] => {
    if (!opts.addressGroups) return list;
    const used = new Map<string, number>();
    return list.filter((c) => {
      if (c.groups.some((g) => (used.get(g.key) ?? 0) >= g.limit)) return false;
      for (const g of c.groups) used.set(g.key, (used.get(g.key) ?? 0) + 1);
      return true;
    });
  };

  const controller = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, controller.signal]) : controller.signal;
  setMaxListeners(0, signal);
  /** Queries in flight that are not stalled: what alpha bounds. */
  let inflight = 0;
  /** Stalled queries not settled yet. */
  let stalledPending = 0;
  let stalled = 0;
  let queried = 0;
  let responded = 0;
  let stoppedEarly = false;
  let wake: (() => void) | undefined;

  // Unknown-id seeds first (we must ask them to learn anything), then by distance.
  const ranked = (): Candidate[] =>
    [...candidates.values()]
      .filter((c) => c.state !== 'failed')
      .sort((a, b) => (a.id === undefined ? (b.id === undefined ? 0 : -1) : b.id === undefined ? 1 : compareDistance(a.id, b.id, target)));

  const launch = (c: Candidate): void => {
    c.state = 'inflight';
    inflight++;
    queried++;
    let wasStalled = false;
    const stallAfter = opts.stallMs?.({ host: c.host, port: c.port });
    const stallTimer =
      stallAfter === undefined
        ? undefined
        : setTimeout(() => {
            if (c.state !== 'inflight') return;
            c.state = 'stalled';
            wasStalled = true;
            inflight--;
            stalledPending++;
            stalled++;
            wake?.();
          }, stallAfter);
    opts
      .query({ host: c.host, port: c.port }, signal)
      .then(
        (response) => {
          c.state = 'ok';
          c.response = response;
          c.id = response.id;
          responded++;
          if (isSelf(c) || !admitted({ id: c.id, host: c.host, port: c.port })) c.state = 'failed';
          for (const n of response.nodes ?? []) if (admitted(n)) add(n, c.hop + 1);
          if (c.state === 'ok' && opts.onResponse?.({ id: response.id, host: c.host, port: c.port }, response) === true) {
            stoppedEarly = true;
            controller.abort();
          }
        },
        () => {
          c.state = 'failed';
        },
      )
      .finally(() => {
        clearTimeout(stallTimer);
        if (wasStalled) stalledPending--;
        else inflight--;
        wake?.();
      });
  };

  for (;;) {
    if (opts.signal?.aborted) {
      controller.abort();
      throw opts.signal.reason;
    }
    // Stalled nodes leave the closest set, which lets the next candidate in (alpha widens);
    // they still hold their groups' places until they fail, so one stalling host is not asked again and again.
    const top = diverse(ranked())
      .filter((c) => c.state !== 'stalled')
      .slice(0, k);
    if (!stoppedEarly && queried < opts.maxQueries) {
      for (const c of top) {
        if (inflight >= alpha || queried >= opts.maxQueries) break;
        if (c.state === 'new') launch(c);
      }
    }
    if (stoppedEarly) break;
    if (inflight === 0) {
      // Done unless only stalled queries could still add anything: with k answers in hand, do not wait for them.
      const haveK = top.length >= k && top.every((c) => c.state === 'ok');
      if (stalledPending === 0 || haveK) break;
    }
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
  // Queries still in flight after an early stop are no longer needed; stalled ones
  // left behind by a normal end run on to their timeout (see above).
  if (stoppedEarly) controller.abort();

  const closest = diverse(ranked().filter((c) => c.state === 'ok' && c.id !== undefined && c.response !== undefined))
    .slice(0, k)
    .map((c) => ({ node: { id: c.id!, host: c.host, port: c.port }, response: c.response!, hop: c.hop }));
  return { closest, queried, responded, hops: closest[0]?.hop ?? 0, stoppedEarly, stalled };
}
