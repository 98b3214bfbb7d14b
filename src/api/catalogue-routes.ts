/**
 * The catalogue of files by name (`peer share` / `find` / `fetch`) through
 * the daemon's DHT node:
 * - `GET /api/catalogue?namespace=files[&pattern=P]` ->
 *   {"namespace","files":[{"name","length","files","magnet","infoHash","added"}],"skipped":[{"name","reason"}]}
 * - `GET /api/catalogue/:name?namespace=files` -> {"namespace","file":{...}} or 404.
 * Names are published by `peer share` with `PUT /api/kv/:name?namespace=files`.
 */
import { anySignal } from '../util/abort.js';
import type http from 'node:http';
import { SwarmError, errorMessage } from '../errors.js';
import { DEFAULT_CATALOGUE_NAMESPACE, catalogueNameProblem, entryJson, listCatalogue, resolveName, type CatalogueKv } from '../session/catalogue.js';
import { ApiError, sendJson } from './http.js';
import type { Route, RouteContext } from './routes.js';

export function catalogueRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: /^\/api\/catalogue\/?$/, methods: { GET: (_q, res, _p, query) => list(ctx, res, query) } },
    { pattern: /^\/api\/catalogue\/([^/]+)$/, methods: { GET: (_q, res, [n], query) => one(ctx, res, n!, query) } },
  ];
}

function kvOf(ctx: RouteContext): CatalogueKv {
  const kv = ctx.session.kv as CatalogueKv | undefined;
  if (!kv) throw new ApiError(503, 'the catalogue lives on the DHT, which this daemon does not run');
  return kv;
}

function namespaceOf(query: URLSearchParams): string {
  const ns = query.get('namespace') ?? DEFAULT_CATALOGUE_NAMESPACE;
  if (ns === '') throw new ApiError(400, 'empty namespace');
  if (ns.length > 1024) throw new ApiError(400, 'the namespace is over 1024 characters');
  return ns;
}

async function list(ctx: RouteContext, res: http.ServerResponse, query: URLSearchParams): Promise<void> {
  const kv = kvOf(ctx);
  if (typeof kv.list !== 'function') throw new ApiError(501, 'this daemon cannot list a namespace yet');
  const namespace = namespaceOf(query);
  const pattern = query.get('pattern') ?? undefined;
  if (pattern !== undefined && pattern.length > 256) throw new ApiError(400, 'the pattern is over 256 characters');
  const signal = anySignal([ctx.signal], 60_000);
  let listing: Awaited<ReturnType<typeof listCatalogue>>;
  try {
    listing = await listCatalogue(kv, { namespace, ...(pattern ? { pattern } : {}), signal });
  } catch (err) {
    // KvStore.list: EKV when no DHT node answered the index lookup.
    if (err instanceof SwarmError && err.code === 'EKV') throw new ApiError(503, `${errorMessage(err)} (start the daemon with --bootstrap HOST:PORT, or on a LAN with local service discovery)`);
    throw err;
  }
  sendJson(res, 200, { namespace, files: listing.files.map(entryJson), skipped: listing.skipped });
}

async function one(ctx: RouteContext, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
  const kv = kvOf(ctx);
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new ApiError(400, 'bad percent-encoding in the name');
  }
  const problem = catalogueNameProblem(name);
  if (problem) throw new ApiError(400, problem);
  const namespace = namespaceOf(query);
  const r = await resolveName(kv, name, { namespace, signal: anySignal([ctx.signal], 30_000) });
  if (r.kind === 'unreachable') throw new ApiError(503, 'no DHT node answered: this daemon knows no other DHT node (start it with --bootstrap HOST:PORT, or on a LAN with local service discovery)');
  if (r.kind === 'deleted') throw new ApiError(404, `${JSON.stringify(name)} was deleted from namespace ${JSON.stringify(namespace)}`);
  if (r.kind === 'missing') throw new ApiError(404, `no file named ${JSON.stringify(name)} in namespace ${JSON.stringify(namespace)}`);
  if (r.kind === 'invalid') throw new ApiError(422, `the value of ${JSON.stringify(name)} in namespace ${JSON.stringify(namespace)} is ${r.reason}`);
  sendJson(res, 200, { namespace, file: entryJson(r.entry) });
}
