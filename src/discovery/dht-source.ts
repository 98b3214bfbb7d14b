/**
 * The DHT as a peer source for one torrent (BEP 5): every
 * `dhtAnnounceIntervalMs` it looks the info-hash up (get_peers), hands the
 * peers to the torrent, and announces our port to the closest nodes with
 * the tokens that lookup collected.
 *
 * A round that found no peer, or whose announce no node took (a node that
 * knows nobody yet, e.g. the first machine of a LAN whose DHT node the
 * others bootstrap from), is tried again after `retryMs`, doubling up to the
 * interval: otherwise such a peer would stay invisible, and blind, for the
 * whole interval (15 minutes).
 *
 * Never use this for a private torrent (`private=1` in the info dict, BEP
 * 27): such torrents get peers from their trackers only. The caller decides;
 * this class cannot know the torrent's metainfo.
 *
 * The DhtNode is shared by all torrents and owned by the session: this
 * source neither starts nor stops it.
 */
import { join } from 'node:path';
import type { DhtNode } from '../dht/node.js';
import type { Settings } from '../settings.js';
import type { PeerAddress } from '../util/peer-address.js';
import { errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import type { PeerSource, PeerSourceContext } from './peer-source.js';
import { makeDir } from '../util/make-dir.js';

export interface DhtPeerSourceOptions {
  /** Time between lookups + announces (default: the node's dhtAnnounceIntervalMs). */
  intervalMs?: number;
  /** First retry after an empty round, doubling up to intervalMs (default: the node's dhtEmptyRoundRetryMs). */
  retryMs?: number;
  /** Announce our port, not only look peers up (false for a leecher that must stay quiet). */
  announce?: boolean;
  logger?: Logger;
}

export class DhtPeerSource implements PeerSource {
  readonly name = 'dht';
  readonly #node: DhtNode;
  readonly #ctx: PeerSourceContext;
  readonly #intervalMs: number;
  readonly #retryMs: number;
  /** Empty rounds in a row (0 after a round that found peers and announced). */
  #emptyRounds = 0;
  readonly #announce: boolean;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(node: DhtNode, ctx: PeerSourceContext, opts: DhtPeerSourceOptions = {}) {
    this.#node = node;
    this.#ctx = ctx;
    this.#intervalMs = opts.intervalMs ?? node.settings.dhtAnnounceIntervalMs;
    this.#retryMs = opts.retryMs ?? node.settings.dhtEmptyRoundRetryMs;
    this.#announce = opts.announce ?? true;
    this.#log = opts.logger ?? getLogger('dht-source');
  }

  start(): void {
    if (this.#abort) return;
    this.#abort = new AbortController();
    this.#tick();
  }

  /** A lookup and an announce now; the next after `intervalMs` (sooner after an empty round). Never two at once. */
  #tick(): void {
    const abort = this.#abort;
    if (!abort || abort.signal.aborted) return;
    this.#running = this.#round(abort.signal).then((fruitful) => {
      this.#running = undefined;
      if (abort.signal.aborted) return;
      this.#emptyRounds = fruitful ? 0 : this.#emptyRounds + 1;
      this.#timer = setTimeout(() => this.#tick(), this.nextDelayMs());
      this.#timer.unref();
    });
  }

  /** The wait before the next round: intervalMs, or retryMs x 2^(empty rounds - 1) up to intervalMs after empty rounds. */
  nextDelayMs(): number {
    if (this.#emptyRounds === 0) return this.#intervalMs;
    return Math.min(this.#intervalMs, this.#retryMs * 2 ** Math.min(this.#emptyRounds - 1, 30));
  }

  /** One lookup (and announce); true when it found peers and (if announcing) some node took the announce. */
  async #round(signal: AbortSignal): Promise<boolean> {
    try {
      await this.#node.ready({ signal });
      const peers = await this.#node.getPeers(this.#ctx.infoHash, { signal });
      if (peers.length > 0) this.#ctx.onPeers(peers, this.name);
      const took = this.#announce ? await this.#node.announce(this.#ctx.infoHash, this.#ctx.port, { signal }) : 1;
      return peers.length > 0 && took > 0;
    } catch (err) {
      if (!signal.aborted) this.#log.debug(`DHT round failed: ${errorMessage(err)}`);
      return false;
    }
  }

  completed(): void {
    // The DHT has no notion of completion (BEP 5): nothing to send.
  }

  async stop(): Promise<void> {
    if (!this.#abort) return;
    this.#abort.abort();
    this.#abort = undefined;
    clearTimeout(this.#timer);
    await this.#running;
  }
}

/**
 * BEP 32: the IPv6 DHT node that runs beside the IPv4 one when the session
 * listens on every address (`::`), on the same UDP port, with its own
 * routing table (saved in `<stateDir>/dht6/`). Undefined, with an info line,
 * where the system has no IPv6 (or the port is taken on it): the IPv4 node
 * alone is the DHT then. The caller stops the node.
 */
export async function startIpv6DhtNode(
  DhtNodeClass: typeof DhtNode,
  opts: { port: number; bootstrap: PeerAddress[]; stateDir?: string; logger: Logger; settings: Settings; sibling?: () => DhtNode | undefined },
): Promise<DhtNode | undefined> {
  const node = new DhtNodeClass({
    host: '::',
    family: 6,
    ...(opts.sibling ? { sibling: opts.sibling } : {}),
    port: opts.port,
    bootstrap: opts.bootstrap,
    ...(opts.stateDir ? { stateDir: join(opts.stateDir, 'dht6') } : {}),
    logger: opts.logger,
    settings: opts.settings,
  });
  try {
    if (opts.stateDir) await makeDir(join(opts.stateDir, 'dht6'));
    await node.start();
    return node;
  } catch (err) {
    opts.logger.info(`no IPv6 DHT node (${errorMessage(err)}): the IPv4 node runs alone`);
    await node.stop().catch(() => undefined);
    return undefined;
  }
}
