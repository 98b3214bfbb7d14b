/**
 * One clear warning for a routing-table flood instead of one line per
 * packet. A few refusals from an address are normal (a node restarted on a
 * new port, two clients behind one NAT) and only go to debug; an address
 * whose refused node ids reach `threshold` distinct ids within `windowMs` is
 * named once, at warn, and not again in that window. At most
 * `maxNamedPerWindow` addresses are named per window; one more line says
 * that others were refused too.
 *
 * No timers: windows are checked when refusals arrive.
 */
import { assertNever } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import { toHex } from '../util/bytes.js';
import type { NodeInfo } from './krpc.js';
import type { RefusalReason } from './routing-table.js';
import { subnetOf } from './bep42.js';

/** Says what rule of `settings` refused a node, for the log. */
export function explainRefusal(reason: RefusalReason, s: Settings): string {
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

export interface RefusalLogOptions {
  log: Logger;
  now: () => number;
  /** Says what rule refused a node, for the warning. */
  explain: (reason: RefusalReason) => string;
  windowMs?: number;
  threshold?: number;
  maxNamedPerWindow?: number;
}

interface Entry {
  since: number;
  ids: Set<string>;
  named: boolean;
}

/** Addresses tracked at once; a flood from more addresses than this is counted, not tracked. */
const MAX_TRACKED = 4096;

export class RefusalLog {
  readonly #opts: RefusalLogOptions;
  readonly #windowMs: number;
  readonly #threshold: number;
  readonly #maxNamed: number;
  readonly #entries = new Map<string, Entry>();
  #windowStart = -Infinity;
  #namedInWindow = 0;
  #total = 0;

  constructor(opts: RefusalLogOptions) {
    this.#opts = opts;
    this.#windowMs = opts.windowMs ?? 10 * 60_000;
    this.#threshold = opts.threshold ?? 16;
    this.#maxNamed = opts.maxNamedPerWindow ?? 5;
  }

  /** Node ids refused since start. */
  get total(): number {
    return this.#total;
  }

  note(node: NodeInfo, reason: RefusalReason): void {
    this.#total++;
    const now = this.#opts.now();
    const key = reason === 'subnet' ? subnetOf(node.host) : node.host;
    this.#opts.log.debug(`DHT: refused node ${toHex(node.id)} at ${node.host}:${node.port}: ${this.#opts.explain(reason)}`);
    if (now - this.#windowStart >= this.#windowMs) {
      this.#windowStart = now;
      this.#namedInWindow = 0;
    }
    let e = this.#entries.get(key);
    if (e && now - e.since >= this.#windowMs) {
      this.#entries.delete(key);
      e = undefined;
    }
    if (!e) {
      if (this.#entries.size >= MAX_TRACKED) this.#sweep(now);
      if (this.#entries.size >= MAX_TRACKED) return;
      e = { since: now, ids: new Set(), named: false };
      this.#entries.set(key, e);
    }
    if (e.named) return;
    e.ids.add(toHex(node.id));
    if (e.ids.size < this.#threshold) return;
    e.named = true;
    e.ids.clear();
    this.#namedInWindow++;
    const minutes = Math.round(this.#windowMs / 60_000);
    if (this.#namedInWindow <= this.#maxNamed) {
      this.#opts.log.warn(
        `DHT: refusing node ids from ${key} (${this.#threshold} so far): ${this.#opts.explain(reason)}, so one host cannot fill the routing table; not logged again for ${minutes} min`,
      );
    } else if (this.#namedInWindow === this.#maxNamed + 1) {
      this.#opts.log.warn(`DHT: refusing node ids from more addresses as well (routing-table flood protection); not logged again for ${minutes} min`);
    }
  }

  #sweep(now: number): void {
    for (const [key, e] of this.#entries) if (now - e.since >= this.#windowMs) this.#entries.delete(key);
  }
}
