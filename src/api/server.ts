/**
 * The daemon's HTTP API, dashboard and metrics (DESIGN.md, "What the daemon
 * serves"), on node:http without a framework. The session is a
 * collaborator: the server drives it and renders its state, and never owns
 * it (stop() leaves the session running).
 *
 * Routing works on the raw request path, not a parsed URL: WHATWG URL
 * parsing resolves `..` and `%2e%2e` segments, which would hide a traversal
 * attempt on /download instead of refusing it.
 */
import http from 'node:http';
import { SwarmError, UsageError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { MAX_MESSAGE_BYTES } from '../session/extensions.js';
import { RefusalLog } from '../tracker/refusal-log.js';
import { listenError } from '../util/listen-errors.js';
import { hostOfHeader, isLoopbackHost, requestToken, tokenMatches } from './auth.js';
import { dashboardRoutes } from './dashboard-routes.js';
import { DEFAULT_MAX_UPLOAD_BYTES, fileRoutes } from './file-routes.js';
import { ApiError, sendJson, sendText } from './http.js';
import { kvRoutes } from './kv-routes.js';
import { catalogueRoutes } from './catalogue-routes.js';
import { MetricsCollector, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import type { ApiServerOptions, Route, RouteContext } from './routes.js';
import { sessionRoutes } from './session-routes.js';
import { selectionRoutes } from './selection-routes.js';
import { torrentInfoRoutes } from './torrent-info-routes.js';
import { torrentRoutes } from './torrent-routes.js';

export type { ApiAddedTorrent, ApiServerOptions } from './routes.js';
export { DEFAULT_MAX_UPLOAD_BYTES };
/** Peer messages are short notes (BEP 10 extension message): at most this many UTF-8 bytes. */
export { MAX_MESSAGE_BYTES };

export class ApiServer {
  readonly #opts: ApiServerOptions;
  readonly #host: string;
  readonly #log: Logger;
  readonly #metrics: MetricsCollector;
  readonly #routes: Route[];
  readonly #shutdown = new AbortController();
  /** Refused requests: the first of each kind a minute at warn, the rest counted (a scan makes two lines). */
  readonly #refusals: RefusalLog;
  #server: http.Server | undefined;
  #port = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.#host = opts.host ?? '127.0.0.1';
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError(`ApiServer: port out of range: ${opts.port}`);
    if (opts.token !== undefined && !/^[\x21-\x7e]{8,256}$/.test(opts.token)) throw new UsageError('the API token must be 8 to 256 printable characters without spaces');
    if (!isLoopbackHost(this.#host) && !opts.token) {
      throw new UsageError(`the API on ${this.#host} (not a loopback address) needs a token: give --api-token, or let the daemon generate one`);
    }
    this.#log = opts.logger ?? getLogger('api');
    this.#refusals = new RefusalLog(this.#log);
    this.#metrics = new MetricsCollector(opts.session);
    const ctx: RouteContext = { session: opts.session, opts, log: this.#log, signal: this.#shutdown.signal, fetching: new Map(), contentPaths: new Map() };
    this.#routes = [
      ...dashboardRoutes(),
      ...sessionRoutes(ctx),
      ...torrentRoutes(ctx),
      ...selectionRoutes(ctx),
      ...torrentInfoRoutes(ctx),
      ...kvRoutes(ctx),
      ...catalogueRoutes(ctx),
      ...fileRoutes(ctx),
      { pattern: /^\/metrics$/, methods: { GET: (_q, res) => sendText(res, 200, PROMETHEUS_CONTENT_TYPE, this.#metrics.render(), { 'Cache-Control': 'no-store' }) } },
    ];
  }

  get port(): number {
    return this.#port;
  }

  /** The server's base address, `http://host:port/` (a wildcard bind is named by loopback). */
  get url(): string {
    const h = this.#host === '0.0.0.0' ? '127.0.0.1' : this.#host === '::' ? '[::1]' : this.#host.includes(':') ? `[${this.#host}]` : this.#host;
    return `http://${h}:${this.#port}/`;
  }

  /** The dashboard's address, with `?token=` when there is a token (the page passes it on to the API). */
  get dashboardUrl(): string {
    return `${this.url}${this.#opts.token ? `?token=${encodeURIComponent(this.#opts.token)}` : ''}`;
  }

  /** Listens. Idempotent; a failed start leaves nothing open. */
  start(): Promise<void> {
    if (this.#stopping) return Promise.reject(new Error('ApiServer: start() after stop()'));
    this.#starting ??= this.#listen();
    return this.#starting;
  }

  async #listen(): Promise<void> {
    this.#metrics.attach();
    const server = http.createServer((req, res) => void this.#handle(req, res));
    // Slow headers are cut short; a large upload on a slow LAN may take a while.
    server.headersTimeout = 30_000;
    server.requestTimeout = 30 * 60_000;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.#host, port: this.#opts.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#metrics.detach();
      throw listenError(err, { what: `API port ${this.#opts.port} on ${this.#host}`, fix: 'choose another with --api PORT', host: `the API host ${this.#host}` });
    }
    server.on('error', (err) => this.#log.error(`API server: ${errorMessage(err)}`));
    this.#server = server;
    const addr = server.address();
    this.#port = typeof addr === 'object' && addr ? addr.port : this.#opts.port;
  }

  /** Closes the listener and every connection; pending magnet fetches are abandoned. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      this.#shutdown.abort();
      this.#metrics.detach();
      this.#refusals.close();
      const server = this.#server;
      if (!server) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    })();
    return this.#stopping;
  }

  // --- dispatch -----------------------------------------------------------------

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const rawPath = q < 0 ? rawUrl : rawUrl.slice(0, q);
    const query = new URLSearchParams(q < 0 ? '' : rawUrl.slice(q + 1));
    const method = req.method ?? 'GET';
    try {
      const route = this.#routes.find((r) => r.pattern.test(rawPath));
      if (!route) throw new ApiError(404, `no route ${rawPath.slice(0, 200)}`);
      this.#checkAccess(req, query, route.public === true, method);
      const handler = route.methods[method] ?? (method === 'HEAD' ? route.methods.GET : undefined);
      if (!handler) {
        res.setHeader('Allow', Object.keys(route.methods).join(', '));
        throw new ApiError(405, `${method} is not allowed on ${rawPath.slice(0, 200)}; use ${Object.keys(route.methods).join(' or ')}`);
      }
      const params = route.pattern.exec(rawPath)!.slice(1);
      await handler(req, res, params, query);
    } catch (err) {
      this.#fail(req, res, rawPath, err);
    }
  }

  #fail(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string, err: unknown): void {
    let status: number;
    let message = errorMessage(err);
    if (err instanceof ApiError) status = err.status;
    else if (err instanceof SwarmError) status = err.exitCode === 2 ? 400 : 500;
    else {
      status = 500;
      message = 'internal error';
    }
    const line = `${req.method} ${rawPath.slice(0, 200)} -> ${status}: ${errorMessage(err)}`;
    if (status >= 500) this.#log.error(line);
    else {
      // The kind of refusal: the route (`/download`, `/api/torrents`), never the rest of a path a client chose.
      const route = /^\/(api\/[a-z]+|[a-z]*)/.exec(rawPath)?.[0] ?? '/';
      this.#refusals.refused(`API: ${req.method} ${route.slice(0, 40)} refused (${status})`, req.socket.remoteAddress ?? '', `refused ${line}`);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="swarm-peer"');
    // Unread request bodies (a refused upload) are drained, so the client can read this answer.
    if (!req.complete) req.resume();
    sendJson(res, status, { error: message });
  }

  /**
   * The token, when there is one; and, for browsers, same-origin writes
   * (a page elsewhere can post a form to 127.0.0.1) and a loopback Host
   * when no token guards the API (DNS rebinding).
   */
  #checkAccess(req: http.IncomingMessage, query: URLSearchParams, isPublic: boolean, method: string): void {
    const hostHeader = req.headers.host;
    const token = this.#opts.token;
    if (!token && hostHeader !== undefined) {
      const h = hostOfHeader(hostHeader);
      if (!isLoopbackHost(h) && h !== this.#host.toLowerCase()) throw new ApiError(403, `requests must name this machine in Host (got ${JSON.stringify(h.slice(0, 100))})`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && method !== 'GET' && method !== 'HEAD') {
      let originHost: string;
      try {
        originHost = new URL(origin).host.toLowerCase();
      } catch {
        originHost = '';
      }
      if (originHost !== (hostHeader ?? '').toLowerCase()) throw new ApiError(403, `cross-origin ${method} from ${origin.slice(0, 100)} refused`);
    }
    if (!token || isPublic) return;
    const given = requestToken(req.headers, query);
    if (given === undefined) throw new ApiError(401, 'this API needs a token: send "Authorization: Bearer <token>" or add ?token=<token>');
    if (!tokenMatches(given, token)) throw new ApiError(401, 'wrong token');
  }
}
