/**
 * One byte range of one file from a web seed (BEP 19) over HTTP/1.1: a GET
 * with `Range`, redirects followed (same scheme, a bounded number), and the
 * answer held to what was asked. What a server may get wrong, and what it
 * costs it:
 * - an HTTP error, a refused connection, a timeout, a body that ends short:
 *   `failed` (the caller backs off and asks again later: servers restart);
 * - a range other than the one asked, a body longer than asked, a
 *   compressed body, a file shorter than the torrent says: `lying` (the
 *   caller bans it, as a peer that sends bad data);
 * - a 200 with the whole file to a request that does not start at byte 0:
 *   `no-range` (the server ignores Range; reading up to the offset of every
 *   run would fetch the file again and again, so it is not used). A 200 to
 *   a request from byte 0 is the range we want followed by bytes we do not
 *   read: taken.
 *
 * Every chunk of the body goes to `onData` as it arrives, in order; nothing
 * beyond the range asked is handed on.
 */
import http from 'node:http';
import https from 'node:https';
import { errorMessage } from '../errors.js';
import { parseContentRange, rangeHeader } from './web-seed-url.js';

export type WebSeedErrorKind = 'failed' | 'lying' | 'no-range' | 'aborted';

export class WebSeedError extends Error {
  override readonly name = 'WebSeedError';
  readonly code = 'EWEBSEED';
  constructor(
    message: string,
    readonly kind: WebSeedErrorKind,
  ) {
    super(message);
  }
}

export interface FetchRangeOptions {
  /** No answer or no bytes for this long fails the request (0: no timeout). */
  timeoutMs: number;
  maxRedirects: number;
  signal: AbortSignal;
  agents: { http: http.Agent; https: https.Agent };
  /** Address to send from (`--host`). */
  localAddress?: string;
  userAgent: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Fetches bytes [start, start + length) of the file at `url`, handing each
 * chunk to `onData`. Resolves with the URL that answered (after redirects);
 * rejects with a WebSeedError.
 */
export async function fetchRange(url: string, start: number, length: number, opts: FetchRangeOptions, onData: (chunk: Uint8Array) => void): Promise<string> {
  let current = new URL(url);
  for (let hops = 0; ; hops++) {
    const { redirect } = await requestOnce(current, start, length, opts, onData);
    if (redirect === undefined) return current.href;
    if (hops >= opts.maxRedirects) throw new WebSeedError(`more than ${opts.maxRedirects} redirects`, 'failed');
    let next: URL;
    try {
      next = new URL(redirect, current);
    } catch {
      throw new WebSeedError(`redirect to an invalid URL ${JSON.stringify(redirect.slice(0, 200))}`, 'failed');
    }
    // Same scheme only: no https page may send us to plain http, and nothing to ftp: or file:.
    if (next.protocol !== current.protocol) throw new WebSeedError(`redirect from ${current.protocol} to ${next.protocol} refused`, 'failed');
    next.username = '';
    next.password = '';
    current = next;
  }
}

function contentLength(res: http.IncomingMessage): number | undefined {
  const v = res.headers['content-length'];
  if (v === undefined || !/^\d{1,16}$/.test(v)) return undefined;
  return Number(v);
}

function requestOnce(url: URL, start: number, length: number, opts: FetchRangeOptions, onData: (chunk: Uint8Array) => void): Promise<{ redirect?: string }> {
  return new Promise((resolve, reject) => {
    if (opts.signal.aborted) return reject(new WebSeedError('aborted', 'aborted'));
    let settled = false;
    const finish = (result: { redirect?: string } | WebSeedError, destroy: boolean): void => {
      if (settled) return;
      settled = true;
      opts.signal.removeEventListener('abort', onAbort);
      if (destroy) req.destroy();
      if (result instanceof WebSeedError) reject(result);
      else resolve(result);
    };
    const fail = (message: string, kind: WebSeedErrorKind): void => finish(new WebSeedError(message, opts.signal.aborted ? 'aborted' : kind), true);
    const https_ = url.protocol === 'https:';
    const req = (https_ ? https : http).request(
      url,
      {
        method: 'GET',
        agent: https_ ? opts.agents.https : opts.agents.http,
        headers: { Range: rangeHeader(start, length), 'Accept-Encoding': 'identity', 'User-Agent': opts.userAgent },
        ...(opts.localAddress ? { localAddress: opts.localAddress } : {}),
        // 0 turns the socket's timeout off (also the agent's idle one, while this request uses it).
        timeout: opts.timeoutMs,
      },
      (res) => {
        // Errors of the body after we settled (an abort, our own destroy) are nobody's business.
        res.on('error', (err) => fail(errorMessage(err), 'failed'));
        const status = res.statusCode ?? 0;
        if (REDIRECTS.has(status)) {
          res.resume();
          const location = res.headers.location;
          if (!location) return fail(`HTTP ${status} without a Location`, 'failed');
          return finish({ redirect: location }, false);
        }
        if (status !== 200 && status !== 206) {
          res.resume();
          return fail(`HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`, 'failed');
        }
        const encoding = res.headers['content-encoding'];
        if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return fail(`answered with Content-Encoding ${encoding}`, 'lying');
        const declared = contentLength(res);
        if (status === 200) {
          if (start !== 0) return fail('ignores HTTP Range requests (answered 200 with the whole file)', 'no-range');
          if (declared !== undefined && declared < length) return fail(`the file is ${declared} bytes, shorter than the torrent's ${length}`, 'lying');
        } else {
          const asked = rangeHeader(start, length).slice('bytes='.length);
          const range = parseContentRange(res.headers['content-range']);
          if (!range || range.start !== start || range.end !== start + length - 1) {
            return fail(`answered Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)} to a request for bytes ${asked}`, 'lying');
          }
          if (declared !== undefined && declared !== length) return fail(`answered ${declared} bytes to a request for ${length}`, 'lying');
        }
        let got = 0;
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = length - got;
          if (chunk.length > room) {
            // The whole file of a 200: the range is its head, the rest is not read.
            if (status === 200) {
              if (room > 0) onData(chunk.subarray(0, room));
              got = length;
              return finish({}, true);
            }
            return fail(`sent more than the ${length} bytes asked for`, 'lying');
          }
          got += chunk.length;
          onData(chunk);
          if (status === 200 && got === length) finish({}, true);
        });
        res.on('end', () => {
          if (got < length) fail(`the body ended after ${got} of ${length} bytes`, 'failed');
          else finish({}, false);
        });
        res.on('close', () => {
          if (!settled) fail(`the connection closed after ${got} of ${length} bytes`, 'failed');
        });
      },
    );
    // Not http.request's `signal`: it is handed on to the socket, and a kept-alive socket
    // destroyed by a later abort has no one listening for its error.
    const onAbort = (): void => fail('aborted', 'aborted');
    opts.signal.addEventListener('abort', onAbort, { once: true });
    req.on('timeout', () => fail(`no answer for ${opts.timeoutMs} ms`, 'failed'));
    req.on('error', (err) => fail(errorMessage(err), 'failed'));
    req.end();
  });
}
