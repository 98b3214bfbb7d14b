/**
 * Local Service Discovery (BEP 14) as a peer source for one torrent: it
 * registers the info-hash with the session's LsdService (which announces it
 * on start and once a minute, and hands over the peers that announce it),
 * and unregisters on stop. Peers found here carry the source label 'lsd'.
 *
 * Never use this for a private torrent (BEP 27). The LsdService is shared by
 * all torrents and owned by the session: this source neither starts nor
 * stops it.
 */
import { toHex } from '../util/bytes.js';
import type { LsdService } from './lsd.js';
import type { PeerSource, PeerSourceContext } from './peer-source.js';

export class LsdPeerSource implements PeerSource {
  readonly name = 'lsd';
  readonly #service: LsdService;
  readonly #ctx: PeerSourceContext;
  readonly #announce: boolean;
  #unregister: (() => void) | undefined;

  /** `announce: false` listens only (default: announce our port too). */
  constructor(service: LsdService, ctx: PeerSourceContext, opts: { announce?: boolean } = {}) {
    this.#service = service;
    this.#ctx = ctx;
    this.#announce = opts.announce ?? true;
  }

  start(): void {
    if (this.#unregister) return;
    this.#unregister = this.#service.register(toHex(this.#ctx.infoHash), {
      port: this.#ctx.port,
      announce: this.#announce,
      onPeer: (addr) => this.#ctx.onPeers([addr], this.name),
    });
  }

  completed(): void {
    // BEP 14 has no events: nothing to send.
  }

  async stop(): Promise<void> {
    this.#unregister?.();
    this.#unregister = undefined;
  }
}
