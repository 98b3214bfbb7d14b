/**
 * Strict parser of .torrent files (BEP 3, 12, 19, 27). Pure: bytes in,
 * typed `Metainfo` out, or a MetainfoError naming the offending field
 * (a BencodeError when the bytes are not bencode at all).
 *
 * The info-hash is SHA-1 of the exact bytes of `info` as they stand in the
 * file (found with `dictValueSpan`), never of a re-encoding: torrents in the
 * wild carry keys in non-canonical order or keys we do not know, and a
 * re-encode would change the hash.
 *
 * BEP 47: file dicts may carry `attr` (`p` pad file, `x` executable, `h`
 * hidden, `l` symlink). BEP 52: a hybrid torrent (v1 `pieces` and `files`
 * beside v2 `meta version` and `file tree`) is read as the v1 torrent it also
 * is, with the same v1 info-hash; a v2-only torrent (no `pieces`) is refused.
 */
import { decode, dictEntries, dictValueSpan, isBytes, isDict, isInt, isList, type BDict, type BValue } from '../bencode/index.js';
import { MetainfoError } from '../errors.js';
import { sha1 } from '../util/hash.js';
import { toHex, utf8OrUndefined } from '../util/bytes.js';
import { checkPath, checkPathComponent, checkPathLength } from './path-safety.js';
import type { FileEntry, InfoDict, Metainfo } from './types.js';

/**
 * Nesting accepted in a .torrent: the deepest standard value (a path list in
 * a file dict in `files` in `info` in the root) is 5 levels; the margin is
 * for extension keys. Checked before decoding, so hostile nesting is an
 * error, not a stack overflow.
 */
export const METAINFO_MAX_DEPTH = 32;
/** Largest .torrent read from disk; real ones are a few MiB at most. */
export const MAX_TORRENT_FILE_BYTES = 64 * 1024 * 1024;
/**
 * Largest piece length accepted. A piece is held in memory whole while it is
 * verified, so a hostile torrent must not make us allocate gigabytes.
 */
export const MAX_PIECE_LENGTH = 128 * 1024 * 1024;
/**
 * Most files (pad files and symlinks not counted) accepted in one torrent.
 * Each is a file we create and hold state for; real torrents with more are
 * rare, and a hostile one could otherwise ask for millions of empty files.
 */
export const MAX_FILES = 100_000;

/** Parses a whole .torrent file. */
export function parseTorrent(bytes: Uint8Array): Metainfo {
  const root = decode(bytes, { maxDepth: METAINFO_MAX_DEPTH });
  if (!isDict(root)) throw new MetainfoError('root', 'a .torrent must be a bencoded dictionary');
  refuseDuplicateKeys(bytes, 0, 'root');
  const span = dictValueSpan(bytes, 'info');
  if (!span) throw new MetainfoError('info', 'missing');
  // A copy (Buffer#slice would be a view), so the Metainfo does not pin the whole file's buffer.
  const infoBytes = new Uint8Array(bytes.subarray(span.start, span.end));
  const info = parseInfoDict(infoBytes);
  const infoHash = sha1(infoBytes);

  const announce = optionalText(root, 'announce', 'announce');
  const announceList = parseAnnounceList(root['announce-list']);
  if (announceList.length === 0 && announce !== undefined && announce !== '') announceList.push([announce]);
  const meta: Metainfo = {
    infoHash,
    infoHashHex: toHex(infoHash),
    infoBytes,
    info,
    announceList,
    urlList: parseUrlList(root['url-list']),
  };
  if (announce !== undefined && announce !== '') meta.announce = announce;
  const comment = looseText(root, 'comment');
  if (comment !== undefined) meta.comment = comment;
  const createdBy = looseText(root, 'created by');
  if (createdBy !== undefined) meta.createdBy = createdBy;
  const date = root['creation date'];
  if (date !== undefined) {
    if (!isInt(date)) throw new MetainfoError('creation date', 'must be an integer (seconds since 1970)');
    meta.creationDate = date;
  }
  return meta;
}

/**
 * Parses the bencoded `info` dictionary alone: the part of a torrent that
 * peers send each other as metadata (BEP 9). The caller checks its SHA-1.
 */
export function parseInfoDict(infoBytes: Uint8Array): InfoDict {
  const v = decode(infoBytes, { maxDepth: METAINFO_MAX_DEPTH });
  if (!isDict(v)) throw new MetainfoError('info', 'must be a dictionary');
  refuseDuplicateKeys(infoBytes, 0, 'info');

  const name = utf8Field(v, 'name', 'info.name');
  if (name === undefined) throw new MetainfoError('info.name', 'missing');
  checkPathComponent(name, 'info.name');

  const pieceLength = v['piece length'];
  if (pieceLength === undefined) throw new MetainfoError('info.piece length', 'missing');
  if (!isInt(pieceLength) || pieceLength <= 0) throw new MetainfoError('info.piece length', `must be a positive integer, got ${describe(pieceLength)}`);
  if (pieceLength > MAX_PIECE_LENGTH) throw new MetainfoError('info.piece length', `${pieceLength} bytes is larger than the ${MAX_PIECE_LENGTH} accepted`);

  const pieces = v.pieces;
  if (pieces === undefined) {
    // BEP 52: a v2 torrent hashes files in merkle trees (`file tree`, `piece layers`) and has no v1 `pieces`.
    if (v['meta version'] !== undefined || v['file tree'] !== undefined) throw new MetainfoError('info.pieces', 'v2-only torrents are not supported yet');
    throw new MetainfoError('info.pieces', 'missing');
  }
  if (!isBytes(pieces)) throw new MetainfoError('info.pieces', 'must be a byte string');
  if (pieces.length % 20 !== 0) throw new MetainfoError('info.pieces', `length ${pieces.length} is not a multiple of 20 (one SHA-1 per piece)`);

  const hasLength = v.length !== undefined;
  const hasFiles = v.files !== undefined;
  if (hasLength && hasFiles) throw new MetainfoError('info', 'has both `length` (single file) and `files` (multi-file)');
  if (!hasLength && !hasFiles) throw new MetainfoError('info', 'has neither `length` (single file) nor `files` (multi-file)');

  let files: FileEntry[];
  let total: number;
  if (hasLength) {
    const length = v.length;
    if (!isInt(length) || length < 0) throw new MetainfoError('info.length', `must be a non-negative integer, got ${describe(length)}`);
    const attr = parseAttr(v, 'info.attr');
    // A single file cannot be padding or a link: there would be nothing to download.
    if (attr.includes('p')) throw new MetainfoError('info.attr', 'the only file of a single-file torrent cannot be a pad file (BEP 47 attr "p")');
    if (attr.includes('l')) throw new MetainfoError('info.attr', 'the only file of a single-file torrent is a symlink (BEP 47 attr "l"): symlinks from a torrent are never created');
    const file: FileEntry = { path: [name], length, offset: 0 };
    if (attr.includes('x')) file.executable = true;
    if (attr.includes('h')) file.hidden = true;
    files = [file];
    total = length;
  } else {
    ({ files, total } = parseFiles(v.files!, name));
  }
  if (total === 0) throw new MetainfoError('info.length', 'the torrent holds no data (total length 0)');

  const pieceCount = Math.ceil(total / pieceLength);
  if (pieces.length / 20 !== pieceCount) {
    throw new MetainfoError('info.pieces', `holds ${pieces.length / 20} hashes but ${total} bytes in pieces of ${pieceLength} make ${pieceCount}`);
  }

  const priv = v.private;
  if (priv !== undefined && !isInt(priv)) throw new MetainfoError('info.private', 'must be an integer (1 = private)');

  return {
    name,
    pieceLength,
    pieces: Uint8Array.from(pieces),
    pieceCount,
    length: total,
    files,
    multiFile: hasFiles,
    private: priv === 1,
  };
}

function parseFiles(value: BValue, name: string): { files: FileEntry[]; total: number } {
  if (!isList(value)) throw new MetainfoError('info.files', 'must be a list');
  if (value.length === 0) throw new MetainfoError('info.files', 'is empty');
  // A real file needs at most one pad file after it: a longer list is over the limit whatever it holds.
  if (value.length > 2 * MAX_FILES + 1) throw new MetainfoError('info.files', `holds ${value.length} entries, more than the ${MAX_FILES} files accepted`);
  const files: FileEntry[] = [];
  const filePaths = new Set<string>();
  const dirPaths = new Set<string>();
  let total = 0;
  let real = 0;
  value.forEach((f, i) => {
    const field = `info.files[${i}]`;
    if (!isDict(f)) throw new MetainfoError(field, 'must be a dictionary');
    const length = f.length;
    if (length === undefined) throw new MetainfoError(`${field}.length`, 'missing');
    if (!isInt(length) || length < 0) throw new MetainfoError(`${field}.length`, `must be a non-negative integer, got ${describe(length)}`);
    const attr = parseAttr(f, `${field}.attr`);
    if (attr.includes('p')) {
      // BEP 47 pad file: zeros inside pieces, never on disk. Its path (usually `.pad/<size>`,
      // often the same for several) names nothing we create, so it is neither checked nor clashes.
      files.push({ path: parsePathList(f, field, false), length, offset: total, pad: true });
      total += length;
      if (!Number.isSafeInteger(total)) throw new MetainfoError('info.files', 'total length is too large');
      return;
    }
    const path = parsePathList(f, field, true);
    checkPathLength(name, path, `${field}.path`);
    const entry: FileEntry = { path, length, offset: total };
    if (attr.includes('x')) entry.executable = true;
    if (attr.includes('h')) entry.hidden = true;
    if (attr.includes('l')) {
      // Never created (storage skips it), so it holds no bytes and takes no place on disk.
      if (length !== 0) throw new MetainfoError(`${field}.length`, `a symlink (BEP 47 attr "l") holds no data, got length ${length}`);
      const target = f['symlink path'];
      if (target === undefined) throw new MetainfoError(`${field}.symlink path`, 'missing (attr "l" marks a symlink)');
      const text = textList(target, `${field}.symlink path`);
      if (!text) throw new MetainfoError(`${field}.symlink path`, 'is not valid UTF-8');
      entry.symlink = text;
      files.push(entry);
      return;
    }
    if (++real > MAX_FILES) throw new MetainfoError('info.files', `holds more than the ${MAX_FILES} files accepted`);
    // Two entries on one path, or a file where another entry needs a folder,
    // would make storage write one file's data into another.
    const key = path.join('/');
    if (filePaths.has(key) || dirPaths.has(key)) throw new MetainfoError(`${field}.path`, `${JSON.stringify(key)} clashes with another entry`);
    filePaths.add(key);
    let dir = '';
    for (let k = 0; k < path.length - 1; k++) {
      dir = k === 0 ? path[0]! : `${dir}/${path[k]!}`;
      if (filePaths.has(dir)) throw new MetainfoError(`${field}.path`, `${JSON.stringify(key)} lies under ${JSON.stringify(dir)}, which is a file`);
      dirPaths.add(dir);
    }
    files.push(entry);
    total += length;
    if (!Number.isSafeInteger(total)) throw new MetainfoError('info.files', 'total length is too large');
  });
  if (real === 0) throw new MetainfoError('info.files', 'holds no file but pad files and symlinks');
  return { files, total };
}

/** BEP 47 `attr`: a string of flag letters in any order; unknown letters are ignored. */
function parseAttr(d: BDict, field: string): string {
  const v = d.attr;
  if (v === undefined) return '';
  if (!isBytes(v)) throw new MetainfoError(field, 'must be a string of attribute letters (BEP 47)');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('latin1');
}

/** `path` as text; `check` (every file but pad files) applies the path-safety rules. */
function parsePathList(f: BDict, field: string, check: boolean): string[] {
  // BEP 3 `path` is UTF-8; some old torrents hold another encoding there and
  // the UTF-8 copy in `path.utf-8`, which is used when `path` is not UTF-8.
  const raw = f.path;
  if (raw === undefined) throw new MetainfoError(`${field}.path`, 'missing');
  const decoded = textList(raw, `${field}.path`);
  const path = decoded ?? (f['path.utf-8'] !== undefined ? textList(f['path.utf-8'], `${field}.path.utf-8`) : undefined);
  if (!path) throw new MetainfoError(`${field}.path`, 'is not valid UTF-8');
  if (check) checkPath(path, `${field}.path`);
  return path;
}

/** A list of byte strings as text, or undefined when one is not UTF-8. */
function textList(v: BValue, field: string): string[] | undefined {
  if (!isList(v)) throw new MetainfoError(field, 'must be a list of strings');
  const out: string[] = [];
  for (const c of v) {
    if (!isBytes(c)) throw new MetainfoError(field, 'must be a list of strings');
    const s = utf8OrUndefined(c);
    if (s === undefined) return undefined;
    out.push(s);
  }
  return out;
}

/** `key` as UTF-8 text, falling back on `key.utf-8` when it is not UTF-8. */
function utf8Field(d: BDict, key: string, field: string): string | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (!isBytes(v)) throw new MetainfoError(field, 'must be a string');
  const s = utf8OrUndefined(v);
  if (s !== undefined) return s;
  const alt = d[`${key}.utf-8`];
  const altText = isBytes(alt) ? utf8OrUndefined(alt) : undefined;
  if (altText === undefined) throw new MetainfoError(field, 'is not valid UTF-8');
  return altText;
}

function optionalText(d: BDict, key: string, field: string): string | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (!isBytes(v)) throw new MetainfoError(field, 'must be a string');
  const s = utf8OrUndefined(v);
  if (s === undefined) throw new MetainfoError(field, 'is not valid UTF-8');
  return s;
}

/** Free text shown to the user only: undecodable bytes become U+FFFD rather than refusing the torrent. */
function looseText(d: BDict, key: string): string | undefined {
  const v = d[key];
  if (v === undefined) return undefined;
  if (!isBytes(v)) throw new MetainfoError(key, 'must be a string');
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
}

/** BEP 12: a list of tiers, each a list of tracker URLs. Empty tiers are dropped. */
function parseAnnounceList(v: BValue | undefined): string[][] {
  if (v === undefined) return [];
  if (!isList(v)) throw new MetainfoError('announce-list', 'must be a list of tiers');
  const tiers: string[][] = [];
  v.forEach((tier, i) => {
    if (!isList(tier)) throw new MetainfoError(`announce-list[${i}]`, 'must be a list of URLs');
    const urls: string[] = [];
    tier.forEach((u, j) => {
      if (!isBytes(u)) throw new MetainfoError(`announce-list[${i}][${j}]`, 'must be a string');
      const s = utf8OrUndefined(u);
      if (s === undefined) throw new MetainfoError(`announce-list[${i}][${j}]`, 'is not valid UTF-8');
      if (s !== '' && !urls.includes(s)) urls.push(s);
    });
    if (urls.length) tiers.push(urls);
  });
  return tiers;
}

/** BEP 19: `url-list` is one URL or a list of them. */
function parseUrlList(v: BValue | undefined): string[] {
  if (v === undefined) return [];
  const list = isList(v) ? v : [v];
  return list.map((u, i) => {
    if (!isBytes(u)) throw new MetainfoError(`url-list[${i}]`, 'must be a string');
    const s = utf8OrUndefined(u);
    if (s === undefined) throw new MetainfoError(`url-list[${i}]`, 'is not valid UTF-8');
    return s;
  }).filter((s) => s !== '');
}

/**
 * Refuses a dictionary that holds a key twice: the span scanner would take
 * the first `info` and the decoder the last, so the hash and the content
 * could describe different torrents.
 */
function refuseDuplicateKeys(buf: Uint8Array, start: number, field: string): void {
  const seen = new Set<string>();
  for (const e of dictEntries(buf, start)) {
    const k = Buffer.from(e.key.buffer, e.key.byteOffset, e.key.byteLength).toString('latin1');
    if (seen.has(k)) throw new MetainfoError(field, `key ${JSON.stringify(k)} appears twice`);
    seen.add(k);
  }
}

function describe(v: BValue | undefined): string {
  if (v === undefined) return 'nothing';
  if (isInt(v)) return String(v);
  if (isBytes(v)) return 'a string';
  if (isList(v)) return 'a list';
  return 'a dictionary';
}
