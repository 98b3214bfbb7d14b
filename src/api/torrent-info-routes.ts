/**
 * What the dashboard's per-torrent panels show beyond the torrent list:
 *
 *   GET /api/torrents/:infoHash/details
 *     -> {"infoHash", "name", "state", "error", "length", "wanted", "done",
 *         "left", "downloaded", "uploaded", "ratio", "etaS", "downloadRate",
 *         "uploadRate", "peers", "seeds", "savePath", "magnet",
 *         "pieceLength", "pieces", "have", "bitfield", "sources"}
 *     `bitfield`: the pieces we have, base64 of the BEP 3 bitfield (piece 0
 *     is the high bit of the first byte). `ratio`: uploaded / downloaded in
 *     this run; for a torrent that downloaded nothing in this run (a seeder),
 *     uploaded / the bytes it holds; null when neither means anything.
 *     `etaS`: seconds left at the current download rate; 0 when nothing is
 *     left; null when not downloading.
 *   GET /api/torrents/:infoHash/trackers
 *     -> {"trackers": [{"url", "tier", "status", "lastAnnounceAt",
 *         "nextAnnounceAt", "seeders", "leechers", "peers", "error",
 *         "warning"}], "sources": ["tracker", "dht", ...],
 *         "webSeeds": [{"url", "banned", "downloaded"}]}
 */
import type http from 'node:http';
import { join } from 'node:path';
import { magnetOf } from '../metainfo/magnet.js';
import type { Torrent } from '../session/torrent.js';
import { ApiError, checkInfoHash, sendJson } from './http.js';
import { INFO_HASH_SEGMENT as ih, type Route, type RouteContext } from './routes.js';

export function torrentInfoRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: new RegExp(`^/api/torrents/${ih}/details$`), methods: { GET: (_q, res, [h]) => details(ctx, res, torrentOf(ctx, h!)) } },
    { pattern: new RegExp(`^/api/torrents/${ih}/trackers$`), methods: { GET: (_q, res, [h]) => trackers(res, torrentOf(ctx, h!)) } },
  ];
}

function torrentOf(ctx: RouteContext, hex: string): Torrent {
  const t = ctx.session.torrent(checkInfoHash(hex));
  if (!t) throw new ApiError(404, `no torrent ${hex.toLowerCase()} in this session`);
  return t;
}

/** The have-bitfield as BEP 3 lays it out: piece 0 is the high bit of byte 0. */
function bitfieldOf(t: Torrent): Buffer {
  const n = t.metainfo.info.pieceCount;
  const out = Buffer.alloc(Math.ceil(n / 8));
  for (let i = 0; i < n; i++) if (t.hasPiece(i)) out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/** Seconds to fetch what is left at the current rate; 0 when done; null when it cannot be told. */
export function etaSeconds(left: number, downloadRate: number, downloading: boolean): number | null {
  if (left === 0) return 0;
  if (!downloading || downloadRate <= 0) return null;
  return Math.ceil(left / downloadRate);
}

/** Uploaded over downloaded in this run; a seeder that downloaded nothing: over the bytes it holds. */
export function shareRatio(uploaded: number, downloaded: number, held: number): number | null {
  if (downloaded > 0) return uploaded / downloaded;
  if (held > 0) return uploaded / held;
  return null;
}

function details(ctx: RouteContext, res: http.ServerResponse, t: Torrent): void {
  const s = t.stats();
  const info = t.metainfo.info;
  const done = s.wanted - s.left;
  const hex = t.infoHashHex;
  sendJson(res, 200, {
    infoHash: hex,
    name: s.name,
    state: s.state,
    error: t.pausedReason ?? null,
    length: s.length,
    wanted: s.wanted,
    done,
    left: s.left,
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    ratio: shareRatio(s.uploaded, s.downloaded, done),
    etaS: etaSeconds(s.left, s.downloadRate, s.state === 'downloading'),
    downloadRate: s.downloadRate,
    uploadRate: s.uploadRate,
    peers: s.peers,
    seeds: s.seeds,
    savePath: ctx.contentPaths.get(hex) ?? ctx.opts.contentPathOf?.(hex) ?? join(ctx.opts.downloadsDir, info.name),
    magnet: magnetOf(t.metainfo),
    pieceLength: info.pieceLength,
    pieces: info.pieceCount,
    have: s.have,
    bitfield: bitfieldOf(t).toString('base64'),
    sources: t.sourceNames,
  });
}

function trackers(res: http.ServerResponse, t: Torrent): void {
  sendJson(res, 200, { trackers: t.trackers(), sources: t.sourceNames, webSeeds: t.webSeeds() });
}
