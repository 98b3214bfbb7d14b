/**
 * Smart ban (libtorrent's smart_ban, anacrolix's smartban.go): who sent the
 * bad data of a piece that failed its hash check.
 *
 * A failed piece remembers who sent each block. A sole sender is struck at
 * once; otherwise, when the piece later passes, the senders whose blocks
 * differ from the good data are struck. Honest peers that shared a piece
 * with a liar are never struck. A host struck `banAfterFailures` times is
 * banned.
 *
 * Pure: no sockets, no timers, no logging; the torrent acts on the bans.
 */
import { sha1Hex } from '../util/hash.js';

export interface SmartBanOptions {
  /** Block size of the torrent's requests (the unit each sender is recorded for). */
  blockBytes: number;
  /** Strikes after which a host is banned (settings.banAfterHashFailures). */
  banAfterFailures: number;
}

/** A host to ban now, why, and its strike count. */
export interface Ban {
  host: string;
  reason: string;
  strikes: number;
}

export class SmartBan {
  readonly #opts: SmartBanOptions;
  readonly #strikes = new Map<string, number>();
  readonly #banned = new Set<string>();
  /** Failed pieces with several senders: the hash of each block and who sent it, until the piece passes. */
  readonly #failed = new Map<number, { blockHashes: string[]; from: string[] }>();

  constructor(opts: SmartBanOptions) {
    this.#opts = opts;
  }

  isBanned(host: string): boolean {
    return this.#banned.has(host);
  }

  /** Distinct senders of a piece (`from[block]` = host, empty for none). */
  static senders(from: readonly string[]): string[] {
    return [...new Set(from.filter(Boolean))];
  }

  /** Piece `index` failed its hash; `from[b]` sent block `b`. Returns the hosts banned by it. */
  pieceFailed(index: number, data: Uint8Array, from: readonly string[]): Ban[] {
    const hosts = SmartBan.senders(from);
    if (hosts.length === 1) return this.#strike(hosts[0]!, `sent piece ${index} that failed its hash`);
    const bb = this.#opts.blockBytes;
    this.#failed.set(index, { blockHashes: from.map((_, b) => sha1Hex(data.subarray(b * bb, (b + 1) * bb))), from: [...from] });
    return [];
  }

  /** Piece `index` passed with `good` data: the senders of the blocks that differed in its failure are struck. */
  pieceVerified(index: number, good: Uint8Array): Ban[] {
    const record = this.#failed.get(index);
    if (!record) return [];
    this.#failed.delete(index);
    const bb = this.#opts.blockBytes;
    const liars = new Set<string>();
    record.from.forEach((host, b) => {
      if (host && record.blockHashes[b] !== sha1Hex(good.subarray(b * bb, (b + 1) * bb))) liars.add(host);
    });
    return [...liars].flatMap((host) => this.#strike(host, `sent corrupt data in piece ${index}`));
  }

  #strike(host: string, reason: string): Ban[] {
    const n = (this.#strikes.get(host) ?? 0) + 1;
    this.#strikes.set(host, n);
    if (n < this.#opts.banAfterFailures || this.#banned.has(host)) return [];
    this.#banned.add(host);
    return [{ host, reason, strikes: n }];
  }
}
