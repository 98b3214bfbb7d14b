/**
 * Magnet links (BEP 9): `magnet:?xt=urn:btih:<40 hex | 32 base32>&dn=<name>
 * &tr=<tracker>&x.pe=<host:port>`. Pure string <-> MagnetLink.
 */
import { MetainfoError } from '../errors.js';
import { base32Decode, fromHex, toHex } from '../util/bytes.js';
import type { MagnetLink, Metainfo } from './types.js';

/** Longest magnet link accepted: enough for hundreds of trackers. */
export const MAX_MAGNET_LENGTH = 64 * 1024;

export function isMagnet(text: string): boolean {
  return /^magnet:\?/i.test(text);
}

/** Parses a magnet link; a MetainfoError names the parameter at fault. */
export function parseMagnet(uri: string): MagnetLink {
  if (!isMagnet(uri)) throw new MetainfoError('magnet', 'a magnet link starts with "magnet:?"');
  if (uri.length > MAX_MAGNET_LENGTH) throw new MetainfoError('magnet', `longer than ${MAX_MAGNET_LENGTH} characters`);
  let infoHash: Uint8Array | undefined;
  let name: string | undefined;
  const trackers: string[] = [];
  const peers: string[] = [];
  for (const part of uri.slice(uri.indexOf('?') + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : decodeParam(part.slice(eq + 1), key);
    // Some writers number repeated keys (`tr.1`, `xt.1`).
    const base = key.replace(/\.\d+$/, '');
    switch (base) {
      case 'xt': {
        const m = /^urn:btih:(.*)$/i.exec(value);
        if (!m) continue; // another hash scheme (e.g. btmh, BEP 52): not ours
        const h = parseBtih(m[1]!);
        if (infoHash && toHex(infoHash) !== toHex(h)) throw new MetainfoError('xt', 'holds two different btih info-hashes');
        infoHash = h;
        break;
      }
      case 'dn':
        name = value;
        break;
      case 'tr':
        if (value !== '' && !trackers.includes(value)) trackers.push(value);
        break;
      case 'x.pe':
        if (!isPeerAddress(value)) throw new MetainfoError('x.pe', `expected HOST:PORT, got ${JSON.stringify(value)}`);
        if (!peers.includes(value)) peers.push(value);
        break;
      default:
        break; // ws, xs, as, kt, so...: not used here
    }
  }
  if (!infoHash) throw new MetainfoError('xt', 'no "urn:btih:" info-hash in the magnet link');
  const link: MagnetLink = { infoHash, infoHashHex: toHex(infoHash), trackers, peers };
  if (name !== undefined && name !== '') link.name = name;
  return link;
}

/** `host:port` or `[v6]:port`, port 1-65535. */
function isPeerAddress(value: string): boolean {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})$/.exec(value);
  if (!m) return false;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535;
}

function parseBtih(text: string): Uint8Array {
  if (/^[0-9a-fA-F]{40}$/.test(text)) return fromHex(text);
  if (/^[A-Za-z2-7]{32}$/.test(text)) return base32Decode(text);
  throw new MetainfoError('xt', `btih must be 40 hex or 32 base32 characters, got ${JSON.stringify(text.slice(0, 80))}`);
}

function decodeParam(raw: string, key: string): string {
  try {
    // `+` stands for a space in query strings written by forms and many clients.
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    throw new MetainfoError(key || 'magnet', 'bad percent-encoding');
  }
}

/** Writes a magnet link; parameters in the order xt, dn, tr..., x.pe... */
export function formatMagnet(m: { infoHashHex: string; name?: string | undefined; trackers?: readonly string[] | undefined; peers?: readonly string[] | undefined }): string {
  if (!/^[0-9a-fA-F]{40}$/.test(m.infoHashHex)) throw new RangeError(`infoHashHex must be 40 hex characters, got ${JSON.stringify(m.infoHashHex)}`);
  let out = `magnet:?xt=urn:btih:${m.infoHashHex.toLowerCase()}`;
  if (m.name !== undefined && m.name !== '') out += `&dn=${encodeURIComponent(m.name)}`;
  for (const t of m.trackers ?? []) out += `&tr=${encodeURIComponent(t)}`;
  for (const p of m.peers ?? []) out += `&x.pe=${encodeURIComponent(p)}`;
  return out;
}

/** Every tracker of a torrent, tiers flattened in order, without repeats. */
export function trackersOf(meta: Metainfo): string[] {
  const out: string[] = [];
  for (const tier of meta.announceList) for (const url of tier) if (!out.includes(url)) out.push(url);
  if (meta.announce !== undefined && !out.includes(meta.announce)) out.unshift(meta.announce);
  return out;
}

/** The magnet link of a torrent: info-hash, name and trackers. */
export function magnetOf(meta: Metainfo): string {
  return formatMagnet({ infoHashHex: meta.infoHashHex, name: meta.info.name, trackers: trackersOf(meta) });
}
