/**
 * The LAN's DHT without a bootstrap node (beyond BEP 14): DHT nodes announce
 * themselves over LSD on the rendezvous info-hash LSD_DHT_INFOHASH with
 * their UDP port, and add the nodes they hear to their routing tables.
 *
 * - A long-running node (`peer dht`, or a session's node) announces and
 *   answers newcomers: `announceDhtNodeOnLan`.
 * - A short-lived node (`peer kv` with no `--bootstrap`) announces itself
 *   once (which makes the nodes there answer within
 *   lsdDhtReplyMinIntervalMs), pings what it hears and any `candidates`
 *   (the daemon on its own host), and goes on once k nodes answered, or
 *   lsdKvMoreNodesMs after the first answer, or gives up after `waitMs`:
 *   `findLanDhtNodes`.
 *
 * Why not go on at the first answer: that is nearly always the daemon of
 * its own host (a ping on loopback), before its own LSD announce has even
 * left (announces are batched), so every lookup started from that one
 * daemon's routing table, and a daemon that knew few nodes (just restarted,
 * or cut off) made the put or get land on the wrong nodes. Waiting a moment
 * for the LAN's answers lets the lookup start from many nodes.
 */
import type { DhtNode } from '../dht/node.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { isLoopbackHost } from '../util/address.js';
import type { PeerAddress } from '../util/peer-address.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import { LsdService, LSD_DHT_INFOHASH, type LsdSettings } from './lsd.js';

export interface LanDhtOptions {
  host: string;
  settings: LsdSettings;
  logger: Logger;
  /** LSD group port (tests); default 6771. */
  lsdPort?: number;
  lsdGroup?: string;
}

/**
 * Starts LSD for a long-running DHT node: announced on the rendezvous, and
 * every node heard there is added (pinged, kept if it answers). Resolves
 * with the service to stop with the node, or undefined when LSD cannot run
 * here (a loopback host, no multicast route: logged).
 */
export async function announceDhtNodeOnLan(node: DhtNode, opts: LanDhtOptions): Promise<LsdService | undefined> {
  if (isLoopbackHost(opts.host)) return undefined;
  const lsd = new LsdService(serviceOptions(opts));
  try {
    await lsd.start();
  } catch (err) {
    opts.logger.warn(`running without local service discovery: ${errorMessage(err)}`);
    return undefined;
  }
  // Only nodes of this node's family: it cannot ping the other (LSD runs over IPv4 and IPv6 alike).
  const v6 = node.address.host.includes(':');
  lsd.register(LSD_DHT_INFOHASH, { port: node.address.port, announce: true, answer: true, onPeer: (addr) => addr.host.includes(':') === v6 && node.addNode(addr) });
  return lsd;
}

/**
 * Looks for DHT nodes on the LAN for at most `waitMs`: over LSD (unless
 * `lsd` is false or the host is loopback) and by pinging `candidates`.
 * Resolves with the nodes that answered a ping (now in the node's table)
 * once dhtK have, or lsdKvMoreNodesMs after the first did (see above), or
 * with [] when none did in time.
 */
export async function findLanDhtNodes(
  node: DhtNode,
  opts: Omit<LanDhtOptions, 'settings'> & { settings: LsdSettings & Partial<Pick<Settings, 'lsdKvMoreNodesMs' | 'dhtK'>>; waitMs: number; lsd: boolean; candidates: PeerAddress[]; signal?: AbortSignal },
): Promise<PeerAddress[]> {
  const enough = opts.settings.dhtK ?? DEFAULT_SETTINGS.dhtK;
  const moreMs = opts.settings.lsdKvMoreNodesMs ?? DEFAULT_SETTINGS.lsdKvMoreNodesMs;
  const found: PeerAddress[] = [];
  const tried = new Set<string>();
  const done = new AbortController();
  // A timer of our own, not AbortSignal.timeout: inside AbortSignal.any, Node 20 may collect that signal before it fires.
  const waitTimer = setTimeout(() => done.abort(), opts.waitMs);
  const signal = AbortSignal.any([done.signal, ...(opts.signal ? [opts.signal] : [])]);
  let first: () => void = () => undefined;
  const firstAnswer = new Promise<void>((resolve) => (first = resolve));
  let full: () => void = () => undefined;
  const enoughAnswers = new Promise<void>((resolve) => (full = resolve));
  const own = node.address;
  const tryNode = (addr: PeerAddress): void => {
    const key = `${addr.host}:${addr.port}`;
    if (signal.aborted || tried.has(key) || (addr.host === own.host && addr.port === own.port)) return;
    if (addr.host.includes(':') !== own.host.includes(':')) return; // the other family: this socket cannot reach it
    tried.add(key);
    node.ping(addr, { signal }).then(
      () => {
        found.push(addr);
        first();
        if (found.length >= enough) full();
      },
      (err) => opts.logger.debug(`LAN DHT candidate ${key}: ${errorMessage(err)}`),
    );
  };
  let lsd: LsdService | undefined;
  if (opts.lsd && !isLoopbackHost(opts.host)) {
    lsd = new LsdService(serviceOptions(opts));
    try {
      await lsd.start();
      lsd.register(LSD_DHT_INFOHASH, { port: own.port, announce: true, onPeer: tryNode });
    } catch (err) {
      opts.logger.warn(`no local service discovery: ${errorMessage(err)}`);
      lsd = undefined;
    }
  }
  for (const c of opts.candidates) tryNode(c);
  const aborted = new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
  try {
    await Promise.race([firstAnswer, aborted]);
    // With LSD, the LAN's answers are on their way: a little longer for them (see above).
    if (lsd && found.length > 0 && found.length < enough && moreMs > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([enoughAnswers, aborted, new Promise<void>((resolve) => (timer = setTimeout(resolve, moreMs)))]);
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(waitTimer);
    done.abort();
    await lsd?.stop();
  }
  return found;
}

function serviceOptions(opts: LanDhtOptions): ConstructorParameters<typeof LsdService>[0] {
  return {
    host: opts.host,
    settings: opts.settings,
    logger: opts.logger,
    ...(opts.lsdPort !== undefined ? { port: opts.lsdPort } : {}),
    ...(opts.lsdGroup !== undefined ? { group: opts.lsdGroup } : {}),
  };
}
