/**
 * The DHT as a peer source for one torrent (BEP 5): every
 * `dhtAnnounceIntervalMs` it looks the info-hash up (get_peers), hands the
 * peers to the torrent, and announces our port to the closest nodes with
 * the tokens that lookup collected.
 *
 * Never use this for a private torrent (`private=1` in the info dict, BEP
 * 27): such torrents get peers from their trackers only. The caller decides;
 * this class cannot know the torrent's metainfo.
 *
 * The DhtNode is shared by all torrents and owned by the session: this
 * source neither starts nor stops it.
 */
import type { DhtNode } from '../dht/node.js';
import { errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import type { PeerSource, PeerSourceContext } from './peer-source.js';

export interface DhtPeerSourceOptions {
  /** Time between lookups + announces (default: the node's dhtAnnounceIntervalMs). */
  intervalMs?: number;
  /** Announce our port, not only look peers up (false for a leecher that must stay quiet). */
  announce?: boolean;
  logger?: Logger;
}

export class DhtPeerSource implements PeerSource {
  readonly name = 'dht';
  readonly #node: DhtNode;
  readonly #ctx: PeerSourceContext;
  readonly #intervalMs: number;
  readonly #announce: boolean;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #abort: AbortController | undefined;
  #running: Promise<void> | undefined;

  constructor(node: DhtNode, ctx: PeerSourceContext, opts: DhtPeerSourceOptions = {}) {
    this.#node = node;
    this.#ctx = ctx;
    this.#intervalMs = opts.intervalMs ?? node.settings.dhtAnnounceIntervalMs;
    this.#announce = opts.announce ?? true;
    this.#log = opts.logger ?? getLogger('dht-source');
  }

  start(): void {
    if (this.#abort) return;
    this.#abort = new AbortController();
    this.#tick();
  }

  /** A lookup and an announce now; the next after `intervalMs`. Never two at once. */
  #tick(): void {
    const abort = this.#abort;
    if (!abort || abort.signal.aborted) return;
    this.#running = this.#round(abort.signal).finally(() => {
      this.#running = undefined;
      if (!abort.signal.aborted) {
        this.#timer = setTimeout(() => this.#tick(), this.#intervalMs);
        this.#timer.unref();
      }
    });
  }

  async #round(signal: AbortSignal): Promise<void> {
    try {
      await this.#node.ready({ signal });
      const peers = await this.#node.getPeers(this.#ctx.infoHash, { signal });
      if (peers.length > 0) this.#ctx.onPeers(peers, this.name);
      if (this.#announce) await this.#node.announce(this.#ctx.infoHash, this.#ctx.port, { signal });
    } catch (err) {
      if (!signal.aborted) this.#log.debug(`DHT round failed: ${errorMessage(err)}`);
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
