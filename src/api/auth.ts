/**
 * Who may talk to the API. On loopback the machine's own users are
 * trusted; on any other address a bearer token is required (the caller
 * generates one when the user gave none). Browsers add two dangers even on
 * loopback: a web page can post a form to 127.0.0.1 (checked with Origin),
 * and DNS rebinding can make a foreign name resolve to 127.0.0.1 (checked
 * with Host).
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export { isLoopbackHost } from '../util/address.js';

/**
 * Compares in constant time: both sides are hashed first, so neither the
 * length nor the first differing byte of the token shows in the timing.
 */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The token a request carries: `Authorization: Bearer T`, else `?token=T`. */
export function requestToken(headers: { authorization?: string | undefined }, query: URLSearchParams): string | undefined {
  const auth = headers.authorization;
  if (auth !== undefined) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    return m ? m[1] : '';
  }
  return query.get('token') ?? undefined;
}

/** The host name of a Host header value (`name:port`, `[v6]:port`), lower case. */
export function hostOfHeader(value: string): string {
  const v = value.trim().toLowerCase();
  if (v.startsWith('[')) return v.slice(1, v.indexOf(']') > 0 ? v.indexOf(']') : undefined);
  const i = v.lastIndexOf(':');
  return i >= 0 && v.indexOf(':') === i ? v.slice(0, i) : v;
}
