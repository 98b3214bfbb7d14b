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
 * Hostile traffic: rpc.ts drops garbage and answers malformed queries with
 * 203/204; here puts are checked (205/206/207/301/302), tokens are checked
 * (203), puts per address are rate-limited (silently dropped beyond the
 * limit) and every store has a cap. Nothing a remote sends throws out.
 * One host offering many node ids gets one place in the routing table and
 * in a lookup's closest set (routing-table.ts, lookup.ts: dhtMaxNodesPer*
 * settings, BEP 42), and one warning (refusal-log.ts).
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { setMaxListeners } from 'node:events';
import { TypedEmitter } from '../events.js';
import { DhtError, assertNever, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { resolveSettings, type Settings } from '../settings.js';
import type { PeerAddress } from '../util/peer-address.js';
import { decode, type BValue } from '../bencode/index.js';
import { randomBytes } from '../util/hash.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { KRPC_PROTOCOL_ERROR, KRPC_SERVER_ERROR, type KrpcQuery, type KrpcResponse, type NodeInfo } from './krpc.js';
import { KrpcSocket, QueryFailure, type IncomingQuery } from './rpc.js';
import { RoutingTable, type RefusalReason } from './routing-table.js';
import { RefusalLog } from './refusal-log.js';
import { addressClass, bep42Matches, bep42NodeId, subnetOf } from './bep42.js';
import type { AddressGroup } from './lookup.js';
import { RttTracker } from './rtt.js';
import { iterativeLookup, type LookupResult } from './lookup.js';
import { ItemStore, PeerStore, RateLimiter, TokenIssuer } from './stores.js';
import {
  checkPut, checkUpdate, encodeItemValue, immutableTarget, mutableTarget, signatureBuffer, verifyGetResponse,
  type Ed25519KeyPair, type MutableItem, type VerifiedItem, signBuffer,
} from './bep44.js';
import { loadRoutingTable, saveRoutingTable } from './state.js';

export interface DhtNodeOptions {
  host: string;
  /** UDP port; 0 picks a free one. */
  port: number;
  bootstrap?: PeerAddress[];
  /** Routing table saved here on stop and loaded on start. */
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

export interface DhtEvents {
  'dht:listening': { host: string; port: number; nodeId: string };
  'dht:ready': { nodes: number };
  'peer:announced': { infoHash: string; host: string; port: number };
  'item:stored': { target: string; mutable: boolean; seq?: number };
  'item:republished': { target: string; stored: number };
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

interface Published {
  kind: 'immutable' | 'mutable';
  v: Uint8Array;
  mutable?: MutableItem;
}

type Op = { signal?: AbortSignal };

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
  readonly #tokens: TokenIssuer;
  readonly #peers: PeerStore;
  readonly #items: ItemStore;
  readonly #putLimiter: RateLimiter;
  readonly #refusals: RefusalLog;
  #bootstrap: PeerAddress[] = [];
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #running = false;
  #shutdown = new AbortController();
  #maintenanceTimer: NodeJS.Timeout | undefined;
  #republishTimer: NodeJS.Timeout | undefined;
  #ready: Promise<void> = Promise.resolve();
  /** Tokens from the last get_peers lookup per info-hash, for announce (BEP 5). */
  readonly #announceTokens = new Map<string, { at: number; nodes: { node: NodeInfo; token: Uint8Array }[] }>();
  readonly #published = new Map<string, Published>();

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
    this.#refusals = new RefusalLog({ log: this.#log, now: this.#now, explain: (r) => this.#explainRefusal(r) });
    this.#rpc = new KrpcSocket({ host: opts.host, port: opts.port, logger: this.#log, queryTimeoutMs: s.dhtQueryTimeoutMs }, (q) => this.#onQuery(q));
    this.#rtt = new RttTracker({ capMs: s.dhtQueryTimeoutMs, floorMs: s.dhtStallFloorMs, multiplier: s.dhtStallRttMultiplier, maxEntries: s.dhtRttMaxAddresses });
    this.#table = this.#newTable();
    this.#tokens = new TokenIssuer(s.dhtTokenRotateMs, this.#now);
    this.#peers = new PeerStore({ ttlMs: s.dhtPeerTtlMs, maxInfoHashes: s.dhtMaxInfoHashes, maxPeersPerInfoHash: s.dhtMaxPeersPerInfoHash }, this.#now);
    this.#items = new ItemStore({ ttlMs: s.dhtItemTtlMs, maxItems: s.dhtMaxItems }, this.#now);
    this.#putLimiter = new RateLimiter(s.dhtMaxPutsPerAddressPerMinute, 60_000, s.dhtMaxPutRateAddresses, this.#now);
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

  #explainRefusal(reason: RefusalReason): string {
    const s = this.settings;
    switch (reason) {
      case 'address':
        return `at most ${s.dhtMaxNodesPerAddress} node(s) per IP address (${s.dhtMaxNodesPerLoopbackAddress || 'no limit'} per loopback address)`;
      case 'subnet':
        return `at most ${s.dhtMaxNodesPerSubnet} node(s) per public /24 in a bucket`;
      case 'node-id':
        return 'node id does not match the address (BEP 42, dhtEnforceNodeId)';
      default:
        return assertNever(reason);
    }
  }

  /** Lookup diversity groups of an address (lookup.ts): its IP, and its /24 if public. */
  #addressGroups(host: string): AddressGroup[] {
    const s = this.settings;
    const cls = addressClass(host);
    const perAddress = cls === 'loopback' ? s.dhtMaxNodesPerLoopbackAddress : s.dhtMaxNodesPerAddress;
    const groups: AddressGroup[] = perAddress > 0 ? [{ key: host, limit: perAddress }] : [];
    if (cls === 'public' && s.dhtMaxNodesPerSubnet > 0) groups.push({ key: subnetOf(host), limit: s.dhtMaxNodesPerSubnet });
    return groups;
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
    for (const n of saved?.nodes ?? []) this.#table.restore(n);
    this.#bootstrap = await resolveAddresses(this.#opts.bootstrap ?? [], this.#log);
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
    this.#republishTimer = setInterval(() => void this.#republish(), this.settings.dhtRepublishIntervalMs);
    this.#republishTimer.unref();
    if (!this.#opts.readOnly) this.#ready = this.#join();
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

  /** Stops timers and lookups, saves the routing table, closes the socket. Idempotent. */
  stop(): Promise<void> {
    if (!this.#starting) return Promise.resolve();
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    await this.#starting?.catch(() => undefined);
    this.#running = false;
    this.#shutdown.abort(new DhtError('DHT node stopped', 201));
    clearInterval(this.#maintenanceTimer);
    clearInterval(this.#republishTimer);
    await this.#rpc.close();
    await this.#ready.catch(() => undefined);
    if (this.#opts.stateDir) {
      try {
        await saveRoutingTable(this.#opts.stateDir, { nodeId: this.#nodeId, nodes: this.#table.all() });
      } catch (err) {
        this.#log.error(`saving the DHT routing table: ${errorMessage(err)}`);
      }
    }
  }

  /** Adds a node we heard of elsewhere (a wire peer's PORT message, BEP 5): pinged, and kept if it answers. */
  addNode(addr: PeerAddress): void {
    if (!this.#running) return;
    this.ping(addr).catch((err) => this.#log.debug(`addNode ${addr.host}:${addr.port}: ${errorMessage(err)}`));
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
      itemsStored: this.#items.size,
      infoHashes: this.#peers.infoHashes,
      peersStored: this.#peers.peers,
      publishing: this.#published.size,
      ...this.#rpc.stats,
      nodesRefused: this.#refusals.total,
    };
  }

  // --- outgoing ---------------------------------------------------------------

  async #query(to: PeerAddress, query: KrpcQuery, signal?: AbortSignal): Promise<KrpcResponse> {
    try {
      const sentAt = performance.now();
      const r = await this.#rpc.query(to, query, { signals: [signal, this.#shutdown.signal], readOnly: this.#opts.readOnly === true });
      this.#rtt.record(to, performance.now() - sentAt);
      this.#table.seen({ id: r.id, host: to.host, port: to.port }, 'response');
      return r;
    } catch (err) {
      if (err instanceof QueryFailure && err.kind === 'timeout') this.#table.failed(undefined, to.host, to.port);
      throw err;
    }
  }

  #seeds(target: Uint8Array): (NodeInfo | PeerAddress)[] {
    const k = this.settings.dhtK;
    const known: (NodeInfo | PeerAddress)[] = this.#table.closest(target, k);
    // Bootstrap nodes are asked as long as we know too few nodes to find our way alone.
    return known.length < k ? [...known, ...this.#bootstrap] : known;
  }

  #lookup(target: Uint8Array, query: KrpcQuery, opts: Op, onResponse?: (node: NodeInfo, r: KrpcResponse) => boolean | void): Promise<LookupResult> {
    if (!this.#running) return Promise.reject(new DhtError('DHT node is not running', 201));
    const signal = opts.signal ? AbortSignal.any([opts.signal, this.#shutdown.signal]) : this.#shutdown.signal;
    const a = this.#rpc.address;
    return iterativeLookup({
      target,
      seeds: this.#seeds(target),
      k: this.settings.dhtK,
      alpha: this.settings.dhtAlpha,
      maxQueries: this.settings.dhtMaxLookupQueries,
      self: { id: this.#nodeId, host: a.host, port: a.port },
      query: (to, s) => this.#query(to, query, s),
      onResponse,
      stallMs: (to) => this.#rtt.stallMs(to),
      addressGroups: (host) => this.#addressGroups(host),
      admit: this.settings.dhtEnforceNodeId ? (n) => addressClass(n.host) !== 'public' || bep42Matches(n.id, n.host) : undefined,
      signal,
    });
  }

  /** Finds the nodes closest to `target` (find_node lookup). */
  async findNode(target: Uint8Array, opts: Op = {}): Promise<LookupResult> {
    return this.#lookup(target, { q: 'find_node', id: this.#nodeId, target }, opts);
  }

  /**
   * Iterative get_peers lookup (BEP 5), plus the peers announced to this node
   * itself; keeps the write tokens for a following announce.
   */
  async getPeers(infoHash: Uint8Array, opts: Op = {}): Promise<PeerAddress[]> {
    return (await this.#getPeersLookup(infoHash, opts)).peers;
  }

  async #getPeersLookup(infoHash: Uint8Array, opts: Op): Promise<{ peers: PeerAddress[]; result: LookupResult }> {
    checkId(infoHash, 'infoHash');
    const found = new Map<string, PeerAddress>();
    const result = await this.#lookup(infoHash, { q: 'get_peers', id: this.#nodeId, infoHash }, opts, (_node, r) => {
      for (const p of r.values ?? []) found.set(`${p.host}:${p.port}`, p);
    });
    // Peers that announced to this node itself count too: the lookup asks only other nodes, and
    // in a small DHT (a LAN, or a node others bootstrap from) we are often the closest node.
    for (const p of this.#peers.get(infoHash, this.settings.dhtMaxValuesPerReply)) found.set(`${p.host}:${p.port}`, p);
    const nodes = result.closest.filter((c) => c.response.token).map((c) => ({ node: c.node, token: c.response.token! }));
    this.#announceTokens.set(toHex(infoHash), { at: this.#now(), nodes });
    return { peers: [...found.values()], result };
  }

  /**
   * Announces that we have `infoHash` on `port` to the k closest nodes
   * (BEP 5), reusing tokens from a recent getPeers. Returns how many accepted.
   * `impliedPort`: ask nodes to record the UDP source port instead (BEP 5, for NATs).
   */
  async announce(infoHash: Uint8Array, port: number, opts: Op & { impliedPort?: boolean } = {}): Promise<number> {
    checkId(infoHash, 'infoHash');
    if (!opts.impliedPort && (!Number.isInteger(port) || port < 1 || port > 65535)) throw new RangeError(`announce: port must be 1-65535, got ${port}`);
    let cached = this.#announceTokens.get(toHex(infoHash));
    // Tokens live at least one secret rotation on the remote side; refresh well before.
    if (!cached || this.#now() - cached.at > this.settings.dhtTokenRotateMs / 2 || cached.nodes.length === 0) {
      await this.#getPeersLookup(infoHash, opts);
      cached = this.#announceTokens.get(toHex(infoHash))!;
    }
    const results = await Promise.allSettled(
      cached.nodes.map(({ node, token }) =>
        this.#query(node, { q: 'announce_peer', id: this.#nodeId, infoHash, port: opts.impliedPort ? 0 : port, token, impliedPort: opts.impliedPort === true }, opts.signal),
      ),
    );
    return results.filter((r) => r.status === 'fulfilled').length;
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
    const lookup = await this.#lookup(target, { q: 'get', id: this.#nodeId, target }, opts, (_n, r) => {
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
    const lookup = await this.#lookup(target, { q: 'get', id: this.#nodeId, target }, opts);
    return this.#sendPuts(lookup, vRaw, mutable, opts);
  }

  async #sendPuts(lookup: LookupResult, v: Uint8Array, mutable: (MutableItem & { cas?: number }) | undefined, opts: Op): Promise<number> {
    const fields = mutable ? { k: mutable.k, sig: mutable.sig, seq: mutable.seq, ...(mutable.salt ? { salt: mutable.salt } : {}), ...(mutable.cas !== undefined ? { cas: mutable.cas } : {}) } : undefined;
    const results = await Promise.allSettled(
      lookup.closest
        .filter((c) => c.response.token)
        .map((c) => this.#query(c.node, { q: 'put', id: this.#nodeId, token: c.response.token!, v, ...(fields ? { mutable: fields } : {}) }, opts.signal)),
    );
    for (const r of results) if (r.status === 'rejected' && r.reason instanceof QueryFailure && r.reason.kind === 'error') this.#log.debug(`put refused: ${r.reason.message}`);
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
    const local = this.#items.get(target);
    if (local && (local.kind === 'immutable' ? consider({ v: local.v }) : consider(local))) return toDhtItem(target, best!);
    await this.#lookup(target, { q: 'get', id: this.#nodeId, target, ...(opts.seq !== undefined ? { seq: opts.seq } : {}) }, opts, (_n, r) => consider(r));
    return best ? toDhtItem(target, best) : null;
  }

  /** Stops re-putting an item. */
  unpublish(target: Uint8Array): void {
    this.#published.delete(toHex(target));
  }

  // --- maintenance ------------------------------------------------------------

  #maintain(): void {
    if (!this.#running) return;
    this.#peers.sweep();
    this.#items.sweep();
    this.#putLimiter.sweep();
    const now = this.#now();
    for (const [key, e] of this.#announceTokens) if (now - e.at > this.settings.dhtTokenRotateMs) this.#announceTokens.delete(key);
    // BEP 5: ping questionable nodes, refresh buckets nobody touched for 15 minutes.
    for (const c of this.#table.questionable(this.settings.dhtPingsPerMaintenance)) {
      this.ping(c).catch(() => undefined);
    }
    for (const target of this.#table.takeQuietBuckets(this.settings.dhtQuestionableAfterMs)) {
      this.findNode(target).catch((err) => this.#log.debug(`bucket refresh: ${errorMessage(err)}`));
    }
    if (this.#table.size === 0 && this.#bootstrap.length > 0 && !this.#opts.readOnly) this.#ready = this.#join();
  }

  async #republish(): Promise<void> {
    for (const [key, item] of [...this.#published]) {
      if (!this.#running) return;
      try {
        const target = item.mutable ? mutableTarget(item.mutable.k, item.mutable.salt) : immutableTarget(item.v);
        const stored = await this.#put(target, item.v, item.mutable, {});
        this.emit('item:republished', { target: key, stored });
      } catch (err) {
        this.#log.debug(`republishing ${key}: ${errorMessage(err)}`);
      }
    }
  }

  // --- incoming ---------------------------------------------------------------

  #onQuery({ t, query, readOnly, from }: IncomingQuery): void {
    if (this.#opts.readOnly) return; // BEP 43: a read-only node does not answer
    // BEP 43: read-only nodes ask but never answer, so they do not belong in routing tables.
    if (!readOnly) this.#table.seen({ id: query.id, host: from.host, port: from.port }, 'query');
    const k = this.settings.dhtK;
    const id = this.#nodeId;
    const nodesNear = (target: Uint8Array): NodeInfo[] => this.#table.closest(target, k).map((c) => ({ id: c.id, host: c.host, port: c.port }));
    switch (query.q) {
      case 'ping':
        return this.#rpc.respond(from, t, { id });
      case 'find_node':
        return this.#rpc.respond(from, t, { id, nodes: nodesNear(query.target) });
      case 'get_peers': {
        const values = this.#peers.get(query.infoHash, this.settings.dhtMaxValuesPerReply);
        return this.#rpc.respond(from, t, { id, token: this.#tokens.issue(from.host, query.infoHash), nodes: nodesNear(query.infoHash), ...(values.length ? { values } : {}) });
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

  #onAnnounce(t: Uint8Array, q: Extract<KrpcQuery, { q: 'announce_peer' }>, from: PeerAddress): void {
    if (!this.#tokens.valid(q.token, from.host, q.infoHash)) {
      this.#log.debug(`announce_peer from ${from.host}:${from.port} with a bad token`);
      return this.#rpc.sendError(from, t, KRPC_PROTOCOL_ERROR, 'bad token');
    }
    const port = q.impliedPort ? from.port : q.port;
    this.#peers.add(q.infoHash, { host: from.host, port });
    this.#rpc.respond(from, t, { id: this.#nodeId });
    this.emit('peer:announced', { infoHash: toHex(q.infoHash), host: from.host, port });
  }

  #onGet(t: Uint8Array, q: Extract<KrpcQuery, { q: 'get' }>, from: PeerAddress): void {
    const r: KrpcResponse = {
      id: this.#nodeId,
      token: this.#tokens.issue(from.host, q.target),
      nodes: this.#table.closest(q.target, this.settings.dhtK).map((c) => ({ id: c.id, host: c.host, port: c.port })),
    };
    const item = this.#items.get(q.target);
    if (item?.kind === 'immutable') r.v = item.v;
    else if (item?.kind === 'mutable') {
      r.seq = item.seq;
      // BEP 44: a requester that already has this seq only learns the number.
      if (q.seq === undefined || item.seq > q.seq) Object.assign(r, { v: item.v, k: item.k, sig: item.sig });
    }
    this.#rpc.respond(from, t, r);
  }

  #onPut(t: Uint8Array, q: Extract<KrpcQuery, { q: 'put' }>, from: PeerAddress): void {
    if (!this.#putLimiter.allow(from.host)) {
      this.#log.debug(`put from ${from.host}:${from.port} dropped: over ${this.settings.dhtMaxPutsPerAddressPerMinute} puts a minute`);
      return;
    }
    let target: Uint8Array;
    try {
      target = checkPut(q.v, q.mutable);
      if (!this.#tokens.valid(q.token, from.host, target)) throw new DhtError('bad token', KRPC_PROTOCOL_ERROR);
      const stored = this.#items.get(target);
      if (q.mutable && stored?.kind === 'mutable') checkUpdate(stored, q.mutable, q.v);
    } catch (err) {
      const code = err instanceof DhtError ? err.krpcCode : KRPC_SERVER_ERROR;
      this.#log.warn(`refused put from ${from.host}:${from.port}: ${errorMessage(err)}`);
      return this.#rpc.sendError(from, t, code, errorMessage(err));
    }
    const m = q.mutable;
    const ok = this.#items.set(target, m ? { kind: 'mutable', k: m.k, seq: m.seq, sig: m.sig, v: q.v, ...(m.salt ? { salt: m.salt } : {}) } : { kind: 'immutable', v: q.v });
    if (!ok) return this.#rpc.sendError(from, t, KRPC_SERVER_ERROR, 'item store full');
    this.#rpc.respond(from, t, { id: this.#nodeId });
    this.emit('item:stored', { target: toHex(target), mutable: m !== undefined, ...(m ? { seq: m.seq } : {}) });
  }
}

/** A concrete public IPv4 address (not 0.0.0.0, multicast or a BEP 42 exempt range). */
function isPublicUnicast(host: string): boolean {
  if (isIP(host) !== 4 || addressClass(host) !== 'public') return false;
  const first = Number(host.split('.')[0]);
  return first !== 0 && first < 224;
}

function checkId(id: Uint8Array, what: string): void {
  if (!(id instanceof Uint8Array) || id.length !== 20) throw new RangeError(`${what} must be 20 bytes`);
}

function toDhtItem(target: Uint8Array, item: VerifiedItem): DhtItem {
  const v = decode(item.v);
  if (item.kind === 'immutable') return { target, v, vRaw: item.v };
  return { target, v, vRaw: item.v, seq: item.seq, publicKey: item.k, sig: item.sig, ...(item.salt ? { salt: item.salt } : {}) };
}

/**
 * Host names become IPv4 addresses once, at start: responses are matched by
 * source address, which is always an IP.
 */
async function resolveAddresses(addrs: PeerAddress[], log: Logger): Promise<PeerAddress[]> {
  const out: PeerAddress[] = [];
  for (const a of addrs) {
    if (isIP(a.host) === 4) {
      out.push(a);
      continue;
    }
    try {
      const r = await dnsLookup(a.host, { family: 4 });
      out.push({ host: r.address, port: a.port });
    } catch (err) {
      log.warn(`bootstrap node ${a.host}:${a.port}: cannot resolve: ${errorMessage(err)}`);
    }
  }
  return out;
}
