/**
 * The one sum over a session's torrents, shared by `GET /api/session` and
 * `/metrics`, so the dashboard and Prometheus never disagree on a total.
 */
import type { TorrentStats } from '../session/torrent.js';

export interface SessionTotals {
  /** Torrents by state. */
  byState: Record<TorrentStats['state'], number>;
  peers: number;
  /** Payload bytes moved in this run by the torrents still in the session. */
  downloaded: number;
  uploaded: number;
  /** Bytes per second, now. */
  downloadRate: number;
  uploadRate: number;
  /** Pieces held, and in total, over all torrents. */
  have: number;
  pieces: number;
}

export function sessionTotals(torrents: Iterable<{ stats(): TorrentStats }>): SessionTotals {
  const out: SessionTotals = { byState: { downloading: 0, seeding: 0, paused: 0, queued: 0, finished: 0 }, peers: 0, downloaded: 0, uploaded: 0, downloadRate: 0, uploadRate: 0, have: 0, pieces: 0 };
  for (const t of torrents) {
    const s = t.stats();
    out.byState[s.state]++;
    out.peers += s.peers;
    out.downloaded += s.downloaded;
    out.uploaded += s.uploaded;
    out.downloadRate += s.downloadRate;
    out.uploadRate += s.uploadRate;
    out.have += s.have;
    out.pieces += s.pieces;
  }
  return out;
}
