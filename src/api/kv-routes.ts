/** `GET/PUT /api/kv/:key`: the DHT key-value layer (BEP 44) through the daemon's node. */
import type http from 'node:http';
import { ApiError, mediaType, readBody, readJsonObject, sendJson } from './http.js';
import { MAX_JSON_BYTES, type Route, type RouteContext } from './routes.js';
import type { KvLike } from './session-like.js';

/** BEP 44: a salt (our key) is at most 64 bytes; a value at most 1000 bytes bencoded. */
const MAX_KV_KEY_BYTES = 64;
const MAX_KV_VALUE_BYTES = 1000;

export function kvRoutes(ctx: RouteContext): Route[] {
  return [{ pattern: /^\/api\/kv\/([^/]*)$/, methods: { GET: (_q, res, [k], query) => kvGet(ctx, res, k!, query), PUT: (req, res, [k], query) => kvPut(ctx, req, res, k!, query) } }];
}

function kvKey(ctx: RouteContext, raw: string, query: URLSearchParams): { kv: KvLike; key: string; opts: { namespace?: string } } {
  const kv = ctx.session.kv;
  if (!kv) throw new ApiError(503, 'the key-value store needs the DHT, which this daemon does not run');
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'bad percent-encoding in the key');
  }
  if (key === '') throw new ApiError(400, 'missing key: /api/kv/<key>');
  if (Buffer.byteLength(key) > MAX_KV_KEY_BYTES) throw new ApiError(400, `the key is over ${MAX_KV_KEY_BYTES} bytes (a BEP 44 salt)`);
  const namespace = query.get('namespace');
  if (namespace === '') throw new ApiError(400, 'empty namespace');
  return { kv, key, opts: namespace !== null ? { namespace } : {} };
}

async function kvGet(ctx: RouteContext, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const { kv, key, opts } = kvKey(ctx, raw, query);
  const found = await kv.get(key, opts);
  if (found === undefined || found === null) throw new ApiError(404, `no value found for ${JSON.stringify(key)}`);
  sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: found });
}

async function kvPut(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const { kv, key, opts } = kvKey(ctx, raw, query);
  let value: string;
  if (mediaType(req) === 'application/json') {
    const body = await readJsonObject(req, MAX_JSON_BYTES);
    if (body.value === undefined) throw new ApiError(400, 'missing field "value"');
    if (typeof body.value !== 'string') throw new ApiError(400, 'field "value" must be a string');
    value = body.value;
  } else {
    value = (await readBody(req, MAX_KV_VALUE_BYTES)).toString('utf8');
  }
  if (Buffer.byteLength(value) > MAX_KV_VALUE_BYTES - 8) throw new ApiError(400, `the value is too long: a BEP 44 value is at most ${MAX_KV_VALUE_BYTES} bytes bencoded`);
  const result = await kv.put(key, value, opts);
  sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: result ?? null });
}
