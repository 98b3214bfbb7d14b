/**
 * The DHT key-value layer (BEP 44) through the daemon's node:
 *   GET    /api/kv?namespace=NS        -> {"namespace","keys":[...]}   (no namespace: the daemon's own identity)
 *   GET    /api/kv/:key?namespace=NS   -> 200 {"key","namespace","status":"found","result":{"target","value","seq","publicKey"}}
 *                                         404 {"error","status":"not-found"|"deleted"}, 503 {"error","status":"unreachable"}
 *   PUT    /api/kv/:key?namespace=NS   body: the value (text), or JSON {"value","cas"}
 *                                      -> {"key","namespace","result":{"target","publicKey","seq","stored","republished","indexed"}}
 *                                         409 {"error","code":"ECAS"} when the stored seq is not `cas`
 *   DELETE /api/kv/:key?namespace=NS   -> {"key","namespace","result":{...}} (a tombstone at a higher seq)
 * Puts and deletes are republished while the daemon runs and after a
 * restart (its list in --state). Values up to 64 KiB.
 */
import { anySignal } from '../util/abort.js';
import type http from 'node:http';
import { KvError, SwarmError } from '../errors.js';
import { ApiError, mediaType, readBody, readJsonObject, sendJson } from './http.js';
import type { Route, RouteContext } from './routes.js';
import type { KvLike } from './session-like.js';

/** BEP 44: a salt (our key) is at most 64 bytes; a value at most 64 KiB (chunked: src/dht/kv-codec.ts). */
const MAX_KV_KEY_BYTES = 64;
const MAX_KV_VALUE_BYTES = 64 * 1024;
/** A JSON body holds the value escaped: up to 6 bytes (\uXXXX) per byte, plus the other fields. */
const MAX_KV_JSON_BYTES = MAX_KV_VALUE_BYTES * 6 + 1024;
/** A KV operation runs lookups: bounded, and cancelled with the server. */
const KV_TIMEOUT_MS = 60_000;

export function kvRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: /^\/api\/kv$/, methods: { GET: (_q, res, _m, query) => kvList(ctx, res, query) } },
    {
      pattern: /^\/api\/kv\/([^/]*)$/,
      methods: {
        GET: (_q, res, [k], query) => kvGet(ctx, res, k!, query),
        PUT: (req, res, [k], query) => kvPut(ctx, req, res, k!, query),
        DELETE: (_q, res, [k], query) => kvDel(ctx, res, k!, query),
      },
    },
  ];
}

function kvOf(ctx: RouteContext): KvLike {
  const kv = ctx.session.kv;
  if (!kv) throw new ApiError(503, 'the key-value store needs the DHT, which this daemon does not run');
  return kv;
}

function namespaceOf(query: URLSearchParams): { namespace?: string } {
  const namespace = query.get('namespace');
  if (namespace === '') throw new ApiError(400, 'empty namespace');
  return namespace !== null ? { namespace } : {};
}

function kvKey(ctx: RouteContext, raw: string, query: URLSearchParams): { kv: KvLike; key: string; opts: { namespace?: string } } {
  const kv = kvOf(ctx);
  let key: string;
  try {
    key = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'bad percent-encoding in the key');
  }
  if (key === '') throw new ApiError(400, 'missing key: /api/kv/<key>');
  if (Buffer.byteLength(key) > MAX_KV_KEY_BYTES) throw new ApiError(400, `the key is over ${MAX_KV_KEY_BYTES} bytes (a BEP 44 salt)`);
  return { kv, key, opts: namespaceOf(query) };
}

function signal(ctx: RouteContext): AbortSignal {
  return anySignal([ctx.signal], KV_TIMEOUT_MS);
}

/** KvError as HTTP: a cas mismatch is a conflict (409), a malformed stored value a bad gateway (502), no node answering 503. */
async function kvCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof KvError) throw new ApiError(err.code === 'ECAS' ? 409 : err.code === 'EKVBAD' ? 502 : 503, err.message);
    if (err instanceof SwarmError && !(err instanceof ApiError) && err.exitCode === 2) throw new ApiError(400, err.message);
    throw err;
  }
}

async function kvGet(ctx: RouteContext, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const { kv, key, opts } = kvKey(ctx, raw, query);
  const ns = opts.namespace !== undefined ? { namespace: opts.namespace } : {};
  if (!kv.lookup) {
    const found = await kvCall(() => kv.get(key, opts));
    if (found === undefined || found === null) throw new ApiError(404, `no value found for ${JSON.stringify(key)}`);
    sendJson(res, 200, { key, ...ns, status: 'found', result: found });
    return;
  }
  const r = await kvCall(() => kv.lookup!(key, { ...opts, signal: signal(ctx) }));
  switch (r.status) {
    case 'found':
      sendJson(res, 200, { key, ...ns, status: 'found', result: { target: r.target, value: r.value, seq: r.seq, publicKey: r.publicKey } });
      return;
    case 'deleted':
      sendJson(res, 404, { error: `${JSON.stringify(key)} was deleted (seq ${r.seq})`, key, ...ns, status: 'deleted', seq: r.seq });
      return;
    case 'not-found':
      sendJson(res, 404, { error: `no value found for ${JSON.stringify(key)}`, key, ...ns, status: 'not-found' });
      return;
    case 'unreachable':
      sendJson(res, 503, { error: 'no DHT node answered: the daemon knows no reachable DHT node (give it --bootstrap, or start another peer on the LAN)', key, ...ns, status: 'unreachable' });
      return;
  }
}

async function kvPut(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const { kv, key, opts } = kvKey(ctx, raw, query);
  let value: string;
  let cas: number | undefined;
  if (mediaType(req) === 'application/json') {
    const body = await readJsonObject(req, MAX_KV_JSON_BYTES);
    if (body.value === undefined) throw new ApiError(400, 'missing field "value"');
    if (typeof body.value !== 'string') throw new ApiError(400, 'field "value" must be a string');
    if (body.cas !== undefined && body.cas !== null) {
      if (typeof body.cas !== 'number' || !Number.isSafeInteger(body.cas) || body.cas < 0) throw new ApiError(400, 'field "cas" must be a non-negative integer (the seq the value must have now)');
      cas = body.cas;
    }
    value = body.value;
  } else {
    value = (await readBody(req, MAX_KV_VALUE_BYTES)).toString('utf8');
  }
  if (Buffer.byteLength(value) > MAX_KV_VALUE_BYTES) throw new ApiError(400, `the value is too long: a KV value holds at most ${MAX_KV_VALUE_BYTES} bytes (64 KiB); share a file instead (POST /upload)`);
  const putOpts = { ...opts, ...(cas !== undefined ? { cas } : {}) };
  const result = await kvCall(() => kv.put(key, value, putOpts));
  sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: result ?? null });
}

async function kvDel(ctx: RouteContext, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const { kv, key, opts } = kvKey(ctx, raw, query);
  if (!kv.del) throw new ApiError(501, 'this key-value store cannot delete');
  const result = await kvCall(() => kv.del!(key, { ...opts, signal: signal(ctx) }));
  sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: result ?? null });
}

async function kvList(ctx: RouteContext, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
  const kv = kvOf(ctx);
  if (!kv.list) throw new ApiError(501, 'this key-value store cannot list keys');
  const opts = namespaceOf(query);
  const keys = await kvCall(() => kv.list!({ ...opts, signal: signal(ctx) }));
  sendJson(res, 200, { namespace: opts.namespace ?? null, keys });
}
