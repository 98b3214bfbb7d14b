/**
 * What the route modules of the API share: the options of the server, the
 * route table's shape, and the context each handler gets from the server
 * (the session, the options, and the little state the API keeps itself).
 */
import type http from 'node:http';
import type { Logger } from '../log.js';
import type { Metainfo } from '../metainfo/types.js';
import type { Torrent } from '../session/torrent.js';
import type { SessionLike } from './session-like.js';

/** JSON bodies of the API are small. */
export const MAX_JSON_BYTES = 64 * 1024;

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

export type Handler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], query: URLSearchParams) => Promise<void> | void;

export interface Route {
  pattern: RegExp;
  methods: Partial<Record<string, Handler>>;
  /** Served without the token: code and styles the page needs, nothing about the session. */
  public?: boolean;
}

/** What a handler may use; the server owns it and outlives every request. */
export interface RouteContext {
  readonly session: SessionLike;
  readonly opts: ApiServerOptions;
  readonly log: Logger;
  /** Aborted by stop(): pending magnet fetches and upload hashing end with it. */
  readonly signal: AbortSignal;
  /** Magnet links whose metadata is on its way, by info-hash. */
  readonly fetching: Map<string, { name?: string; since: number }>;
  /** Content paths of the torrents this API added (upload, .torrent, magnet). */
  readonly contentPaths: Map<string, string>;
}

/** The pattern of an info-hash path segment (checked by `checkInfoHash`). */
export const INFO_HASH_SEGMENT = '([^/]+)';
