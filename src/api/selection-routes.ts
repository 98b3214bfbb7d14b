/**
 * `/api/torrents/:infoHash/files`: the files of a torrent with their
 * priority (skip / normal / high) and how much of each is here, and
 * changing the priorities while it runs (issue 14, file selection).
 *
 *   GET  -> {"files": [{"index", "path", "length", "priority", "done"}]}
 *   PUT  {"priorities": [0|1|2, ...]}              one per file, in order
 *        {"files": [{"index": 3, "priority": 2}]}  only these files
 *   priority: 0 skip, 1 normal, 2 high (names "skip"/"normal"/"high" too)
 */
import type http from 'node:http';
import { userFiles } from '../metainfo/layout.js';
import type { Torrent } from '../session/torrent.js';
import { FILE_PRIORITY, FILE_PRIORITY_NAMES, type FilePriorityName } from '../session/file-selection.js';
import { ApiError, checkInfoHash, readJsonObject, sendJson } from './http.js';
import { INFO_HASH_SEGMENT as ih, MAX_JSON_BYTES, type Route, type RouteContext } from './routes.js';

export function selectionRoutes(ctx: RouteContext): Route[] {
  return [
    {
      pattern: new RegExp(`^/api/torrents/${ih}/files$`),
      methods: {
        GET: (_q, res, [h]) => sendJson(res, 200, { files: fileList(torrentOf(ctx, h!)) }),
        PUT: (req, res, [h]) => setPriorities(torrentOf(ctx, h!), req, res),
      },
    },
  ];
}

function torrentOf(ctx: RouteContext, hex: string): Torrent {
  const t = ctx.session.torrent(checkInfoHash(hex));
  if (!t) throw new ApiError(404, `no torrent ${hex.toLowerCase()} in this session`);
  return t;
}

/** Each user file (no BEP 47 pad files), its priority and the bytes of it in verified pieces. */
function fileList(t: Torrent): object[] {
  const info = t.metainfo.info;
  const prio = t.filePriorities;
  return userFiles(info).map((f, i) => {
    let done = 0;
    if (f.length > 0) {
      const first = Math.floor(f.offset / info.pieceLength);
      const last = Math.floor((f.offset + f.length - 1) / info.pieceLength);
      for (let k = first; k <= last; k++) {
        if (!t.hasPiece(k)) continue;
        const start = Math.max(f.offset, k * info.pieceLength);
        const end = Math.min(f.offset + f.length, (k + 1) * info.pieceLength);
        done += end - start;
      }
    }
    return { index: i, path: f.path.join('/'), length: f.length, priority: prio[i], priorityName: FILE_PRIORITY_NAMES[prio[i]!], done };
  });
}

function level(v: unknown, where: string): number {
  if (typeof v === 'string' && v in FILE_PRIORITY) return FILE_PRIORITY[v as FilePriorityName];
  if (v === 0 || v === 1 || v === 2) return v;
  throw new ApiError(400, `${where} must be 0/"skip", 1/"normal" or 2/"high", got ${JSON.stringify(v)?.slice(0, 40)}`);
}

async function setPriorities(t: Torrent, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readJsonObject(req, MAX_JSON_BYTES);
  const count = t.filePriorities.length;
  let next: number[];
  if (Array.isArray(body.priorities)) {
    if (body.priorities.length !== count) throw new ApiError(400, `"priorities" needs ${count} entries, one per file; got ${body.priorities.length}`);
    next = body.priorities.map((v, i) => level(v, `priorities[${i}]`));
  } else if (Array.isArray(body.files)) {
    next = [...t.filePriorities];
    body.files.forEach((e: unknown, k) => {
      const o = e as { index?: unknown; priority?: unknown } | null;
      if (typeof o !== 'object' || o === null) throw new ApiError(400, `files[${k}] must be {"index", "priority"}`);
      if (typeof o.index !== 'number' || !Number.isInteger(o.index) || o.index < 0 || o.index >= count) throw new ApiError(400, `files[${k}].index must be a file index 0..${count - 1}`);
      next[o.index] = level(o.priority, `files[${k}].priority`);
    });
  } else {
    throw new ApiError(400, 'send {"priorities": [...]} (one per file) or {"files": [{"index", "priority"}]}');
  }
  if (!next.some((l) => l > 0)) throw new ApiError(400, 'at least one file must stay wanted (to drop the torrent, DELETE it)');
  await t.setFilePriorities(next);
  sendJson(res, 200, { files: fileList(t) });
}
