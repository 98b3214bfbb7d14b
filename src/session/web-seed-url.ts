/**
 * Where a web seed (BEP 19) keeps the bytes of a torrent, as HTTP URLs and
 * byte ranges: which URL holds each file, and how a run of the torrent's
 * bytes splits into one Range request per file it crosses.
 *
 * BEP 19's URL rules: for a single-file torrent the URL is the file itself,
 * unless it ends in '/', when the torrent's name is appended; for a
 * multi-file torrent the file is at URL + name + '/' + its path components,
 * each percent-encoded (so a name with spaces, '%' or non-ASCII letters
 * still makes one valid URL, and a component can never add a path level).
 *
 * Pure: strings and numbers in, strings and numbers out.
 */
import { mapRange } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';

/**
 * The base URL of a web seed, parsed, or a reason to skip it. Only http and
 * https are fetched (BEP 19 also names FTP, which we do not speak); a URL
 * with user info is refused so no credentials from a torrent file are sent.
 */
export function parseWebSeedUrl(raw: string): { url: URL } | { error: string } {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { error: 'not a valid URL' };
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return { error: `unsupported scheme ${url.protocol.replace(/:$/, '')} (only http and https)` };
  if (url.username || url.password) return { error: 'a URL with user info is not used' };
  return { url };
}

/** One path component, percent-encoded (UTF-8): '/' , '%', '?', '#', spaces and non-ASCII never reach the URL as themselves. */
function encodeComponent(s: string): string {
  // encodeURIComponent leaves !'()* alone; they are valid in a path, and servers take them literally.
  return encodeURIComponent(s);
}

/**
 * The URL of file `fileIndex` of the torrent on the web seed at `base`.
 * The query string and fragment of `base`, if any, are kept after the path.
 */
export function webSeedFileUrl(base: URL, info: InfoDict, fileIndex: number): string {
  const file = info.files[fileIndex];
  if (!file) throw new RangeError(`file ${fileIndex} out of range 0..${info.files.length - 1}`);
  const u = new URL(base.href);
  if (!info.multiFile) {
    if (u.pathname.endsWith('/')) u.pathname += encodeComponent(info.name);
  } else {
    const dir = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
    u.pathname = dir + [info.name, ...file.path].map(encodeComponent).join('/');
  }
  return u.href;
}

/** One HTTP Range request of a run, or a stretch of pad-file zeros (BEP 47) that no server holds. */
export interface WebSeedSlice {
  fileIndex: number;
  /** First byte of the range inside the file. */
  fileOffset: number;
  length: number;
  /** Where the slice starts in the run. */
  runOffset: number;
  /** A pad file: zeros, never fetched. */
  pad: boolean;
}

/**
 * Splits the torrent byte range [offset, offset + length) into per-file
 * slices in data order (a run may cross file boundaries). Zero-length files
 * are skipped. Throws RangeError for a range outside the payload.
 */
export function sliceRun(info: InfoDict, offset: number, length: number): WebSeedSlice[] {
  return mapRange(info.files, offset, length).map((s) => ({
    fileIndex: s.fileIndex,
    fileOffset: s.fileOffset,
    length: s.length,
    runOffset: s.rangeOffset,
    pad: info.files[s.fileIndex]!.pad === true,
  }));
}

/** The `Range` header for `length` bytes from `start` (RFC 9110: both ends inclusive). */
export function rangeHeader(start: number, length: number): string {
  return `bytes=${start}-${start + length - 1}`;
}

/**
 * Parses a `Content-Range: bytes A-B/T` answer (T may be `*`); undefined
 * when malformed. A server's answer is checked against what was asked:
 * a different range is a lie, not a rounding.
 */
export function parseContentRange(value: string | undefined): { start: number; end: number; total?: number } | undefined {
  if (value === undefined) return undefined;
  const m = /^\s*bytes\s+(\d{1,16})-(\d{1,16})\/(\d{1,16}|\*)\s*$/i.exec(value);
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) return undefined;
  return m[3] === '*' ? { start, end } : { start, end, total: Number(m[3]) };
}
