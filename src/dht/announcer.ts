/**
 * The torrent side of a DHT node (BEP 5): find a swarm's peers with an
 * iterative get_peers lookup, and announce our port to the closest nodes
 * with the write tokens that lookup collected.
 */
import type { PeerAddress } from '../util/peer-address.js';
import { toHex } from '../util/bytes.js';
import { checkId, type NodeInfo } from './krpc.js';
import type { LookupContext, LookupResult, Op } from './lookup.js';

export interface AnnouncerContext extends LookupContext {
  /** Peers announced to this node itself, at most `max`. */
  localPeers: (infoHash: Uint8Array, max: number) => PeerAddress[];
}

export class PeerAnnouncer {
  readonly #ctx: AnnouncerContext;
  /** Tokens from the last get_peers lookup per info-hash, for announce (BEP 5). */
  readonly #tokens = new Map<string, { at: number; nodes: { node: NodeInfo; token: Uint8Array }[] }>();

  constructor(ctx: AnnouncerContext) {
    this.#ctx = ctx;
  }

  /** Forgets tokens older than one secret rotation (the node's maintenance timer calls this). */
  sweep(): void {
    const now = this.#ctx.now();
    for (const [key, e] of this.#tokens) if (now - e.at > this.#ctx.settings.dhtTokenRotateMs) this.#tokens.delete(key);
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
    const result = await this.#ctx.lookup(infoHash, { q: 'get_peers', id: this.#ctx.nodeId(), infoHash }, opts, (_node, r) => {
      for (const p of r.values ?? []) found.set(`${p.host}:${p.port}`, p);
    });
    // Peers that announced to this node itself count too: the lookup asks only other nodes, and
    // in a small DHT (a LAN, or a node others bootstrap from) we are often the closest node.
    for (const p of this.#ctx.localPeers(infoHash, this.#ctx.settings.dhtMaxValuesPerReply)) found.set(`${p.host}:${p.port}`, p);
    const nodes = result.closest.filter((c) => c.response.token).map((c) => ({ node: c.node, token: c.response.token! }));
    this.#tokens.set(toHex(infoHash), { at: this.#ctx.now(), nodes });
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
    let cached = this.#tokens.get(toHex(infoHash));
    // Tokens live at least one secret rotation on the remote side; refresh well before.
    if (!cached || this.#ctx.now() - cached.at > this.#ctx.settings.dhtTokenRotateMs / 2 || cached.nodes.length === 0) {
      await this.#getPeersLookup(infoHash, opts);
      cached = this.#tokens.get(toHex(infoHash))!;
    }
    const id = this.#ctx.nodeId();
    const results = await Promise.allSettled(
      cached.nodes.map(({ node, token }) =>
        this.#ctx.query(node, { q: 'announce_peer', id, infoHash, port: opts.impliedPort ? 0 : port, token, impliedPort: opts.impliedPort === true }, opts.signal),
      ),
    );
    return results.filter((r) => r.status === 'fulfilled').length;
  }
}
