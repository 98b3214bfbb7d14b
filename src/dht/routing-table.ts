/**
 * The BEP 5 routing table: buckets of at most k contacts that split around
 * our own id, so we know many nodes near us and a few far away.
 *
 * Buckets are indexed by the length of the prefix a contact's id shares
 * with ours: bucket i holds ids sharing exactly i bits, and the last bucket
 * holds everything that shares more (it contains our own id, so it is the
 * only one that may split). A full bucket that cannot split replaces a bad
 * contact, or pings the least recently seen questionable one and keeps the
 * newcomer in a small replacement cache until the ping says whether the old
 * one is gone (BEP 5: good nodes are never evicted for new ones).
 *
 * Floods (libtorrent's dht_restrict_routing_ips, BEP 42): one host that
 * offers many node ids must not fill the table and eclipse everyone else. So
 * the table (contacts and replacements alike) holds at most
 * `maxNodesPerAddress` nodes per IP address (loopback has its own limit, for
 * tests and local tools that run many nodes on 127.0.0.1), and a bucket at
 * most `maxNodesPerSubnet` nodes of one public /24; private and link-local
 * networks are exempt from the /24 rule, since a LAN is usually one /24 of
 * real machines. A newcomer that breaks a rule is refused, never swapped for
 * the node already there: the node we have known longest stays.
 *
 * BEP 42 ids (see bep42.ts): a public node whose id does not match its IP is
 * `unverified`. By default (as libtorrent's dht_enforce_node_id) it is still
 * accepted, because many clients predate BEP 42, but it never displaces a
 * verified node: a full replacement cache drops unverified entries first and
 * refuses an unverified newcomer when it holds only verified ones, and
 * promotion picks verified replacements first. `enforceNodeId` refuses them.
 *
 * No sockets or timers here: pinging is a callback, time an injected clock.
 */
import type { NodeInfo } from './krpc.js';
import { ID_BYTES } from './krpc.js';
import { addressClass, bep42Matches, nodeIdVerified, subnetOf } from './bep42.js';
import { commonPrefixBits, compareDistance, randomIdSharingPrefix } from './distance.js';
import { bytesEqual, toHex } from '../util/bytes.js';
import { DEFAULT_SETTINGS } from '../settings.js';

export interface Contact extends NodeInfo {
  /** Last time it answered one of our queries (0: never). */
  lastResponseAt: number;
  /** Last time it queried us. */
  lastQueryAt: number;
  /** Queries in a row that timed out. */
  failures: number;
  /** BEP 42: the id matches the address, or the address is exempt (local, loopback). */
  verified: boolean;
}

/** Why a node was refused: `address` too many nodes of its IP, `subnet` too many of its public /24 in its bucket, `node-id` a BEP 42 mismatch under enforcement. */
export type RefusalReason = 'address' | 'subnet' | 'node-id';

export type ContactState = 'good' | 'questionable' | 'bad';

export interface RoutingTableOptions {
  localId: Uint8Array;
  k: number;
  now?: () => number;
  /** BEP 5: a node quiet this long is questionable. Defaults here and below: the settings of the same names (dht...). */
  questionableAfterMs?: number;
  /** Timeouts in a row after which a node is bad. */
  badAfterFailures?: number;
  /** Pings a contact; resolves true when it answered. Without it, full buckets just drop newcomers. */
  ping?: (contact: Contact) => Promise<boolean>;
  /** Nodes (contacts and replacements) per IP address; 0: no limit (libtorrent: 1). */
  maxNodesPerAddress?: number;
  /** The same for 127.0.0.0/8; 0: no limit. */
  maxNodesPerLoopbackAddress?: number;
  /** Nodes of one public /24 per bucket; 0: no limit (libtorrent: 1). */
  maxNodesPerSubnet?: number;
  /** BEP 42: refuse public nodes whose id does not match their IP. */
  enforceNodeId?: boolean;
  /** Told of each node a rule above refused (not of nodes that only wait for room). */
  onRefused?: (node: NodeInfo, reason: RefusalReason) => void;
}

interface Replacement extends NodeInfo {
  verified: boolean;
}

interface Bucket {
  contacts: Contact[];
  /** Candidates for this bucket while it is full, most recent last. */
  replacements: Replacement[];
  lastChangedAt: number;
}

const MAX_BUCKETS = ID_BYTES * 8;

export class RoutingTable {
  readonly localId: Uint8Array;
  readonly k: number;
  readonly #now: () => number;
  readonly #questionableAfterMs: number;
  readonly #badAfterFailures: number;
  readonly #ping: ((c: Contact) => Promise<boolean>) | undefined;
  readonly #buckets: Bucket[];
  readonly #byId = new Map<string, Contact>();
  readonly #pinging = new Set<Contact>();
  readonly #maxPerAddress: number;
  readonly #maxPerLoopback: number;
  readonly #maxPerSubnet: number;
  readonly #enforceNodeId: boolean;
  readonly #onRefused: ((node: NodeInfo, reason: RefusalReason) => void) | undefined;
  /** Contacts and replacements per IP address. */
  readonly #perHost = new Map<string, number>();

  constructor(opts: RoutingTableOptions) {
    this.localId = opts.localId;
    this.k = opts.k;
    this.#now = opts.now ?? Date.now;
    this.#questionableAfterMs = opts.questionableAfterMs ?? DEFAULT_SETTINGS.dhtQuestionableAfterMs;
    this.#badAfterFailures = opts.badAfterFailures ?? DEFAULT_SETTINGS.dhtBadAfterFailures;
    this.#ping = opts.ping;
    this.#maxPerAddress = opts.maxNodesPerAddress ?? DEFAULT_SETTINGS.dhtMaxNodesPerAddress;
    this.#maxPerLoopback = opts.maxNodesPerLoopbackAddress ?? DEFAULT_SETTINGS.dhtMaxNodesPerLoopbackAddress;
    this.#maxPerSubnet = opts.maxNodesPerSubnet ?? DEFAULT_SETTINGS.dhtMaxNodesPerSubnet;
    this.#enforceNodeId = opts.enforceNodeId ?? DEFAULT_SETTINGS.dhtEnforceNodeId;
    this.#onRefused = opts.onRefused;
    this.#buckets = [{ contacts: [], replacements: [], lastChangedAt: this.#now() }];
  }

  get size(): number {
    return this.#byId.size;
  }

  get bucketCount(): number {
    return this.#buckets.length;
  }

  stateOf(c: Contact): ContactState {
    if (c.failures >= this.#badAfterFailures) return 'bad';
    const now = this.#now();
    if (c.lastResponseAt > 0 && (now - c.lastResponseAt < this.#questionableAfterMs || (now - c.lastQueryAt < this.#questionableAfterMs && c.lastQueryAt > 0))) return 'good';
    return 'questionable';
  }

  get(id: Uint8Array): Contact | undefined {
    return this.#byId.get(toHex(id));
  }

  all(): Contact[] {
    return [...this.#byId.values()];
  }

  #indexOf(id: Uint8Array): number {
    return Math.min(commonPrefixBits(id, this.localId), this.#buckets.length - 1);
  }

  /**
   * Records that a node answered us (`response`) or queried us (`query`);
   * inserts it when there is room. Returns the contact if it is in the table.
   */
  seen(node: NodeInfo, how: 'response' | 'query'): Contact | undefined {
    if (node.id.length !== ID_BYTES || commonPrefixBits(node.id, this.localId) === MAX_BUCKETS) return undefined;
    const now = this.#now();
    const existing = this.#byId.get(toHex(node.id));
    if (existing) {
      // An id that moved to another address is more likely spoofed than moved: keep the one we know.
      if (existing.host !== node.host || existing.port !== node.port) return existing;
      if (how === 'response') {
        existing.lastResponseAt = now;
        existing.failures = 0;
      } else existing.lastQueryAt = now;
      this.#buckets[this.#indexOf(node.id)]!.lastChangedAt = now;
      return existing;
    }
    // A waiting replacement that shows up again leaves the cache and tries for a slot like a newcomer.
    const bucket = this.#buckets[this.#indexOf(node.id)]!;
    const waiting = bucket.replacements.find((r) => bytesEqual(r.id, node.id));
    if (waiting && (waiting.host !== node.host || waiting.port !== node.port)) return undefined;
    if (waiting) this.#dropReplacement(bucket, waiting);
    // Only an answer proves the sender owns host:port (queries can be spoofed).
    if (how === 'response') this.#dropAddress(node.host, node.port);
    this.#makeRoomAt(node.host, how);
    const refusal = this.#refusal(node);
    if (refusal) {
      this.#onRefused?.(node, refusal);
      return undefined;
    }
    const contact: Contact = { id: node.id, host: node.host, port: node.port, lastResponseAt: how === 'response' ? now : 0, lastQueryAt: how === 'query' ? now : 0, failures: 0, verified: nodeIdVerified(node.id, node.host) };
    return this.#insert(contact) ? contact : undefined;
  }

  /** Re-inserts a node saved by an earlier run; it is questionable until it answers. The same rules apply, silently. */
  restore(node: NodeInfo): void {
    if (node.id.length !== ID_BYTES || commonPrefixBits(node.id, this.localId) === MAX_BUCKETS || this.#byId.has(toHex(node.id))) return;
    if (this.#refusal(node)) return;
    this.#insert({ id: node.id, host: node.host, port: node.port, lastResponseAt: 0, lastQueryAt: 0, failures: 0, verified: nodeIdVerified(node.id, node.host) });
  }

  /**
   * Entries of `host` that a live node from that address may take the place
   * of: bad contacts, and on an answer (which proves the address) contacts
   * that never answered (say, restored from a saved table) and waiting
   * replacements. A contact that answered is never displaced.
   */
  #makeRoomAt(host: string, how: 'response' | 'query'): void {
    const limit = this.#perAddressLimit(host);
    if (limit === 0 || this.nodesAt(host) < limit) return;
    for (const c of [...this.#byId.values()]) {
      if (c.host === host && (this.stateOf(c) === 'bad' || (how === 'response' && c.lastResponseAt === 0))) this.remove(c.id);
    }
    if (how === 'response') for (const b of this.#buckets) for (const r of b.replacements) if (r.host === host) this.#dropReplacement(b, r);
  }

  /** Nodes (contacts and replacements) the table holds for `host`. */
  nodesAt(host: string): number {
    return this.#perHost.get(host) ?? 0;
  }

  /** The rule `node` breaks, if any (see the file comment). */
  #refusal(node: NodeInfo): RefusalReason | undefined {
    const cls = addressClass(node.host);
    if (this.#enforceNodeId && cls === 'public' && !bep42Matches(node.id, node.host)) return 'node-id';
    const perAddress = this.#perAddressLimit(node.host);
    if (perAddress > 0 && this.nodesAt(node.host) >= perAddress) return 'address';
    if (cls === 'public' && this.#maxPerSubnet > 0) {
      const subnet = subnetOf(node.host);
      const bucket = this.#buckets[this.#indexOf(node.id)]!;
      let n = 0;
      for (const c of bucket.contacts) if (subnetOf(c.host) === subnet) n++;
      for (const r of bucket.replacements) if (subnetOf(r.host) === subnet) n++;
      if (n >= this.#maxPerSubnet) return 'subnet';
    }
    return undefined;
  }

  /** 0: no limit. */
  #perAddressLimit(host: string): number {
    return addressClass(host) === 'loopback' ? this.#maxPerLoopback : this.#maxPerAddress;
  }

  #countHost(host: string, delta: 1 | -1): void {
    const n = (this.#perHost.get(host) ?? 0) + delta;
    if (n > 0) this.#perHost.set(host, n);
    else this.#perHost.delete(host);
  }

  /** A node restarted with a new id on the same address: forget the old id (and any replacement there). */
  #dropAddress(host: string, port: number): void {
    for (const c of this.#byId.values()) if (c.host === host && c.port === port) this.remove(c.id);
    for (const b of this.#buckets) for (const r of b.replacements) if (r.host === host && r.port === port) this.#dropReplacement(b, r);
  }

  #dropReplacement(bucket: Bucket, r: Replacement): void {
    const before = bucket.replacements.length;
    bucket.replacements = bucket.replacements.filter((x) => x !== r);
    if (bucket.replacements.length < before) this.#countHost(r.host, -1);
  }

  #insert(contact: Contact): boolean {
    for (;;) {
      const index = this.#indexOf(contact.id);
      const bucket = this.#buckets[index]!;
      if (bucket.contacts.length < this.k) {
        bucket.contacts.push(contact);
        bucket.lastChangedAt = this.#now();
        this.#byId.set(toHex(contact.id), contact);
        this.#countHost(contact.host, 1);
        return true;
      }
      if (index === this.#buckets.length - 1 && this.#buckets.length < MAX_BUCKETS) {
        this.#split();
        continue;
      }
      const bad = bucket.contacts.find((c) => this.stateOf(c) === 'bad');
      if (bad) {
        this.remove(bad.id);
        continue;
      }
      this.#addReplacement(bucket, contact);
      this.#pingQuestionable(bucket);
      return false;
    }
  }

  #split(): void {
    const last = this.#buckets[this.#buckets.length - 1]!;
    const next: Bucket = { contacts: [], replacements: [], lastChangedAt: last.lastChangedAt };
    this.#buckets.push(next);
    const newIndex = this.#buckets.length - 1;
    const keep: Contact[] = [];
    for (const c of last.contacts) (commonPrefixBits(c.id, this.localId) >= newIndex ? next.contacts : keep).push(c);
    last.contacts = keep;
    const keepR: Replacement[] = [];
    for (const r of last.replacements) (commonPrefixBits(r.id, this.localId) >= newIndex ? next.replacements : keepR).push(r);
    last.replacements = keepR;
  }

  /** Keeps at most k, the most recent, but never drops a verified (BEP 42) entry for an unverified one. */
  #addReplacement(bucket: Bucket, node: Contact): void {
    if (bucket.replacements.length >= this.k) {
      const victim = bucket.replacements.find((r) => !r.verified) ?? (node.verified ? bucket.replacements[0] : undefined);
      if (!victim) return;
      this.#dropReplacement(bucket, victim);
    }
    bucket.replacements.push({ id: node.id, host: node.host, port: node.port, verified: node.verified });
    this.#countHost(node.host, 1);
  }

  /** Ping before eviction (BEP 5): only a questionable node that fails to answer makes room. */
  #pingQuestionable(bucket: Bucket): void {
    if (!this.#ping) return;
    const candidates = bucket.contacts
      .filter((c) => !this.#pinging.has(c) && this.stateOf(c) === 'questionable')
      .sort((a, b) => Math.max(a.lastResponseAt, a.lastQueryAt) - Math.max(b.lastResponseAt, b.lastQueryAt));
    const oldest = candidates[0];
    if (!oldest) return;
    this.#pinging.add(oldest);
    this.#ping(oldest)
      .catch(() => false)
      .then((alive) => {
        this.#pinging.delete(oldest);
        if (alive) return;
        if (this.#byId.get(toHex(oldest.id)) !== oldest) return;
        this.remove(oldest.id);
      });
  }

  /** A query to host:port timed out. */
  failed(id: Uint8Array | undefined, host: string, port: number): void {
    const c = id ? this.#byId.get(toHex(id)) : [...this.#byId.values()].find((x) => x.host === host && x.port === port);
    if (!c || c.host !== host || c.port !== port) return;
    c.failures++;
    if (this.stateOf(c) === 'bad') {
      const bucket = this.#buckets[this.#indexOf(c.id)]!;
      if (bucket.replacements.length > 0) this.remove(c.id);
    }
  }

  /** Removes a contact, promoting the most recent replacement into its bucket. */
  remove(id: Uint8Array): void {
    const key = toHex(id);
    const c = this.#byId.get(key);
    if (!c) return;
    this.#byId.delete(key);
    this.#countHost(c.host, -1);
    const bucket = this.#buckets[this.#indexOf(id)]!;
    bucket.contacts = bucket.contacts.filter((x) => x !== c);
    // The most recent verified replacement, else the most recent (it stays counted for its host).
    const promoted = [...bucket.replacements].reverse().find((r) => r.verified) ?? bucket.replacements[bucket.replacements.length - 1];
    if (promoted) {
      bucket.replacements = bucket.replacements.filter((r) => r !== promoted);
      const contact: Contact = { id: promoted.id, host: promoted.host, port: promoted.port, lastResponseAt: 0, lastQueryAt: 0, failures: 0, verified: promoted.verified };
      bucket.contacts.push(contact);
      this.#byId.set(toHex(promoted.id), contact);
    }
  }

  /** The `n` closest contacts to `target` that are not bad. */
  closest(target: Uint8Array, n: number): Contact[] {
    return [...this.#byId.values()]
      .filter((c) => this.stateOf(c) !== 'bad')
      .sort((a, b) => compareDistance(a.id, b.id, target))
      .slice(0, n);
  }

  /** Contacts that should be pinged to learn whether they are still there. */
  questionable(limit: number): Contact[] {
    return [...this.#byId.values()].filter((c) => !this.#pinging.has(c) && this.stateOf(c) === 'questionable').slice(0, limit);
  }

  /**
   * Buckets nobody touched for `quietMs` (BEP 5 refresh: look up a random id
   * in their range), each with such an id; marks them as refreshed.
   */
  takeQuietBuckets(quietMs: number): Uint8Array[] {
    const now = this.#now();
    const out: Uint8Array[] = [];
    this.#buckets.forEach((b, i) => {
      if (now - b.lastChangedAt < quietMs) return;
      b.lastChangedAt = now;
      out.push(this.randomIdInBucket(i));
    });
    return out;
  }

  /** A random id that falls in bucket `i`: our first i bits, then bit i flipped (except in the last bucket). */
  randomIdInBucket(i: number): Uint8Array {
    return randomIdSharingPrefix(this.localId, i, i !== this.#buckets.length - 1);
  }

  /**
   * Random ids in up to `max` buckets that have room (fewer than k
   * contacts), farthest first; the last bucket (ours, filled by looking up
   * our own id) is left out. For filling the table on join.
   */
  sparseBucketTargets(max: number): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (let i = 0; i < this.#buckets.length - 1 && out.length < max; i++) {
      if (this.#buckets[i]!.contacts.length < this.k) out.push(this.randomIdInBucket(i));
    }
    return out;
  }

  bucketSizes(): number[] {
    return this.#buckets.map((b) => b.contacts.length);
  }
}
