/**
 * The catalogue of files by name (`peer share`, `find`, `fetch`): what one
 * name maps to, as the text stored under that name in a KV namespace
 * (default "files"). Pure: text in, typed entry out; no sockets, no files.
 *
 * An entry is compact JSON, so `peer kv get NAME --namespace files` shows
 * it too:
 *   {"magnet":"magnet:?xt=urn:btih:<hex>&dn=<name>[&tr=...]","length":N,"files":N,"added":UNIX_S}
 * Values of one DHT item hold at most 1000 bytes bencoded (BEP 44), so the
 * encoder drops trackers beyond the few that fit (and the display name as
 * a last resort): the info-hash alone always fits, and is all a fetch needs.
 *
 * Entries come from the network: the decoder refuses anything that is not
 * one (wrong types, a bad magnet link, absurd sizes) with a reason, and
 * never throws.
 */
import { minimatch } from 'minimatch';
import { formatMagnet, parseMagnet } from '../metainfo/magnet.js';
import { errorMessage } from '../errors.js';

/** The namespace `share`, `find` and `fetch` use unless told otherwise. */
export const DEFAULT_CATALOGUE_NAMESPACE = 'files';

/** A name is a KV key, i.e. a BEP 44 salt: 1 to 64 bytes of UTF-8. */
export const MAX_CATALOGUE_NAME_BYTES = 64;

/** What an entry's text may take: a BEP 44 value is at most 1000 bytes bencoded ("NNN:" prefix included), and the API keeps a margin. */
export const MAX_ENTRY_TEXT_BYTES = 990;

/** At most this many trackers go into an entry's magnet link (the rest are in the torrent the seeder has). */
export const MAX_ENTRY_TRACKERS = 3;

export interface CatalogueEntry {
  /** The name it is shared under (the KV key). */
  name: string;
  infoHash: string;
  magnet: string;
  /** Bytes of content. */
  length: number;
  /** Number of files (1 for a single-file torrent). */
  files: number;
  /** When it was shared, in seconds since the epoch (0 when unknown). */
  added: number;
}

/** Why a name cannot be one, or undefined when it can. */
export function catalogueNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) return 'the name is empty';
  if (bytes > MAX_CATALOGUE_NAME_BYTES) return `the name is ${bytes} bytes of UTF-8; a catalogue name is a DHT key (BEP 44 salt) of at most ${MAX_CATALOGUE_NAME_BYTES} bytes: give a shorter one with --as`;
  if (/[\u0000-\u001f\u007f-\u009f]/.test(name)) return 'the name holds control characters';
  return undefined;
}

/**
 * The text stored under `entry.name`: as many of `trackers` (at most
 * MAX_ENTRY_TRACKERS) as fit, then without them, then without the display
 * name. Throws a RangeError only for an entry no DHT item could hold, which
 * the info-hash and two numbers never are.
 */
export function encodeEntry(e: { infoHash: string; displayName?: string; trackers?: readonly string[]; length: number; files: number; added: number }): string {
  const trackers = (e.trackers ?? []).slice(0, MAX_ENTRY_TRACKERS);
  const attempts: { name?: string; trackers: readonly string[] }[] = [];
  for (let n = trackers.length; n >= 0; n--) attempts.push({ ...(e.displayName !== undefined ? { name: e.displayName } : {}), trackers: trackers.slice(0, n) });
  attempts.push({ trackers: [] });
  for (const a of attempts) {
    const magnet = formatMagnet({ infoHashHex: e.infoHash, name: a.name, trackers: a.trackers });
    const text = JSON.stringify({ magnet, length: e.length, files: e.files, added: e.added });
    if (Buffer.byteLength(text, 'utf8') <= MAX_ENTRY_TEXT_BYTES) return text;
  }
  throw new RangeError('a catalogue entry does not fit in one DHT item');
}

export type DecodedEntry = { ok: true; entry: CatalogueEntry } | { ok: false; reason: string };

/** Reads the text stored under `name`; anything that is not an entry is refused with a reason. */
export function decodeEntry(name: string, text: string): DecodedEntry {
  if (text.length > 64 * 1024) return { ok: false, reason: 'not a catalogue entry (too long)' };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'not a catalogue entry (not JSON)' };
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, reason: 'not a catalogue entry (not a JSON object)' };
  const o = raw as Record<string, unknown>;
  if (typeof o.magnet !== 'string') return { ok: false, reason: 'not a catalogue entry (no magnet link)' };
  // Printed on terminals as it is: no control characters (escape sequences) from a remote writer.
  if (/[\u0000-\u001f\u007f-\u009f]/.test(o.magnet)) return { ok: false, reason: 'bad magnet link: it holds control characters' };
  let infoHash: string;
  try {
    infoHash = parseMagnet(o.magnet).infoHashHex;
  } catch (err) {
    return { ok: false, reason: `bad magnet link: ${errorMessage(err)}` };
  }
  const count = (v: unknown, min: number): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= min ? v : undefined);
  const length = count(o.length, 1);
  if (length === undefined) return { ok: false, reason: 'bad "length" (a whole number of bytes, at least 1)' };
  const files = o.files === undefined ? 1 : count(o.files, 1);
  if (files === undefined) return { ok: false, reason: 'bad "files" (a whole number, at least 1)' };
  const added = o.added === undefined ? 0 : count(o.added, 0);
  if (added === undefined) return { ok: false, reason: 'bad "added" (seconds since the epoch)' };
  return { ok: true, entry: { name, infoHash, magnet: o.magnet, length, files, added } };
}

/**
 * Whether `name` matches what `peer find PATTERN` was given, ignoring case:
 * a glob when it holds `*`, `?` or `[`, otherwise a substring. No pattern
 * matches everything.
 */
export function matchesPattern(name: string, pattern: string | undefined): boolean {
  if (pattern === undefined || pattern === '') return true;
  if (/[*?[]/.test(pattern)) return minimatch(name, pattern, { nocase: true, dot: true, nonegate: true, nocomment: true });
  return name.toLowerCase().includes(pattern.toLowerCase());
}
