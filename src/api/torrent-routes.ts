/**
 * `/api/torrents`: list, add (a .torrent or a magnet link; or, as JSON
 * {"torrent": base64, "dataPath": "/abs/path"}, content already here, seeded
 * where it lies: see addSeedInPlace), show, change
 * (`PATCH {"sequential", "uploadLimit", "downloadLimit", "seedRatioLimit",
 * "seedTimeLimitS"}`), remove (`?deleteData=1`: its files too), pause,
 * resume, recheck and move torrents, and list a torrent's peers. Recheck,
 * move and deleting data need the daemon (`peer start`): elsewhere 501.
 */
import type http from 'node:http';
import { lstat } from 'node:fs/promises';
import { isAbsolute, join, resolve as resolvePath, sep } from 'node:path';
import { errorMessage } from '../errors.js';
import { parseTorrent, MAX_TORRENT_FILE_BYTES } from '../metainfo/parse.js';
import { isMagnet, magnetOf, parseMagnet, trackersOf } from '../metainfo/magnet.js';
import { userFiles } from '../metainfo/layout.js';
import type { MagnetLink } from '../metainfo/types.js';
import type { Torrent } from '../session/torrent.js';
import { ApiError, checkInfoHash, mediaType, readBody, readJsonObject, sendJson } from './http.js';
import { receiveFile } from './multipart.js';
import { INFO_HASH_SEGMENT as ih, MAX_JSON_BYTES, type ApiAddedTorrent, type Route, type RouteContext } from './routes.js';
import { makeDir } from '../util/make-dir.js';

export function torrentRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: /^\/api\/torrents\/?$/, methods: { GET: (_q, res) => listTorrents(ctx, res), POST: (req, res) => addTorrent(ctx, req, res) } },
    {
      pattern: new RegExp(`^/api/torrents/${ih}$`),
      methods: {
        GET: (_q, res, [h]) => sendJson(res, 200, torrentDetail(torrentOf(ctx, h!))),
        PATCH: (req, res, [h]) => changeTorrent(ctx, req, res, h!),
        DELETE: (_q, res, [h], query) => removeTorrent(ctx, res, h!, query),
      },
    },
    { pattern: new RegExp(`^/api/torrents/${ih}/pause$`), methods: { POST: (_q, res, [h]) => pauseResume(ctx, res, h!, 'pause') } },
    { pattern: new RegExp(`^/api/torrents/${ih}/resume$`), methods: { POST: (_q, res, [h]) => pauseResume(ctx, res, h!, 'resume') } },
    { pattern: new RegExp(`^/api/torrents/${ih}/recheck$`), methods: { POST: (_q, res, [h]) => recheck(ctx, res, h!) } },
    { pattern: new RegExp(`^/api/torrents/${ih}/move$`), methods: { POST: (req, res, [h]) => move(ctx, req, res, h!) } },
    { pattern: new RegExp(`^/api/torrents/${ih}/peers$`), methods: { GET: (_q, res, [h]) => sendJson(res, 200, { peers: torrentOf(ctx, h!).peers() }) } },
  ];
}

/** Records where the content of a torrent the API added lies, and tells the owner (the daemon persists it). */
export async function notifyAdded(ctx: RouteContext, added: ApiAddedTorrent): Promise<void> {
  ctx.contentPaths.set(added.meta.infoHashHex, added.contentPath);
  try {
    await ctx.opts.onTorrentAdded?.(added);
  } catch (err) {
    ctx.log.error(`after adding ${added.meta.infoHashHex}: ${errorMessage(err)}`);
  }
}

function torrentOf(ctx: RouteContext, hex: string): Torrent {
  const t = ctx.session.torrent(checkInfoHash(hex));
  if (!t) throw new ApiError(404, `no torrent ${hex.toLowerCase()} in this session`);
  return t;
}

function listTorrents(ctx: RouteContext, res: http.ServerResponse): void {
  sendJson(res, 200, {
    torrents: ctx.session.torrents.map((t) => ({ ...t.stats(), ...controlOf(t), error: t.pausedReason ?? null })),
    fetching: [...ctx.fetching].map(([infoHash, f]) => ({ infoHash, name: f.name ?? null, since: f.since })),
  });
}

/** A torrent's own limits: rates in bytes/s (0 = none); seed limits null = the daemon's defaults, 0 = none. */
function controlOf(t: Torrent): { uploadLimit: number; downloadLimit: number; seedRatioLimit: number | null; seedTimeLimitS: number | null } {
  const r = t.rateLimits;
  return { uploadLimit: r.uploadBytesPerS, downloadLimit: r.downloadBytesPerS, seedRatioLimit: t.seedLimits.ratio ?? null, seedTimeLimitS: t.seedLimits.timeS ?? null };
}

/** What the daemon's session adds (daemon-session.ts); a plain session (`peer seed --api`) has none of it. */
interface DaemonControls {
  recheckTorrent(hex: string): Promise<Torrent>;
  moveTorrent(hex: string, to: string): Promise<Torrent>;
  deleteTorrent(hex: string, opts: { deleteData: boolean }): Promise<void>;
}

function daemonOf(ctx: RouteContext, what: string): DaemonControls {
  const s = ctx.session as Partial<DaemonControls>;
  if (typeof s.recheckTorrent !== 'function' || typeof s.moveTorrent !== 'function' || typeof s.deleteTorrent !== 'function') {
    throw new ApiError(501, `${what} needs the daemon (peer start)`);
  }
  return s as DaemonControls;
}

function torrentDetail(t: Torrent): object {
  const m = t.metainfo;
  return {
    ...t.stats(),
    ...controlOf(t),
    magnet: magnetOf(m),
    pieceLength: m.info.pieceLength,
    private: m.info.private,
    files: userFiles(m.info).map((f) => ({ path: f.path.join('/'), length: f.length })), // no BEP 47 pad files
    trackers: trackersOf(m),
    sequential: t.sequential,
  };
}

/** Per-torrent settings that can change while it runs. Unknown fields are refused, so a typo is not silently ignored. */
async function changeTorrent(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, hex: string): Promise<void> {
  const t = torrentOf(ctx, hex);
  const body = await readJsonObject(req, MAX_JSON_BYTES);
  const known = new Set(['sequential', 'uploadLimit', 'downloadLimit', 'seedRatioLimit', 'seedTimeLimitS']);
  const unknown = Object.keys(body).filter((k) => !known.has(k));
  if (unknown.length) throw new ApiError(400, `unknown field ${JSON.stringify(unknown[0]!.slice(0, 50))}: a torrent can change ${[...known].map((k) => `"${k}"`).join(', ')}`);
  // Every field is checked before any is applied: a bad one changes nothing.
  const rate = (k: string): number | undefined => {
    const v = body[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError(400, `field "${k}" must be a whole number of bytes per second (0 = none)`);
    return v;
  };
  const seed = (k: string, integer: boolean): number | null | undefined => {
    const v = body[k];
    if (v === undefined || v === null) return v;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || (integer && !Number.isSafeInteger(v))) {
      throw new ApiError(400, `field "${k}" must be ${integer ? 'a whole number' : 'a number'} >= 0 (0 = none), or null for the daemon's default`);
    }
    return v;
  };
  if (body.sequential !== undefined && typeof body.sequential !== 'boolean') throw new ApiError(400, 'field "sequential" must be true or false');
  const up = rate('uploadLimit');
  const down = rate('downloadLimit');
  const ratio = seed('seedRatioLimit', false);
  const timeS = seed('seedTimeLimitS', true);
  if (typeof body.sequential === 'boolean') t.setSequential(body.sequential);
  t.setRateLimits({ ...(up !== undefined ? { uploadBytesPerS: up } : {}), ...(down !== undefined ? { downloadBytesPerS: down } : {}) });
  if (ratio !== undefined) t.seedLimits.ratio = ratio ?? undefined;
  if (timeS !== undefined) t.seedLimits.timeS = timeS ?? undefined;
  sendJson(res, 200, torrentDetail(t));
}

async function addTorrent(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const type = mediaType(req);
  if (type === 'application/json') {
    // A .torrent in JSON (base64) is larger than other JSON bodies: up to the .torrent cap.
    const body = await readJsonObject(req, MAX_SEED_JSON_BYTES);
    if (body.torrent !== undefined || body.dataPath !== undefined) return addSeedInPlace(ctx, res, body);
    if (body.magnet === undefined) throw new ApiError(400, 'missing field "magnet" (or send a .torrent as multipart/form-data or application/x-bittorrent)');
    if (typeof body.magnet !== 'string' || !isMagnet(body.magnet)) throw new ApiError(400, 'field "magnet" must be a magnet link (magnet:?xt=urn:btih:...)');
    return addMagnet(ctx, res, parseMagnet(body.magnet), body.magnet);
  }
  let bytes: Buffer;
  if (type === 'multipart/form-data') {
    const f = await receiveFile(req, { maxBytes: MAX_TORRENT_FILE_BYTES, sink: { kind: 'memory' } });
    bytes = f.bytes!;
  } else if (type === 'application/x-bittorrent' || type === 'application/octet-stream') {
    bytes = await readBody(req, MAX_TORRENT_FILE_BYTES);
  } else {
    throw new ApiError(415, 'send a .torrent as multipart/form-data or application/x-bittorrent, or JSON {"magnet": "..."}');
  }
  if (bytes.length === 0) throw new ApiError(400, 'the .torrent is empty');
  const meta = parseTorrent(bytes);
  if (ctx.session.torrent(meta.infoHashHex) || ctx.fetching.has(meta.infoHashHex)) throw new ApiError(409, `torrent ${meta.infoHashHex} is already in this session`);
  const contentPath = join(ctx.opts.downloadsDir, meta.info.name);
  await makeDir(ctx.opts.downloadsDir);
  const torrent = await ctx.session.addTorrent(meta, { contentPath, mode: 'leech' });
  await notifyAdded(ctx, { via: 'torrent', torrent, meta, torrentBytes: bytes, contentPath, mode: 'leech' });
  sendJson(res, 201, { infoHash: meta.infoHashHex, name: meta.info.name, magnet: magnetOf(meta) });
}

/** A JSON body holding a .torrent in base64 (4/3 of its size) and a path. */
const MAX_SEED_JSON_BYTES = Math.ceil((MAX_TORRENT_FILE_BYTES * 4) / 3) + MAX_JSON_BYTES;

/**
 * `POST /api/torrents` with JSON {"torrent": "<.torrent in base64>", "dataPath": "/abs/path"}:
 * seeds content already on this machine where it lies, no copy (`peer share`).
 * The path is the content itself as given to make-torrent (the file, or the
 * folder of a multi-file torrent), absolute, outside the private folders
 * (the state folder); every piece must match, or nothing is added (400).
 * Like every route, it is reachable only on loopback or with the token.
 * The daemon records it like any torrent, so it is seeded again after a restart.
 */
async function addSeedInPlace(ctx: RouteContext, res: http.ServerResponse, body: Record<string, unknown>): Promise<void> {
  const unknown = Object.keys(body).filter((k) => k !== 'torrent' && k !== 'dataPath');
  if (unknown.length) throw new ApiError(400, `unknown field ${JSON.stringify(unknown[0]!.slice(0, 50))}: send {"torrent": "<base64>", "dataPath": "/absolute/path"}`);
  if (typeof body.torrent !== 'string' || body.torrent === '') throw new ApiError(400, 'field "torrent" must be the .torrent file in base64');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body.torrent)) throw new ApiError(400, 'field "torrent" is not base64');
  const dataPath = body.dataPath;
  if (typeof dataPath !== 'string' || dataPath === '' || dataPath.includes('\0')) throw new ApiError(400, 'field "dataPath" must be the content to seed: an absolute path');
  if (!isAbsolute(dataPath)) throw new ApiError(400, `field "dataPath" must be an absolute path, got ${JSON.stringify(dataPath.slice(0, 200))}`);
  const contentPath = resolvePath(dataPath);
  for (const dir of ctx.opts.privateDirs ?? []) {
    const d = resolvePath(dir);
    if (contentPath === d || contentPath.startsWith(d + sep) || d.startsWith(contentPath + sep)) throw new ApiError(400, `${contentPath} is, holds or lies in a folder this daemon keeps private`);
  }
  const bytes = Buffer.from(body.torrent, 'base64');
  if (bytes.length === 0) throw new ApiError(400, 'the .torrent is empty');
  let meta: ReturnType<typeof parseTorrent>;
  try {
    meta = parseTorrent(bytes);
  } catch (err) {
    throw new ApiError(400, `field "torrent": ${errorMessage(err)}`);
  }
  const info = await lstat(contentPath).catch(() => undefined);
  if (!info) throw new ApiError(400, `${contentPath} does not exist`);
  if (info.isSymbolicLink()) throw new ApiError(400, `${contentPath} is a symlink: give the path it points to`);
  if (meta.info.multiFile ? !info.isDirectory() : !info.isFile()) throw new ApiError(400, `${contentPath} is not a ${meta.info.multiFile ? 'folder' : 'file'}, but ${meta.info.name} is a ${meta.info.multiFile ? 'multi-file torrent (give its folder)' : 'single-file torrent (give the file)'}`);
  if (ctx.session.torrent(meta.infoHashHex) || ctx.fetching.has(meta.infoHashHex)) throw new ApiError(409, `torrent ${meta.infoHashHex} is already in this session`);
  let torrent: Torrent;
  try {
    torrent = await ctx.session.addTorrent(meta, { contentPath, mode: 'seed', signal: ctx.signal });
  } catch (err) {
    throw new ApiError(400, `cannot seed ${meta.info.name} from ${contentPath}: ${errorMessage(err)}`);
  }
  const { have, pieces } = torrent.stats();
  if (have !== pieces) {
    await ctx.session.removeTorrent(meta.infoHashHex);
    throw new ApiError(400, `the data at ${contentPath} does not match ${meta.info.name}: ${have} of ${pieces} pieces verified`);
  }
  await notifyAdded(ctx, { via: 'torrent', torrent, meta, torrentBytes: bytes, contentPath, mode: 'seed' });
  sendJson(res, 201, { infoHash: meta.infoHashHex, name: meta.info.name, magnet: magnetOf(meta), path: contentPath, mode: 'seed' });
}

/** Answers at once (202): the metadata may take long to arrive (BEP 9), or never. */
function addMagnet(ctx: RouteContext, res: http.ServerResponse, magnet: MagnetLink, text: string): void {
  const hex = magnet.infoHashHex;
  if (ctx.session.torrent(hex) || ctx.fetching.has(hex)) throw new ApiError(409, `torrent ${hex} is already in this session`);
  ctx.fetching.set(hex, { ...(magnet.name !== undefined ? { name: magnet.name } : {}), since: Date.now() });
  const outDir = ctx.opts.downloadsDir;
  void (async () => {
    try {
      await makeDir(outDir);
      const torrent = await ctx.session.addMagnet(magnet, { outDir, signal: ctx.signal });
      await notifyAdded(ctx, { via: 'magnet', torrent, meta: torrent.metainfo, contentPath: join(outDir, torrent.metainfo.info.name), mode: 'leech' });
    } catch (err) {
      if (!ctx.signal.aborted) ctx.log.warn(`magnet ${hex}: ${errorMessage(err)}`);
    } finally {
      ctx.fetching.delete(hex);
    }
  })();
  sendJson(res, 202, { infoHash: hex, name: magnet.name ?? null, magnet: text, status: 'fetching metadata' });
}

async function removeTorrent(ctx: RouteContext, res: http.ServerResponse, hex: string, query: URLSearchParams): Promise<void> {
  const t = torrentOf(ctx, hex);
  const flag = query.get('deleteData');
  if (flag !== null && !['0', '1', 'true', 'false'].includes(flag)) throw new ApiError(400, 'deleteData must be 1 or 0');
  const deleteData = flag === '1' || flag === 'true';
  if (deleteData) await daemonOf(ctx, 'deleting data').deleteTorrent(t.infoHashHex, { deleteData: true });
  else await ctx.session.removeTorrent(t.infoHashHex);
  ctx.contentPaths.delete(t.infoHashHex);
  sendJson(res, 200, { infoHash: t.infoHashHex, removed: true, ...(deleteData ? { deletedData: true } : {}) });
}

/** Answers once every piece was read and hashed again: the torrent as it is now. */
async function recheck(ctx: RouteContext, res: http.ServerResponse, hex: string): Promise<void> {
  const t = torrentOf(ctx, hex);
  const nt = await daemonOf(ctx, 'recheck').recheckTorrent(t.infoHashHex);
  sendJson(res, 200, torrentDetail(nt));
}

async function move(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, hex: string): Promise<void> {
  const t = torrentOf(ctx, hex);
  const body = await readJsonObject(req, MAX_JSON_BYTES);
  const unknown = Object.keys(body).filter((k) => k !== 'to');
  if (unknown.length) throw new ApiError(400, `unknown field ${JSON.stringify(unknown[0]!.slice(0, 50))}: send {"to": "/absolute/folder"}`);
  if (typeof body.to !== 'string' || body.to === '' || body.to.includes('\0')) throw new ApiError(400, 'field "to" must be a folder (an absolute path)');
  const nt = await daemonOf(ctx, 'move').moveTorrent(t.infoHashHex, body.to);
  ctx.contentPaths.delete(t.infoHashHex);
  sendJson(res, 200, torrentDetail(nt));
}

function pauseResume(ctx: RouteContext, res: http.ServerResponse, hex: string, what: 'pause' | 'resume'): void {
  const t = torrentOf(ctx, hex);
  if (what === 'pause') t.pause();
  else t.resume();
  sendJson(res, 200, t.stats());
}
