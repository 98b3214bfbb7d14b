/**
 * Talking to the running daemon (`peer start`) of this machine over its HTTP
 * API, for commands that hand it work (`peer share`): where it is
 * (`--api URL`, `--api-port N`, default http://127.0.0.1:8080, as
 * `peer message` finds it), the token, and its answers as errors a user
 * can act on.
 */
import { DEFAULT_SETTINGS } from '../settings.js';
import { CatalogueError, SwarmError, UsageError, errorMessage } from '../errors.js';
import { parsePort } from './parse.js';

export interface DaemonApiRaw {
  api?: string;
  apiPort?: string;
  token?: string;
}

/** The daemon could not be reached at all (nothing listens, or it does not answer). */
export class DaemonUnreachableError extends CatalogueError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'EDAEMON', options);
  }
}

/** The API's base URL from --api (a URL, host:port, or a port) / --api-port. */
export function daemonApiBase(raw: DaemonApiRaw): URL {
  if (raw.api !== undefined && raw.apiPort !== undefined) throw new UsageError('give --api or --api-port, not both');
  if (raw.apiPort !== undefined) return new URL(`http://127.0.0.1:${parsePort(raw.apiPort, '--api-port')}/`);
  if (raw.api !== undefined && /^\d+$/.test(raw.api)) return new URL(`http://127.0.0.1:${parsePort(raw.api, '--api')}/`);
  const text = raw.api ?? `http://127.0.0.1:${DEFAULT_SETTINGS.apiPort}/`;
  let url: URL;
  try {
    url = new URL(/^https?:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new UsageError(`--api: not a URL: ${text}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--api: not an http(s) URL: ${text}`);
  return url;
}

export class DaemonApi {
  readonly base: URL;
  readonly #token: string | undefined;

  constructor(base: URL, token?: string) {
    this.base = base;
    this.#token = token;
  }

  static fromRaw(raw: DaemonApiRaw): DaemonApi {
    return new DaemonApi(daemonApiBase(raw), raw.token ?? process.env.PEER_API_TOKEN);
  }

  /**
   * One request; resolves with the status and the parsed JSON body (or {}).
   * Throws DaemonUnreachableError when no answer came at all.
   */
  async request(method: string, path: string, opts: { json?: unknown; signal?: AbortSignal } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL(path.replace(/^\//, ''), this.base);
    const headers: Record<string, string> = {};
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    if (opts.json !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(url, { method, headers, ...(opts.json !== undefined ? { body: JSON.stringify(opts.json) } : {}), ...(opts.signal ? { signal: opts.signal } : {}) });
    } catch (err) {
      if (opts.signal?.aborted) throw opts.signal.reason;
      const cause = (err as { cause?: unknown }).cause;
      throw new DaemonUnreachableError(`no daemon answered at ${url.origin}: ${errorMessage(cause ?? err)}`, { cause: err });
    }
    let body: Record<string, unknown> = {};
    try {
      const parsed = (await res.json()) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // Not JSON: the status speaks.
    }
    return { status: res.status, body };
  }

  /** The error of a refused request, with the daemon's own words: 4xx about the input is exit 2, the rest 1. */
  refusal(what: string, r: { status: number; body: Record<string, unknown> }): SwarmError {
    const said = typeof r.body.error === 'string' ? r.body.error : `HTTP ${r.status}`;
    if (r.status === 401 || r.status === 403) return new UsageError(`the daemon at ${this.base.origin} refused ${what}: ${said} (give --token, or set PEER_API_TOKEN)`);
    if (r.status === 400 || r.status === 413) return new UsageError(`the daemon refused ${what}: ${said}`);
    return new SwarmError(`the daemon could not ${what}: ${said}`, 'EAPI', 1);
  }
}
