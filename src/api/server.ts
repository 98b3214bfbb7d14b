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
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { SwarmError, UsageError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { parseTorrent, MAX_TORRENT_FILE_BYTES } from '../metainfo/parse.js';
import { isMagnet, magnetOf, parseMagnet, trackersOf } from '../metainfo/magnet.js';
import { userFiles } from '../metainfo/layout.js';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import type { Torrent } from '../session/torrent.js';
import { hostOfHeader, isLoopbackHost, requestToken, tokenMatches } from './auth.js';
import { downloadComponents, pickDownload, resolveDownload, sendFile } from './download.js';
import { ApiError, baseHeaders, checkInfoHash, CONTENT_SECURITY_POLICY, mediaType, readBody, readJsonObject, sendJson, sendText } from './http.js';
import { MetricsCollector, PROMETHEUS_CONTENT_TYPE } from './metrics.js';
import { receiveFile } from './multipart.js';
import { placeUpload, torrentOfFile } from './seed-upload.js';
import type { SessionLike } from './session-like.js';
import { sessionTotals } from './session-totals.js';
import { MAX_MESSAGE_BYTES } from '../session/extensions.js';
import { RefusalLog } from '../tracker/refusal-log.js';
import { DASHBOARD_HTML } from './dashboard/page.js';
import { DASHBOARD_JS } from './dashboard/app.js';
import { DASHBOARD_CSS } from './dashboard/style.js';
import { listenError } from '../util/listen-errors.js';

/** Default cap on one `POST /upload` file. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;
/** Peer messages are short notes (BEP 10 extension message): at most this many UTF-8 bytes. */
export { MAX_MESSAGE_BYTES };
/** BEP 44: a salt (our key) is at most 64 bytes; a value at most 1000 bytes bencoded. */
const MAX_KV_KEY_BYTES = 64;
const MAX_KV_VALUE_BYTES = 1000;
/** JSON bodies of the API are small. */
const MAX_JSON_BYTES = 64 * 1024;

/** What the daemon may want to know of a torrent the API added (to persist it). */
export interface ApiAddedTorrent {
  via: 'upload' | 'torrent' | 'magnet';
  torrent: Torrent;
  meta: Metainfo;
  /** The .torrent bytes, when the API had them (upload, .torrent). */
  torrentBytes?: Uint8Array;
  contentPath: string;
  mode: 'seed' | 'leech';
}

export interface ApiServerOptions {
  session: SessionLike;
  /** Default 127.0.0.1. Any other address requires `token`. */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  /** Bearer token; required off loopback, enforced whenever given. */
  token?: string;
  /**
   * Where torrents added through the API are saved (`<downloadsDir>/<name>`),
   * and where /download looks for a torrent whose content path it was not told.
   */
  downloadsDir: string;
  /** Where `POST /upload` stores files: a folder of their own, never the working folder. */
  uploadsDir: string;
  /** Where the content of a torrent of the session lies, when its owner knows (see GET /download). */
  contentPathOf?: (infoHashHex: string) => string | undefined;
  /** Folders never served, whatever a torrent or a symlink points at (the state folder). */
  privateDirs?: string[];
  /** Cap on one uploaded file (default 1 GiB). */
  maxUploadBytes?: number;
  /** Trackers put into torrents made of uploads (default: the embedded tracker, if any). */
  announce?: string[];
  logger?: Logger;
  /** Called after the API added a torrent (the daemon persists it). */
  onTorrentAdded?: (added: ApiAddedTorrent) => void | Promise<void>;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], query: URLSearchParams) => Promise<void> | void;

interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
  /** Served without the token: code and styles the page needs, nothing about the session. */
  public?: boolean;
}

export class ApiServer {
  readonly #opts: ApiServerOptions;
  readonly #session: SessionLike;
  readonly #host: string;
  readonly #log: Logger;
  readonly #metrics: MetricsCollector;
  readonly #routes: Route[];
  readonly #maxUploadBytes: number;
  readonly #fetching = new Map<string, { name?: string; since: number }>();
  /** Content paths of the torrents this API added (upload, .torrent, magnet). */
  readonly #contentPaths = new Map<string, string>();
  readonly #shutdown = new AbortController();
  /** Refused requests: the first of each kind a minute at warn, the rest counted (a scan makes two lines). */
  readonly #refusals: RefusalLog;
  #server: http.Server | undefined;
  #port = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  #chartJs: Promise<Buffer> | undefined;

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.#session = opts.session;
    this.#host = opts.host ?? '127.0.0.1';
    if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new RangeError(`ApiServer: port out of range: ${opts.port}`);
    if (opts.token !== undefined && !/^[\x21-\x7e]{8,256}$/.test(opts.token)) throw new UsageError('the API token must be 8 to 256 printable characters without spaces');
    if (!isLoopbackHost(this.#host) && !opts.token) {
      throw new UsageError(`the API on ${this.#host} (not a loopback address) needs a token: give --api-token, or let the daemon generate one`);
    }
    this.#log = opts.logger ?? getLogger('api');
    this.#refusals = new RefusalLog(this.#log);
    this.#maxUploadBytes = opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES;
    this.#metrics = new MetricsCollector(opts.session);
    this.#routes = this.#buildRoutes();
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

  #buildRoutes(): Route[] {
    const ih = '([^/]+)';
    return [
      { pattern: /^\/$/, methods: { GET: (_q, res) => this.#dashboard(res) } },
      // Browsers ask for it on their own; no icon, and no 404 in their console.
      { pattern: /^\/favicon\.ico$/, public: true, methods: { GET: (_q, res) => void res.writeHead(204, baseHeaders()).end() } },
      { pattern: /^\/assets\/([a-z.]+)$/, public: true, methods: { GET: (_q, res, [name]) => this.#asset(res, name!) } },
      { pattern: /^\/api\/session$/, methods: { GET: (_q, res) => sendJson(res, 200, this.#sessionSummary()) } },
      { pattern: /^\/api\/torrents\/?$/, methods: { GET: (_q, res) => this.#listTorrents(res), POST: (req, res) => this.#addTorrent(req, res) } },
      {
        pattern: new RegExp(`^/api/torrents/${ih}$`),
        methods: { GET: (_q, res, [h]) => sendJson(res, 200, this.#torrentDetail(this.#torrentOf(h!))), DELETE: (_q, res, [h]) => this.#removeTorrent(res, h!) },
      },
      { pattern: new RegExp(`^/api/torrents/${ih}/pause$`), methods: { POST: (_q, res, [h]) => this.#pauseResume(res, h!, 'pause') } },
      { pattern: new RegExp(`^/api/torrents/${ih}/resume$`), methods: { POST: (_q, res, [h]) => this.#pauseResume(res, h!, 'resume') } },
      { pattern: new RegExp(`^/api/torrents/${ih}/peers$`), methods: { GET: (_q, res, [h]) => sendJson(res, 200, { peers: this.#torrentOf(h!).peers() }) } },
      { pattern: /^\/api\/dht$/, methods: { GET: (_q, res) => sendJson(res, 200, this.#session.dht ? { enabled: true, ...this.#session.dht.stats() } : { enabled: false }) } },
      { pattern: /^\/api\/kv\/([^/]*)$/, methods: { GET: (_q, res, [k], query) => this.#kvGet(res, k!, query), PUT: (req, res, [k], query) => this.#kvPut(req, res, k!, query) } },
      { pattern: /^\/api\/messages$/, methods: { GET: (_q, res) => sendJson(res, 200, { messages: this.#session.messages ?? [] }), POST: (req, res) => this.#sendMessage(req, res) } },
      { pattern: /^\/api\/limits$/, methods: { GET: (_q, res) => sendJson(res, 200, this.#limits()), PUT: (req, res) => this.#setLimits(req, res) } },
      { pattern: /^\/upload$/, methods: { POST: (req, res) => this.#upload(req, res) } },
      { pattern: /^\/download\/(.*)$/, methods: { GET: (req, res, [p]) => this.#download(req, res, p!) } },
      { pattern: /^\/metrics$/, methods: { GET: (_q, res) => sendText(res, 200, PROMETHEUS_CONTENT_TYPE, this.#metrics.render(), { 'Cache-Control': 'no-store' }) } },
    ];
  }

  // --- dashboard ----------------------------------------------------------------

  #dashboard(res: http.ServerResponse): void {
    sendText(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-store' });
  }

  async #asset(res: http.ServerResponse, name: string): Promise<void> {
    const headers = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-cache' };
    switch (name) {
      case 'app.js':
        return sendText(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS, headers);
      case 'style.css':
        return sendText(res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS, headers);
      case 'chart.js':
        return sendText(res, 200, 'text/javascript; charset=utf-8', await this.#chartJsBytes(), { ...headers, 'Cache-Control': 'max-age=3600' });
      default:
        throw new ApiError(404, `no asset ${name}`);
    }
  }

  /** chart.js's UMD build, from node_modules, found from this module (works from src/ and dist/). */
  #chartJsBytes(): Promise<Buffer> {
    this.#chartJs ??= (async () => {
      const main = createRequire(import.meta.url).resolve('chart.js');
      return readFile(join(dirname(main), 'chart.umd.min.js'));
    })();
    this.#chartJs.catch(() => (this.#chartJs = undefined));
    return this.#chartJs;
  }

  // --- torrents -----------------------------------------------------------------

  #torrentOf(hex: string): Torrent {
    const t = this.#session.torrent(checkInfoHash(hex));
    if (!t) throw new ApiError(404, `no torrent ${hex.toLowerCase()} in this session`);
    return t;
  }

  #sessionSummary(): object {
    const { peers, downloaded, uploaded, downloadRate, uploadRate } = sessionTotals(this.#session.torrents);
    return {
      peerId: Buffer.from(this.#session.peerId).toString('hex'),
      port: this.#session.port,
      torrents: this.#session.torrents.length,
      peers,
      downloaded,
      uploaded,
      downloadRate,
      uploadRate,
      limits: this.#limits(),
      dht: this.#session.dht !== undefined,
      tracker: this.#session.tracker ? this.#session.tracker.announceUrl : null,
      messaging: typeof this.#session.sendMessage === 'function',
    };
  }

  #listTorrents(res: http.ServerResponse): void {
    sendJson(res, 200, {
      torrents: this.#session.torrents.map((t) => t.stats()),
      fetching: [...this.#fetching].map(([infoHash, f]) => ({ infoHash, name: f.name ?? null, since: f.since })),
    });
  }

  #torrentDetail(t: Torrent): object {
    const m = t.metainfo;
    return {
      ...t.stats(),
      magnet: magnetOf(m),
      pieceLength: m.info.pieceLength,
      private: m.info.private,
      files: userFiles(m.info).map((f) => ({ path: f.path.join('/'), length: f.length })), // no BEP 47 pad files
      trackers: trackersOf(m),
    };
  }

  async #addTorrent(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const type = mediaType(req);
    if (type === 'application/json') {
      const body = await readJsonObject(req, MAX_JSON_BYTES);
      if (body.magnet === undefined) throw new ApiError(400, 'missing field "magnet" (or send a .torrent as multipart/form-data or application/x-bittorrent)');
      if (typeof body.magnet !== 'string' || !isMagnet(body.magnet)) throw new ApiError(400, 'field "magnet" must be a magnet link (magnet:?xt=urn:btih:...)');
      return this.#addMagnet(res, parseMagnet(body.magnet), body.magnet);
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
    if (this.#session.torrent(meta.infoHashHex) || this.#fetching.has(meta.infoHashHex)) throw new ApiError(409, `torrent ${meta.infoHashHex} is already in this session`);
    const contentPath = join(this.#opts.downloadsDir, meta.info.name);
    await mkdir(this.#opts.downloadsDir, { recursive: true });
    const torrent = await this.#session.addTorrent(meta, { contentPath, mode: 'leech' });
    await this.#notifyAdded({ via: 'torrent', torrent, meta, torrentBytes: bytes, contentPath, mode: 'leech' });
    sendJson(res, 201, { infoHash: meta.infoHashHex, name: meta.info.name, magnet: magnetOf(meta) });
  }

  /** Answers at once (202): the metadata may take long to arrive (BEP 9), or never. */
  #addMagnet(res: http.ServerResponse, magnet: MagnetLink, text: string): void {
    const hex = magnet.infoHashHex;
    if (this.#session.torrent(hex) || this.#fetching.has(hex)) throw new ApiError(409, `torrent ${hex} is already in this session`);
    this.#fetching.set(hex, { ...(magnet.name !== undefined ? { name: magnet.name } : {}), since: Date.now() });
    const outDir = this.#opts.downloadsDir;
    void (async () => {
      try {
        await mkdir(outDir, { recursive: true });
        const torrent = await this.#session.addMagnet(magnet, { outDir, signal: this.#shutdown.signal });
        await this.#notifyAdded({ via: 'magnet', torrent, meta: torrent.metainfo, contentPath: join(outDir, torrent.metainfo.info.name), mode: 'leech' });
      } catch (err) {
        if (!this.#shutdown.signal.aborted) this.#log.warn(`magnet ${hex}: ${errorMessage(err)}`);
      } finally {
        this.#fetching.delete(hex);
      }
    })();
    sendJson(res, 202, { infoHash: hex, name: magnet.name ?? null, magnet: text, status: 'fetching metadata' });
  }

  async #notifyAdded(added: ApiAddedTorrent): Promise<void> {
    this.#contentPaths.set(added.meta.infoHashHex, added.contentPath);
    try {
      await this.#opts.onTorrentAdded?.(added);
    } catch (err) {
      this.#log.error(`after adding ${added.meta.infoHashHex}: ${errorMessage(err)}`);
    }
  }

  async #removeTorrent(res: http.ServerResponse, hex: string): Promise<void> {
    const t = this.#torrentOf(hex);
    await this.#session.removeTorrent(t.infoHashHex);
    this.#contentPaths.delete(t.infoHashHex);
    sendJson(res, 200, { infoHash: t.infoHashHex, removed: true });
  }

  #pauseResume(res: http.ServerResponse, hex: string, what: 'pause' | 'resume'): void {
    const t = this.#torrentOf(hex);
    if (what === 'pause') t.pause();
    else t.resume();
    sendJson(res, 200, t.stats());
  }

  // --- upload and download ------------------------------------------------------

  async #upload(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (mediaType(req) !== 'multipart/form-data') throw new ApiError(415, 'send the file as multipart/form-data');
    const dir = this.#opts.uploadsDir;
    await mkdir(dir, { recursive: true });
    const f = await receiveFile(req, { maxBytes: this.#maxUploadBytes, sink: { kind: 'file', dir } });
    if (f.size === 0) {
      await unlink(f.tempPath!).catch(() => undefined);
      throw new ApiError(400, 'the uploaded file is empty: a torrent needs at least one byte');
    }
    const path = await placeUpload(f.tempPath!, dir, f.filename);
    const name = path.slice(dir.length).replace(/^[\\/]+/, '');
    const announce = this.#opts.announce ?? (this.#session.tracker ? [this.#session.tracker.announceUrl] : []);
    let made: { bytes: Uint8Array; meta: Metainfo };
    let torrent: Torrent;
    try {
      made = await torrentOfFile(path, name, f.size, { pool: this.#session.pool, announce, signal: this.#shutdown.signal });
      torrent = await this.#session.addTorrent(made.meta, { contentPath: path, mode: 'seed' });
    } catch (err) {
      await unlink(path).catch(() => undefined);
      throw err;
    }
    await this.#notifyAdded({ via: 'upload', torrent, meta: made.meta, torrentBytes: made.bytes, contentPath: path, mode: 'seed' });
    this.#log.info(`upload ${name} (${f.size} bytes) seeded as ${made.meta.infoHashHex}`);
    sendJson(res, 201, { infoHash: made.meta.infoHashHex, magnet: magnetOf(made.meta), name, length: f.size });
  }

  /** See download.ts for the URL forms and the rules. */
  async #download(req: http.IncomingMessage, res: http.ServerResponse, rawPath: string): Promise<void> {
    const { torrent, file } = pickDownload(this.#session.torrents, downloadComponents(rawPath));
    // Content of a torrent still downloading is not served: it is not whole yet.
    if (!torrent.complete) throw new ApiError(409, `${torrent.metainfo.info.name} is still downloading (${torrent.have}/${torrent.metainfo.info.pieceCount} pieces)`);
    const hex = torrent.infoHashHex;
    const contentPath = this.#contentPaths.get(hex) ?? this.#opts.contentPathOf?.(hex) ?? join(this.#opts.downloadsDir, torrent.metainfo.info.name);
    const found = await resolveDownload(contentPath, torrent.metainfo.info.multiFile, file, { forbidden: this.#opts.privateDirs ?? [] });
    sendFile(req, res, found, file.path[file.path.length - 1]!);
  }

  // --- DHT key-value, messages, limits -------------------------------------------

  #kvKey(raw: string, query: URLSearchParams): { key: string; opts: { namespace?: string } } {
    if (!this.#session.kv) throw new ApiError(503, 'the key-value store needs the DHT, which this daemon does not run');
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
    return { key, opts: namespace !== null ? { namespace } : {} };
  }

  async #kvGet(res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
    const { key, opts } = this.#kvKey(raw, query);
    const found = await this.#session.kv!.get(key, opts);
    if (found === undefined || found === null) throw new ApiError(404, `no value found for ${JSON.stringify(key)}`);
    sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: found });
  }

  async #kvPut(req: http.IncomingMessage, res: http.ServerResponse, raw: string, query: URLSearchParams): Promise<void> {
    const { key, opts } = this.#kvKey(raw, query);
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
    const result = await this.#session.kv!.put(key, value, opts);
    sendJson(res, 200, { key, ...(opts.namespace !== undefined ? { namespace: opts.namespace } : {}), result: result ?? null });
  }

  async #sendMessage(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
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
    if (typeof this.#session.sendMessage !== 'function') throw new ApiError(503, 'this daemon cannot send peer messages yet');
    let sent: number;
    try {
      sent = this.#session.sendMessage(to, text);
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

  #limits(): { uploadBytesPerS: number; downloadBytesPerS: number } {
    return { uploadBytesPerS: this.#session.limits.upload.rate, downloadBytesPerS: this.#session.limits.download.rate };
  }

  async #setLimits(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readJsonObject(req, MAX_JSON_BYTES);
    const out: { uploadBytesPerS?: number; downloadBytesPerS?: number } = {};
    for (const k of ['uploadBytesPerS', 'downloadBytesPerS'] as const) {
      const v = body[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new ApiError(400, `field "${k}" must be a non-negative integer (bytes per second, 0 = unlimited)`);
      out[k] = v;
    }
    if (out.uploadBytesPerS === undefined && out.downloadBytesPerS === undefined) throw new ApiError(400, 'give "uploadBytesPerS" and/or "downloadBytesPerS"');
    this.#session.setRateLimits(out);
    sendJson(res, 200, this.#limits());
  }
}

