/**
 * What concerns the whole session: `/api/session` (a summary), `/api/limits`
 * (global rate limits), `/api/messages` (peer notes, BEP 10 extension
 * message) and `/api/dht` (the node's figures).
 */
import type http from 'node:http';
import { SwarmError } from '../errors.js';
import { MAX_MESSAGE_BYTES } from '../session/extensions.js';
import { ApiError, readJsonObject, sendJson } from './http.js';
import { MAX_JSON_BYTES, type Route, type RouteContext } from './routes.js';
import { sessionTotals } from './session-totals.js';

export function sessionRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: /^\/api\/session$/, methods: { GET: (_q, res) => sendJson(res, 200, sessionSummary(ctx)) } },
    { pattern: /^\/api\/dht$/, methods: { GET: (_q, res) => sendJson(res, 200, dhtSummary(ctx)) } },
    { pattern: /^\/api\/messages$/, methods: { GET: (_q, res) => sendJson(res, 200, { messages: ctx.session.messages ?? [] }), POST: (req, res) => sendMessage(ctx, req, res) } },
    { pattern: /^\/api\/limits$/, methods: { GET: (_q, res) => sendJson(res, 200, limits(ctx)), PUT: (req, res) => setLimits(ctx, req, res) } },
  ];
}

/**
 * The IPv4 node's figures at the top level (as before), and each family's
 * node in `families` (BEP 32: an IPv6 node runs beside it on `::`).
 */
function dhtSummary(ctx: RouteContext): object {
  const { dht, dht6 } = ctx.session;
  if (!dht) return { enabled: false };
  const families = [{ family: 'IPv4', ...dht.stats() }, ...(dht6 ? [{ family: 'IPv6', ...dht6.stats() }] : [])];
  return { enabled: true, ...dht.stats(), families };
}

function sessionSummary(ctx: RouteContext): object {
  const session = ctx.session;
  const { peers, downloaded, uploaded, downloadRate, uploadRate } = sessionTotals(session.torrents);
  return {
    peerId: Buffer.from(session.peerId).toString('hex'),
    port: session.port,
    torrents: session.torrents.length,
    peers,
    downloaded,
    uploaded,
    downloadRate,
    uploadRate,
    limits: limits(ctx),
    dht: session.dht !== undefined,
    tracker: session.tracker ? session.tracker.announceUrl : null,
    messaging: typeof session.sendMessage === 'function',
  };
}

async function sendMessage(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readJsonObject(req, MAX_JSON_BYTES);
  const { to, text } = body;
  if (to === undefined) throw new ApiError(400, 'missing field "to" (a connected peer\'s host:port, or "all")');
  if (typeof to !== 'string' || (to !== 'all' && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(to))) {
    throw new ApiError(400, 'field "to" must be a connected peer\'s host:port, or "all"');
  }
  if (text === undefined) throw new ApiError(400, 'missing field "text"');
  if (typeof text !== 'string' || text.length === 0) throw new ApiError(400, 'field "text" must be a non-empty string');
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_MESSAGE_BYTES) throw new ApiError(400, `field "text" is ${bytes} bytes; a message holds at most ${MAX_MESSAGE_BYTES}`);
  if (typeof ctx.session.sendMessage !== 'function') throw new ApiError(503, 'this daemon cannot send peer messages yet');
  let sent: number;
  try {
    sent = ctx.session.sendMessage(to, text);
  } catch (err) {
    if (err instanceof SwarmError) {
      const limited = /rate|too many|slow down/i.test(err.message);
      throw new ApiError(limited ? 429 : err.exitCode === 2 ? 400 : 500, err.message);
    }
    throw err;
  }
  if (sent === 0 && to !== 'all') throw new ApiError(404, `no connected peer at ${to} took the message (not connected, no message support, or over its rate limit)`);
  sendJson(res, 200, { to, sent });
}

function limits(ctx: RouteContext): { uploadBytesPerS: number; downloadBytesPerS: number } {
  return { uploadBytesPerS: ctx.session.limits.upload.rate, downloadBytesPerS: ctx.session.limits.download.rate };
}

async function setLimits(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  const body = await readJsonObject(req, MAX_JSON_BYTES);
  const out: { uploadBytesPerS?: number; downloadBytesPerS?: number } = {};
  for (const k of ['uploadBytesPerS', 'downloadBytesPerS'] as const) {
    const v = body[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError(400, `field "${k}" must be a non-negative integer (bytes per second, 0 = unlimited)`);
    out[k] = v;
  }
  if (out.uploadBytesPerS === undefined && out.downloadBytesPerS === undefined) throw new ApiError(400, 'give "uploadBytesPerS" and/or "downloadBytesPerS"');
  ctx.session.setRateLimits(out);
  sendJson(res, 200, limits(ctx));
}
