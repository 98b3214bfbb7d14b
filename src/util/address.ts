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
