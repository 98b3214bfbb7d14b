/**
 * What a Torrent (torrent.ts) takes and tells: its collaborators and
 * options, its typed events (`noun:verb`), and the snapshots the CLI and
 * the API render.
 */
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import type { PeerConnection } from '../peer/connection.js';
import type { HashPool } from '../util/hash-pool.js';
import type { TokenBucket } from '../util/token-bucket.js';
import type { Clock } from '../util/clock.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';

export interface TorrentStats {
  infoHash: string;
  name: string;
  have: number;
  pieces: number;
  /** Payload bytes received and accepted in this run. */
  downloaded: number;
  /** Payload bytes sent in this run. */
  uploaded: number;
  peers: number;
  downloadRate: number;
  uploadRate: number;
  complete: boolean;
  /** queued: waiting for a slot of the daemon's queue; finished: its seed ratio or time limit was reached. */
  state: 'paused' | 'seeding' | 'downloading' | 'queued' | 'finished';
  /** Total payload bytes of the torrent. */
  length: number;
  /** Bytes of the wanted pieces still missing (all pieces unless files were skipped). */
  left: number;
  /** Bytes of the wanted pieces, had or not. */
  wanted: number;
  /** Connected peers that have every piece. */
  seeds: number;
}

export interface PeerInfo {
  address: string;
  peerId: string;
  client: string;
  outgoing: boolean;
  have: number;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
}

export interface TorrentEvents {
  'torrent:progress': TorrentStats;
  'torrent:complete': { infoHash: string; downloaded: number; elapsedMs: number };
  /** The file priorities changed (file-selection.ts). */
  'torrent:selection': number[];
  'torrent:error': Error;
  /** Downloading stopped by itself (e.g. the disk is full); `reason` says why. Verified pieces are kept and still served. */
  'torrent:paused': { infoHash: string; reason: string };
  /** Downloading carries on after a 'torrent:paused'. */
  'torrent:resumed': { infoHash: string };
  /** `fast`: BEP 6 negotiated; `client`: from the peer id (e.g. `lt2080`, `A2-1-36-0-`). */
  'peer:connected': { address: string; outgoing: boolean; fast: boolean; client: string };
  'peer:disconnected': { address: string; reason: string };
  'peer:banned': { host: string; reason: string };
  'piece:verified': number;
  'piece:failed': { index: number; hosts: string[] };
  /** A tracker answered our announce. */
  'tracker:announced': { url: string; peers: number };
  /** No tracker answered an announce round; the next is in `retryInMs`. */
  'tracker:failed': { url: string; error: string; failures: number; retryInMs: number };
  /** A text message (swarm_msg extension) from a peer; `from` is its address. */
  'message:received': { from: string; text: string };
}

export interface TorrentDeps {
  storage: TorrentStorage;
  pool: HashPool;
  logger: Logger;
  /** Whether the session's global connection limit allows one more (maxPeersTotal). */
  canConnect?: () => boolean;
  /** Global rate limits shared by every torrent of the session (rate 0 = unlimited). */
  limits?: { upload: TokenBucket; download: TokenBucket };
  /** Time (default: the system clock). */
  clock?: Clock;
}

export interface TorrentOptions {
  metainfo: Metainfo;
  settings: Settings;
  peerId: Uint8Array;
  /** The TCP port we listen on (announced to trackers, the DHT and in the BEP 10 handshake). */
  listenPort: number;
  /** Address outgoing connections are made from (`--host`), unless 0.0.0.0. */
  localAddress?: string;
  /** Our DHT's UDP port: set the DHT bit and send PORT messages (BEP 5). */
  dhtPort?: number;
  /** A peer told us its DHT port. */
  onDhtNode?: (addr: PeerAddress) => void;
  /** Download pieces in order (a read-ahead window), as for playing a file while it downloads. */
  sequential?: boolean;
  /** This torrent's own rate limits (bytes/s, 0 = none), checked together with the session's (`deps.limits`). */
  uploadLimitBytesPerS?: number;
  downloadLimitBytesPerS?: number;
  /** Priority of each user file (0 skip, 1 normal, 2 high); default all normal. */
  filePriorities?: readonly number[];
}

/** The snapshot of one connected peer; `client` from its BEP 10 handshake. */
export function peerInfo(c: PeerConnection, client: string): PeerInfo {
  return {
    address: c.address,
    peerId: c.remotePeerIdHex,
    client,
    outgoing: c.outgoing,
    have: c.bits.count(),
    amChoking: c.amChoking,
    amInterested: c.amInterested,
    peerChoking: c.peerChoking,
    peerInterested: c.peerInterested,
    downloadRate: Math.round(c.downloadRate.rate()),
    uploadRate: Math.round(c.uploadRate.rate()),
    downloaded: c.downloadRate.total,
    uploaded: c.uploadRate.total,
  };
}
