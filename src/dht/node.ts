/**
 * A Mainline DHT node (BEP 5) with BEP 44 items: it answers ping,
 * find_node, get_peers, announce_peer, get and put, keeps a routing table,
 * and runs iterative lookups for the torrent code (getPeers, announce) and
 * the key-value layer (putImmutable, putMutable, get).
 *
 * There is no default bootstrap node: a node knows only what `bootstrap`,
 * its saved routing table (`stateDir`), `addNode` (a wire peer's PORT
 * message) and incoming queries tell it.
 *
 * This file is the node's lifecycle, routing table and outgoing queries;
 * answering others is responder.ts, get_peers and announce announcer.ts,
 * BEP 44 puts and gets publisher.ts.
 *
 * Hostile traffic: rpc.ts drops garbage and answers malformed queries with
 * 203/204; responder.ts checks puts and tokens, rate-limits puts and caps
 * every store. Nothing a remote sends throws out.
 * One host offering many node ids gets one place in the routing table and
 * in a lookup's closest set (routing-table.ts, lookup.ts: dhtMaxNodesPer*
 * settings, BEP 42), and one warning (refusal-log.ts).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { setMaxListeners } from 'node:events';
import { TypedEmitter } from '../events.js';
import { DhtError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { resolveSettings, type Settings } from '../settings.js';
import type { PeerAddress } from '../util/peer-address.js';
import type { BValue } from '../bencode/index.js';
import { randomBytes } from '../util/hash.js';
import { fromHex, toHex } from '../util/bytes.js';
import type { KrpcQuery, KrpcResponse, NodeInfo } from './krpc.js';
import { KrpcSocket, QueryFailure } from './rpc.js';
import { RoutingTable } from './routing-table.js';
import { RefusalLog, explainRefusal } from './refusal-log.js';
import { addressClass, addressGroups, bep42Matches, bep42NodeId, isPublicUnicast } from './bep42.js';
import { RttTracker } from './rtt.js';
import { iterativeLookup, type LookupContext, type LookupOp, type LookupOptions, type LookupResult, type Op } from './lookup.js';
import { QueryResponder, type ResponderEvents } from './responder.js';
import { PeerAnnouncer } from './announcer.js';
import { ItemPublisher, type DhtItem, type ItemLookup, type PublishOptions, type PublisherEvents, type PutMutableOptions, type PutResult } from './publisher.js';
import { loadRoutingTable, saveRoutingTable } from './state.js';
import { ItemPersister } from './item-persistence.js';
import { handOffItems, type HandoffResult } from './handoff.js';
import { wideLookup } from './wide-lookup.js';
import { shuffleInPlace } from '../util/shuffle.js';

export type { DhtItem, ItemLookup, PublishOptions, PutMutableOptions, PutResult } from './publisher.js';

export interface DhtNodeOptions {
  /** An IPv6 address runs an IPv6 node (BEP 32); `::` an IPv4 node on 0.0.0.0 unless `family` is 6. */
  host: string;
  /** With host `::`: 6 for the IPv6 node that runs beside the IPv4 one (BEP 32), on `::` IPv6 only. */
  family?: 4 | 6;
  /**
   * BEP 32: the node of the other family beside this one. Our queries then
   * carry `want: ["n4", "n6"]`; answers to a `want` naming the other family
   * include its closest nodes; and nodes of the other family we hear of are
   * offered to it (a few per response, while its table is small).
   */
  sibling?: () => DhtNode | undefined;
  /** UDP port; 0 picks a free one. */
  port: number;
  bootstrap?: PeerAddress[];
  /**
   * Routing table saved here on stop and loaded on start; the BEP 44 items
   * stored for others too (saved in batches and on stop, reloaded with
   * their remaining lifetime: item-persistence.ts). A read-only node stores
   * nothing.
   */
  stateDir?: string;
  nodeId?: Uint8Array;
  logger?: Logger;
  settings?: Partial<Settings>;
  now?: () => number;
  /**
   * BEP 43 read-only node: its queries carry `ro=1` so nobody adds it to a
   * routing table, it answers no queries, and it does not join on start
   * (lookups start from the bootstrap nodes). For short-lived clients such as
   * `peer kv`, which would otherwise leave dead entries in others' tables.
   */
  readOnly?: boolean;
}

export interface DhtEvents extends ResponderEvents, PublisherEvents {
  'dht:listening': { host: string; port: number; nodeId: string };
  'dht:ready': { nodes: number };
  /** Items reloaded from --state at start. */
  'items:loaded': { items: number };
  /** A graceful leave handed the stored items on (handoff.ts). */
  'items:handed-off': HandoffResult;
}

export interface StopOptions {
  /** Hand the stored items to the nodes now closest to them first (default true; bounded by dhtLeaveTimeoutMs). */
  leave?: boolean;
}

export interface DhtStats {
  nodeId: string;
  host: string;
  port: number;
  running: boolean;
  nodes: number;
  goodNodes: number;
  buckets: number;
  itemsStored: number;
  /** Bytes of the items stored for others (the dhtMaxItemBytes cap counts these). */
  itemBytesStored: number;
  infoHashes: number;
  peersStored: number;
  publishing: number;
  queriesSent: number;
  queriesReceived: number;
  timeouts: number;
  refused: number;
  /** Node ids the routing table refused (per-address, per-/24 and BEP 42 rules). */
  nodesRefused: number;
}

export class DhtNode extends TypedEmitter<DhtEvents> {
  readonly settings: Settings;
  #nodeId: Uint8Array;
  readonly #opts: DhtNodeOptions;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #rpc: KrpcSocket;
  /** Round-trip times, for calling a lookup's query stalled long before it times out. */
  readonly #rtt: RttTracker;
  #table: RoutingTable;
  readonly #responder: QueryResponder;
  readonly #announcer: PeerAnnouncer;
  readonly #publisher: ItemPublisher;
  readonly #refusals: RefusalLog;
  #bootstrap: PeerAddress[] = [];
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #running = false;
  #shutdown = new AbortController();
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #republishTimer: NodeJS.Timeout | undefined;
  #ready: Promise<void> = Promise.resolve();
  #persister: ItemPersister | undefined;

  constructor(opts: DhtNodeOptions) {
    super();
    this.#opts = opts;
    this.settings = resolveSettings(opts.settings ?? {});
    this.#log = opts.logger ?? getLogger('dht');
    this.#now = opts.now ?? Date.now;
    // BEP 42: on a public address we know, an id others can check; elsewhere any id is as good.
    this.#nodeId = opts.nodeId ?? (isPublicUnicast(opts.host) ? bep42NodeId(opts.host) : randomBytes(20));
    if (this.#nodeId.length !== 20) throw new RangeError(`nodeId must be 20 bytes, got ${this.#nodeId.length}`);
    const s = this.settings;
    this.#refusals = new RefusalLog({ log: this.#log, now: this.#now, explain: (r) => explainRefusal(r, s) });
    // BEP 43: a read-only node does not answer.
    // `::` (every address) runs this node on IPv4's wildcard; an IPv6 address runs an IPv6 node (BEP 32).
    this.#rpc = new KrpcSocket({
      host: opts.host === '::' && opts.family !== 6 ? '0.0.0.0' : opts.host,
      port: opts.port,
      logger: this.#log,
      queryTimeoutMs: s.dhtQueryTimeoutMs,
      onOtherFamily: (nodes) => opts.sibling?.()?.offerNodes(nodes),
    }, (q) => {
      if (!opts.readOnly) this.#responder.answer(q);
    });
    this.#rtt = new RttTracker({ capMs: s.dhtQueryTimeoutMs, floorMs: s.dhtStallFloorMs, multiplier: s.dhtStallRttMultiplier, maxEntries: s.dhtRttMaxAddresses });
    this.#table = this.#newTable();
    const common = { settings: s, log: this.#log, now: this.#now, nodeId: () => this.#nodeId };
    this.#responder = new QueryResponder({ ...common, rpc: this.#rpc, table: () => this.#table, family: this.#rpc.family, ...(opts.sibling ? { sibling: opts.sibling } : {}), events: this });
    const lookups: LookupContext = {
      ...common,
      lookup: (target, query, o, onResponse) => this.#lookup(target, query, o, onResponse),
      query: (to, query, signal) => this.#query(to, query, signal),
    };
    this.#announcer = new PeerAnnouncer({ ...lookups, localPeers: (infoHash, max) => this.#responder.peers.get(infoHash, max) });
    this.#publisher = new ItemPublisher({ ...lookups, localItem: (target) => this.#responder.items.get(target), running: () => this.#running, events: this, ...(opts.stateDir && !opts.readOnly ? { stateDir: opts.stateDir } : {}) });
  }

  #newTable(): RoutingTable {
    return new RoutingTable({
      localId: this.#nodeId,
      k: this.settings.dhtK,
      now: this.#now,
      questionableAfterMs: this.settings.dhtQuestionableAfterMs,
      badAfterFailures: this.settings.dhtBadAfterFailures,
      ping: (c) => this.ping(c).then(() => true, () => false),
      maxNodesPerAddress: this.settings.dhtMaxNodesPerAddress,
      maxNodesPerLoopbackAddress: this.settings.dhtMaxNodesPerLoopbackAddress,
      maxNodesPerSubnet: this.settings.dhtMaxNodesPerSubnet,
      enforceNodeId: this.settings.dhtEnforceNodeId,
      onRefused: (node, reason) => this.#refusals.note(node, reason),
    });
  }

  get nodeId(): Uint8Array {
    return this.#nodeId;
  }

  get address(): PeerAddress {
    return this.#rpc.address;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Binds the UDP socket and starts joining the network in the background. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const saved = this.#opts.stateDir ? await loadRoutingTable(this.#opts.stateDir) : undefined;
    if (saved && !this.#opts.nodeId) {
      this.#nodeId = saved.nodeId;
      this.#table = this.#newTable();
    }
    // A table saved by a node of the other family (another --host) is no use to this socket.
    for (const n of saved?.nodes ?? []) if (n.host.includes(':') === (this.#rpc.family === 6)) this.#table.restore(n);
    if (this.#opts.stateDir && !this.#opts.readOnly) {
      const s = this.settings;
      this.#persister = new ItemPersister({
        dir: this.#opts.stateDir,
        store: this.#responder.items,
        log: this.#log,
        delayMs: s.dhtItemSaveDelayMs,
        // Each item's encoding adds under 64 bytes to what itemBytes counts.
        maxFileBytes: s.dhtMaxItemBytes + s.dhtMaxItems * 64 + 1024,
        now: this.#now,
      });
      const items = await this.#persister.load();
      this.emit('items:loaded', { items });
    }
    // What this node published before a restart (kv-published.ts): put again once it has joined.
    const republishRestored = (await this.#publisher.restore()) > 0;
    this.#bootstrap = await resolveAddresses(this.#opts.bootstrap ?? [], this.#log, this.#rpc.family);
    await this.#rpc.bind();
    this.#running = true;
    this.#shutdown = new AbortController();
    // Every query in flight listens to it: hundreds at once is normal, not a leak.
    setMaxListeners(0, this.#shutdown.signal);
    const a = this.#rpc.address;
    this.#log.info(`DHT node ${toHex(this.#nodeId)} listening on ${a.host}:${a.port}`);
    this.emit('dht:listening', { host: a.host, port: a.port, nodeId: toHex(this.#nodeId) });
    this.#maintenanceTimer = setInterval(() => this.#maintain(), this.settings.dhtMaintenanceIntervalMs);
    this.#maintenanceTimer.unref();
    this.#republishTimer = setInterval(() => void this.#publisher.republish(), this.settings.dhtRepublishIntervalMs);
    this.#republishTimer.unref();
    if (!this.#opts.readOnly) this.#ready = this.#join();
    if (republishRestored) void this.#ready.then(() => this.#publisher.republishRestored());
  }

  /** Resolves when the first join (a lookup of our own id, then of a random id in each of a few sparse buckets) has finished. */
  async ready(opts: Op = {}): Promise<void> {
    await this.start();
    if (!opts.signal) return this.#ready;
    const signal = opts.signal;
    await Promise.race([this.#ready, new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]);
  }

  async #join(): Promise<void> {
    // Let start() return (and its caller report it) before 'dht:ready' fires.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#table.size === 0 && this.#bootstrap.length === 0) {
      this.emit('dht:ready', { nodes: 0 });
      return;
    }
    try {
      await this.#lookup(this.#nodeId, { q: 'find_node', id: this.#nodeId, target: this.#nodeId }, {});
      // Looking up our own id fills the buckets near us; a few random ids in the
      // farthest sparse buckets fill the rest, so later lookups start from more
      // (and more varied) contacts and route around dead ones sooner.
      const targets = this.#table.sparseBucketTargets(this.settings.dhtJoinRefreshBuckets);
      await Promise.all(targets.map((target) => this.findNode(target).catch((err) => this.#log.debug(`join refresh: ${errorMessage(err)}`))));
    } catch (err) {
      if (!this.#shutdown.signal.aborted) this.#log.warn(`DHT join failed: ${errorMessage(err)}`);
    }
    this.emit('dht:ready', { nodes: this.#table.size });
  }

  /**
   * Hands the stored items on (a graceful leave, at most dhtLeaveTimeoutMs,
   * unless `leave` is false), stops timers and lookups, saves the routing
   * table and the stored items, closes the socket. Idempotent.
   */
  stop(opts: StopOptions = {}): Promise<void> {
    if (!this.#starting) return Promise.resolve();
    this.#stopping ??= this.#stop(opts.leave !== false);
    return this.#stopping;
  }

  /**
   * Stops as a crash would (tests and benchmarks of abrupt departures): no
   * handoff, nothing saved; what was saved before stays in --state.
   */
  kill(): Promise<void> {
    if (!this.#starting) return Promise.resolve();
    this.#persister?.abandon();
    this.#persister = undefined;
    this.#stopping ??= this.#stop(false, false);
    return this.#stopping;
  }

  async #stop(leave: boolean, save = true): Promise<void> {
    await this.#starting?.catch(() => undefined);
    if (leave && this.#running) await this.#leave();
    this.#running = false;
    this.#shutdown.abort(new DhtError('DHT node stopped', 201));
    clearInterval(this.#maintenanceTimer);
    clearInterval(this.#republishTimer);
    await this.#rpc.close();
    await this.#ready.catch(() => undefined);
    await this.#persister?.flush();
    await this.#publisher.flush();
    if (this.#opts.stateDir && save) {
      try {
        await saveRoutingTable(this.#opts.stateDir, { nodeId: this.#nodeId, nodes: this.#table.all() });
      } catch (err) {
        this.#log.error(`saving the DHT routing table: ${errorMessage(err)}`);
      }
    }
  }

  /** A graceful leave: the stored items go to the nodes now closest to them, within dhtLeaveTimeoutMs. */
  async #leave(): Promise<void> {
    const s = this.settings;
    if (this.#opts.readOnly || s.dhtLeaveTimeoutMs <= 0 || this.#responder.items.size === 0) return;
    const items = [...this.#responder.items.entries()].map(([hex, item]) => [fromHex(hex), item] as [Uint8Array, typeof item]);
    shuffleInPlace(items); // see handoff.ts: what the time bound leaves undone is then not the same items on every node
    // A timer of our own, not AbortSignal.timeout: inside AbortSignal.any, Node 20 may collect the timeout
    // signal before it fires, and the leave then ran on for tens of seconds past its bound (bench:dht-durability).
    const bound = new AbortController();
    const timer = setTimeout(() => bound.abort(new DhtError('leave time is up', 201)), s.dhtLeaveTimeoutMs);
    const signal = AbortSignal.any([bound.signal, this.#shutdown.signal]);
    setMaxListeners(0, signal); // every lookup and put of the leave listens to it
    const started = performance.now();
    try {
      const r = await handOffItems(items, {
        nodeId: this.#nodeId,
        log: this.#log,
        lookup: (target, query, o) => this.#lookup(target, query, o),
        query: (to, query, sig) => this.#query(to, query, sig),
        concurrency: s.dhtLeaveConcurrency,
        replicas: s.dhtStoreReplicas,
        signal,
      });
      this.#log.info(`leaving: handed ${r.handedOn} of ${r.items} stored DHT items on (${r.puts} puts) in ${Math.round(performance.now() - started)} ms${r.unfinished ? `; ${r.unfinished} unfinished after ${s.dhtLeaveTimeoutMs} ms` : ''}`);
      this.emit('items:handed-off', r);
    } catch (err) {
      this.#log.warn(`handing the stored DHT items on: ${errorMessage(err)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  /** True when this node stores an item under `target` (a BEP 44 put was made on it and has not expired). */
  holdsItem(target: Uint8Array): boolean {
    return this.#responder.items.get(target) !== undefined;
  }

  /** Adds a node we heard of elsewhere (a wire peer's PORT message, BEP 5): pinged, and kept if it answers. */
  addNode(addr: PeerAddress): void {
    if (!this.#running) return;
    this.ping(addr).catch((err) => this.#log.debug(`addNode ${addr.host}:${addr.port}: ${errorMessage(err)}`));
  }

  /** The `k` closest nodes to `target` in this node's routing table (its family's: BEP 32 answers to a sibling's `want`). */
  closestNodes(target: Uint8Array, k: number): NodeInfo[] {
    return this.#table.closest(target, k).map((c) => ({ id: c.id, host: c.host, port: c.port }));
  }

  /** Nodes of this node's family that its sibling heard of: a few are pinged while the table is small. */
  offerNodes(nodes: NodeInfo[]): void {
    if (!this.#running || this.#opts.readOnly || this.#table.size >= this.settings.dhtK * 4) return;
    for (const n of nodes.slice(0, 2)) if (!this.#table.get(n.id)) this.addNode(n);
  }

  /** Pings a node; resolves with its id. */
  async ping(addr: PeerAddress, opts: Op = {}): Promise<Uint8Array> {
    const r = await this.#query(addr, { q: 'ping', id: this.#nodeId }, opts.signal);
    return r.id;
  }

  stats(): DhtStats {
    const a = this.#rpc.address;
    return {
      nodeId: toHex(this.#nodeId),
      host: a.host,
      port: a.port,
      running: this.#running,
      nodes: this.#table.size,
      goodNodes: this.#table.all().filter((c) => this.#table.stateOf(c) === 'good').length,
      buckets: this.#table.bucketCount,
      itemsStored: this.#responder.items.size,
      itemBytesStored: this.#responder.items.bytes,
      infoHashes: this.#responder.peers.infoHashes,
      peersStored: this.#responder.peers.peers,
      publishing: this.#publisher.size,
      ...this.#rpc.stats,
      nodesRefused: this.#refusals.total,
    };
  }

  // --- outgoing ---------------------------------------------------------------

  async #query(to: PeerAddress, query: KrpcQuery, signal?: AbortSignal): Promise<KrpcResponse> {
    try {
      const sentAt = performance.now();
      // BEP 32: with a node of the other family beside us, ask for both families' nodes.
      if (this.#opts.sibling?.() && (query.q === 'find_node' || query.q === 'get_peers' || query.q === 'get')) query = { ...query, want: ['n4', 'n6'] };
      const r = await this.#rpc.query(to, query, { signals: [signal, this.#shutdown.signal], readOnly: this.#opts.readOnly === true });
      this.#rtt.record(to, performance.now() - sentAt);
      this.#table.seen({ id: r.id, host: to.host, port: to.port }, 'response');
      return r;
    } catch (err) {
      if (err instanceof QueryFailure && err.kind === 'timeout') this.#table.failed(undefined, to.host, to.port);
      throw err;
    }
  }

  #seeds(target: Uint8Array, want: number): (NodeInfo | PeerAddress)[] {
    const k = this.settings.dhtK;
    const known: (NodeInfo | PeerAddress)[] = this.#table.closest(target, Math.max(k, want));
    // Bootstrap nodes are asked as long as we know too few nodes to find our way alone.
    return known.length < k ? [...known, ...this.#bootstrap] : known;
  }

  /** A lookup of the `opts.k` (default dhtK) closest nodes; past dhtK, with the sibling subtrees (wide-lookup.ts). */
  #lookup(target: Uint8Array, query: KrpcQuery, opts: LookupOp, onResponse?: LookupOptions['onResponse']): Promise<LookupResult> {
    const k = this.settings.dhtK;
    if (opts.k === undefined || opts.k <= k) return this.#lookupK(target, query, k, opts, onResponse);
    return wideLookup(target, query, opts.k, {
      nodeId: this.#nodeId,
      k,
      lookup: (t, q, want, on) => this.#lookupK(t, q, want, opts, on),
      query: (to, q) => this.#query(to, q, opts.signal),
    }, onResponse);
  }

  #lookupK(target: Uint8Array, query: KrpcQuery, k: number, opts: Op, onResponse?: LookupOptions['onResponse']): Promise<LookupResult> {
    if (!this.#running) return Promise.reject(new DhtError('DHT node is not running', 201));
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#shutdown.signal]) : this.#shutdown.signal;
    const a = this.#rpc.address;
    return iterativeLookup({
      target,
      seeds: this.#seeds(target, k),
      k,
      alpha: this.settings.dhtAlpha,
      maxQueries: this.settings.dhtMaxLookupQueries,
      self: { id: this.#nodeId, host: a.host, port: a.port },
      query: (to, s) => this.#query(to, query, s),
      onResponse,
      stallMs: (to) => this.#rtt.stallMs(to),
      addressGroups: (host) => addressGroups(host, this.settings),
      admit: this.settings.dhtEnforceNodeId ? (n) => addressClass(n.host) !== 'public' || bep42Matches(n.id, n.host) : undefined,
      signal,
    });
  }

  /** Finds the nodes closest to `target` (find_node lookup). */
  async findNode(target: Uint8Array, opts: Op = {}): Promise<LookupResult> {
    return this.#lookup(target, { q: 'find_node', id: this.#nodeId, target }, opts);
  }

  /** Iterative get_peers lookup (BEP 5), plus the peers announced to this node itself (announcer.ts). */
  getPeers(infoHash: Uint8Array, opts: Op = {}): Promise<PeerAddress[]> {
    return this.#announcer.getPeers(infoHash, opts);
  }

  /** Announces our `port` for `infoHash` to the k closest nodes (BEP 5); resolves with how many took it. */
  announce(infoHash: Uint8Array, port: number, opts: Op & { impliedPort?: boolean } = {}): Promise<number> {
    return this.#announcer.announce(infoHash, port, opts);
  }

  /** Stores an immutable item (BEP 44) on the k closest nodes; kept alive while the node runs (publisher.ts). */
  putImmutable(v: BValue, opts: Op & { republish?: boolean } = {}): Promise<PutResult> {
    return this.#publisher.putImmutable(v, opts);
  }

  /** Stores a signed mutable item (BEP 44) on the k closest nodes; kept alive while the node runs. */
  putMutable(item: PutMutableOptions, opts: PublishOptions = {}): Promise<PutResult> {
    return this.#publisher.putMutable(item, opts);
  }

  /** The verified item with the highest seq (BEP 44 get), or null; see ItemPublisher.get. */
  get(target: Uint8Array, opts: Op & { salt?: Uint8Array; publicKey?: Uint8Array; seq?: number } = {}): Promise<DhtItem | null> {
    return this.#publisher.get(target, opts);
  }

  /** As `get`, also saying how many nodes answered the lookup (ItemPublisher.lookupItem). */
  lookupItem(target: Uint8Array, opts: Op & { salt?: Uint8Array; publicKey?: Uint8Array; seq?: number } = {}): Promise<ItemLookup> {
    return this.#publisher.lookupItem(target, opts);
  }

  /** One republish cycle now: what the timer does every dhtRepublishIntervalMs (bench:dht-durability runs one on demand). */
  republish(): Promise<void> {
    return this.#publisher.republish();
  }

  /** Stops re-putting an item. */
  unpublish(target: Uint8Array): void {
    this.#publisher.unpublish(target);
  }

  // --- maintenance ------------------------------------------------------------

  #maintain(): void {
    if (!this.#running) return;
    this.#responder.sweep();
    this.#announcer.sweep();
    // BEP 5: ping questionable nodes, refresh buckets nobody touched for 15 minutes.
    for (const c of this.#table.questionable(this.settings.dhtPingsPerMaintenance)) {
      this.ping(c).catch(() => undefined);
    }
    for (const target of this.#table.takeQuietBuckets(this.settings.dhtQuestionableAfterMs)) {
      this.findNode(target).catch((err) => this.#log.debug(`bucket refresh: ${errorMessage(err)}`));
    }
    if (this.#table.size === 0 && this.#bootstrap.length > 0 && !this.#opts.readOnly) this.#ready = this.#join();
  }
}

/**
 * Host names become addresses of the node's family once, at start: responses are matched by
 * source address, which is always an IP.
 */
async function resolveAddresses(addrs: PeerAddress[], log: Logger, family: 4 | 6 = 4): Promise<PeerAddress[]> {
  const out: PeerAddress[] = [];
  for (const a of addrs) {
    const literal = isIP(a.host);
    if (literal !== 0) {
      // BEP 32: each family's node bootstraps from its own family's nodes.
      if (literal === family) out.push(a);
      continue;
    }
    try {
      const r = await dnsLookup(a.host, { family });
      out.push({ host: r.address, port: a.port });
    } catch (err) {
      log.warn(`bootstrap node ${a.host}:${a.port}: cannot resolve: ${errorMessage(err)}`);
    }
  }
  return out;
}
