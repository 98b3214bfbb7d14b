/**
 * Where a torrent learns of peers: trackers, the DHT, PEX, `--peer` flags.
 * Each adapter implements PeerSource; the torrent owns its sources and
 * never knows which protocol found a peer.
 */
import type { PeerAddress } from '../util/peer-address.js';

/** Kept here too for the code above the codecs; the codecs import it from util/. */
export type { PeerAddress };

/** What a source may ask the torrent at any time (tracker announces report these). */
export interface TransferStats {
  uploaded: number;
  downloaded: number;
  /** Bytes still missing; 0 when seeding. */
  left: number;
}

export interface PeerSourceContext {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  /** Our peer wire TCP port (what we announce). */
  port: number;
  stats(): TransferStats;
  /** Called with every batch of peers found; duplicates are fine. */
  onPeers(peers: PeerAddress[], source: string): void;
  /** A tracker answered an announce (for metrics and logs). */
  onAnnounced?(info: { url: string; peers: number }): void;
  /**
   * No tracker answered an announce round: `url` is the last one tried, `error` why it failed,
   * `failures` the rounds failed in a row, `retryInMs` when the next round is.
   */
  onAnnounceFailed?(info: { url: string; error: string; failures: number; retryInMs: number }): void;
}

export interface PeerSource {
  readonly name: string;
  /** Begins announcing / looking up. Idempotent. */
  start(): void;
  /** The download just completed (trackers send event=completed). */
  completed(): void;
  /** Stops timers; trackers send event=stopped (bounded wait). Idempotent. */
  stop(): Promise<void>;
}
