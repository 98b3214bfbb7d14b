/**
 * A small HTTP server for web seed (BEP 19) tests: it serves files from
 * memory with `Range` (one range, `bytes=A-B`), and can misbehave on
 * purpose: flip bytes, ignore Range, send more than asked, answer another
 * range, redirect, or fail its first requests. Every request is recorded.
 * Closed in teardown.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Teardown } from './swarm.js';

export interface WebSeedServerOptions {
  /** Address to listen on (loopback in these tests). */
  host: string;
  /** Decoded URL path ('/name/dir/file') -> bytes. */
  files: Map<string, Uint8Array>;
  /** Flip the bytes of every answer (a server with corrupt content). */
  corrupt?: boolean;
  /** Answer every request 200 with the whole file. */
  ignoreRange?: boolean;
  /** Send this many bytes more than asked (chunked, so the headers do not tell). */
  extraBytes?: number;
  /** Answer a range shifted by one byte (a lying Content-Range). */
  wrongRange?: boolean;
  /** A request whose path starts with a key is redirected (302) to the value + the rest of the path. */
  redirects?: Map<string, string>;
  /** Answer the first N requests 503. */
  failFirst?: number;
  /** Never answer the first N requests (the connection stays open, silent). */
  hangFirst?: number;
}

export interface RecordedRequest {
  path: string;
  range: string | undefined;
  status: number;
}

export interface WebSeedServer {
  /** http://host:port */
  origin: string;
  requests: RecordedRequest[];
  server: http.Server;
}

export async function startWebSeedServer(t: Teardown, opts: WebSeedServerOptions): Promise<WebSeedServer> {
  const requests: RecordedRequest[] = [];
  let failed = 0;
  let hung = 0;
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const range = req.headers.range;
    const answer = (status: number, headers: http.OutgoingHttpHeaders = {}, body?: Uint8Array): void => {
      requests.push({ path: url.pathname, range, status });
      res.writeHead(status, headers);
      res.end(body);
    };
    if (opts.hangFirst !== undefined && hung < opts.hangFirst) {
      hung++;
      requests.push({ path: url.pathname, range, status: 0 });
      return;
    }
    if (opts.failFirst !== undefined && failed < opts.failFirst) {
      failed++;
      return answer(503, { 'Content-Length': 0 });
    }
    for (const [from, to] of opts.redirects ?? []) {
      if (url.pathname.startsWith(from)) return answer(302, { Location: to + url.pathname.slice(from.length), 'Content-Length': 0 });
    }
    let name: string;
    try {
      name = decodeURIComponent(url.pathname);
    } catch {
      return answer(400, { 'Content-Length': 0 });
    }
    const file = opts.files.get(name);
    if (!file) return answer(404, { 'Content-Length': 0 });
    const m = range ? /^bytes=(\d+)-(\d+)$/.exec(range) : null;
    if (!m || opts.ignoreRange) return answer(200, { 'Content-Length': file.length }, flip(file));
    let start = Number(m[1]);
    const end = Math.min(Number(m[2]), file.length - 1);
    if (start > end) return answer(416, { 'Content-Range': `bytes */${file.length}`, 'Content-Length': 0 });
    if (opts.wrongRange && start + 1 <= end) start += 1;
    const body = flip(file.subarray(start, end + 1));
    if (opts.extraBytes) {
      requests.push({ path: url.pathname, range, status: 206 });
      res.writeHead(206, { 'Content-Range': `bytes ${start}-${end}/${file.length}`, 'Transfer-Encoding': 'chunked' });
      res.write(body);
      res.end(new Uint8Array(opts.extraBytes).fill(7));
      return;
    }
    answer(206, { 'Content-Range': `bytes ${start}-${end}/${file.length}`, 'Content-Length': body.length }, body);
  });
  const flip = (b: Uint8Array): Uint8Array => (opts.corrupt ? Uint8Array.from(b, (x) => x ^ 0xff) : b);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, opts.host, () => resolve());
  });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const { port } = server.address() as AddressInfo;
  return { origin: `http://${opts.host}:${port}`, requests, server };
}
