/**
 * A short-lived, read-only DHT node for commands that only look things up
 * (`peer find`, `peer fetch` resolving a name): on a free port (or --port), reaching the
 * DHT through --bootstrap or, without it, the LAN's nodes (LSD, BEP 14) and
 * the daemon of this host at the default port, as `peer kv` does.
 *
 * When no node answers, the error says so and how to fix it (exit 1): the
 * caller's lookup could not even be asked.
 */
import type { DhtNode } from '../dht/node.js';
import { CatalogueError } from '../errors.js';
import { getLogger } from '../log.js';
import { findLanDhtNodes } from '../discovery/lsd-dht.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { isLoopbackHost } from '../util/address.js';
import type { CommonOptions } from './common.js';

/** No DHT node answered: nothing was looked up. */
export class NoDhtNodeError extends CatalogueError {
  constructor(message: string) {
    super(message, 'ENODHT');
  }
}

export interface DhtClient {
  node: DhtNode;
  /** Nodes that answered (bootstrap or LAN): a later session may start from them. */
  contacts: { host: string; port: number }[];
}

/** The sentence naming how to reach a DHT, for errors. */
export function dhtHint(common: CommonOptions): string {
  const s = common.settings;
  const daemon = `${s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host}:${DEFAULT_SETTINGS.port}`;
  if (common.bootstrap.length) return `no DHT node answered at --bootstrap ${common.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ')}: is it running and reachable?`;
  const lan = common.lsd && !isLoopbackHost(s.host) ? 'on the LAN (local service discovery) nor ' : common.lsd ? '' : '(--no-lsd) ';
  return `no DHT node answered ${lan}at ${daemon} (a daemon of this host): give --bootstrap HOST:PORT of a running peer (peer start, peer dht)`;
}

/** Runs `fn` with a started node that has at least one contact; stops the node after. */
export async function withDhtClient<T>(common: CommonOptions, fn: (client: DhtClient) => Promise<T>): Promise<T> {
  const s = common.settings;
  const { DhtNode } = await import('../dht/node.js');
  const node = new DhtNode({ host: s.host, port: common.portGiven ? s.port : 0, bootstrap: common.bootstrap, settings: s, logger: getLogger('dht'), readOnly: true });
  await node.start();
  try {
    let contacts: { host: string; port: number }[] = [...common.bootstrap];
    if (common.bootstrap.length === 0) {
      const daemon = { host: s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host, port: DEFAULT_SETTINGS.port };
      contacts = await findLanDhtNodes(node, { host: s.host, settings: s, logger: getLogger('lsd'), waitMs: s.lsdKvWaitMs, lsd: common.lsd, candidates: [daemon] });
      if (contacts.length === 0) throw new NoDhtNodeError(dhtHint(common));
    }
    const result = await fn({ node, contacts });
    return result;
  } finally {
    await node.stop();
  }
}

/** True when the node heard no other node at all (so an empty answer means "nobody asked", not "nothing there"). */
export function heardNobody(node: DhtNode): boolean {
  return node.stats().nodes === 0;
}
