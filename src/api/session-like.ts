/**
 * What the API needs of a session: a narrow view of `Session`
 * (STYLE.md habit 7), plus the parts the session grows later (DHT summary,
 * peer messages, the key-value layer), optional so that the API answers
 * 503 or `{enabled:false}` until they exist.
 */
import type { Session } from '../session/session.js';

/** A text message from a peer (BEP 10 extension message). */
export interface PeerMessageRecord {
  from: string;
  text: string;
  /** Milliseconds since the epoch. */
  at: number;
  infoHash: string;
}

/**
 * The DHT key-value layer (BEP 44) as the session exposes it (KvStore,
 * src/dht/kv.ts): put (republished while the daemon runs, and after a
 * restart; `cas` fails with KvError ECAS), lookup with a status, delete,
 * and the keys of a namespace.
 */
export interface KvLike {
  get(key: string, opts?: { namespace?: string; signal?: AbortSignal }): Promise<unknown>;
  put(key: string, value: string, opts?: { namespace?: string; cas?: number; republish?: boolean; signal?: AbortSignal }): Promise<unknown>;
  lookup?(key: string, opts?: { namespace?: string; signal?: AbortSignal }): Promise<{ status: 'found' | 'not-found' | 'deleted' | 'unreachable'; value: string | null; seq: number | null; target: string; publicKey: string }>;
  del?(key: string, opts?: { namespace?: string; signal?: AbortSignal }): Promise<unknown>;
  list?(opts?: { namespace?: string; signal?: AbortSignal }): Promise<string[]>;
}

export interface SessionExtras {
  /** The session's DHT node, when it runs one. */
  dht?: { stats(): object } | undefined;
  /** The IPv6 node beside it (BEP 32), when there is one. */
  dht6?: { stats(): object } | undefined;
  /** Sends `text` to the connected peer at `to` ('host:port') or to every one ('all'); returns how many got it. */
  sendMessage?(to: string, text: string): number;
  /** Messages received from peers, oldest first. */
  messages?: readonly PeerMessageRecord[];
  kv?: KvLike | undefined;
}

export type SessionLike = Pick<
  Session,
  'port' | 'peerId' | 'settings' | 'torrents' | 'torrent' | 'addTorrent' | 'addMagnet' | 'removeTorrent' | 'setRateLimits' | 'limits' | 'pool' | 'tracker' | 'on' | 'off'
> &
  SessionExtras;
