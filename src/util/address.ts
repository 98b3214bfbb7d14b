/**
 * Small facts about peer addresses, shared by the API, the session and the
 * CLI (one definition of "loopback").
 */
import net from 'node:net';

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1, localhost (also bracketed or IPv4-mapped). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h === '::1') return true;
  if (net.isIPv4(h)) return h.startsWith('127.');
  if (h.startsWith('::ffff:')) return isLoopbackHost(h.slice(7));
  return false;
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`, brackets dropped, IPv6 lower-cased: one spelling per address, so that per-address limits, bans and self-checks hold whichever stack a connection came in on. */
export function plainHost(host: string): string {
  const h = host.replace(/^\[|\]$/g, '');
  if (!h.includes(':')) return h;
  const lower = h.toLowerCase();
  if (lower.startsWith('::ffff:') && net.isIPv4(lower.slice(7))) return lower.slice(7);
  return lower;
}

/** True for a wildcard address ('', 0.0.0.0, ::): listen on every address, send from the one the system picks. */
export function isWildcardHost(host: string | undefined): boolean {
  return host === undefined || host === '' || host === '0.0.0.0' || host === '::';
}

/** `host:port`, with IPv6 hosts bracketed (`[::1]:6881`). */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
