/**
 * Reading a .torrent from disk: the one metainfo file that touches `fs`, kept
 * apart so the parser stays pure.
 */
import { open } from 'node:fs/promises';
import { UsageError, errorMessage } from '../errors.js';
import { MAX_TORRENT_FILE_BYTES, parseTorrent } from './parse.js';
import type { Metainfo } from './types.js';

/**
 * Reads and parses a .torrent. A missing or unreadable file, or one larger
 * than MAX_TORRENT_FILE_BYTES, is a UsageError (exit code 2); a malformed one
 * a MetainfoError or BencodeError (exit code 2 too).
 */
export async function loadTorrentFile(path: string): Promise<Metainfo> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`torrent file not found: ${path} (check the path, or give a magnet link)`, { cause: err });
    if (code === 'EACCES' || code === 'EPERM') throw new UsageError(`cannot read ${path}: permission denied`, { cause: err });
    throw new UsageError(`cannot open torrent file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UsageError(`${path} is not a file (give a .torrent file or a magnet link)`);
    if (st.size > MAX_TORRENT_FILE_BYTES) {
      throw new UsageError(`${path} is ${st.size} bytes, larger than the ${MAX_TORRENT_FILE_BYTES} bytes a .torrent may be: is it really a .torrent?`);
    }
    let bytes: Uint8Array;
    try {
      bytes = await fh.readFile();
    } catch (err) {
      throw new UsageError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
    }
    // Not even the start of a bencoded dictionary: say so plainly, not "unexpected byte 0x23".
    if (bytes.length === 0) throw new UsageError(`${path} is empty, not a .torrent file`);
    const first = bytes[0]!;
    const bencodeStart = first === 0x64 || first === 0x6c || first === 0x69 || (first >= 0x30 && first <= 0x39); // d l i 0-9
    if (!bencodeStart) throw new UsageError(`${path} is not a .torrent file (a .torrent is a bencoded dictionary, starting with "d"); give a .torrent file or a magnet link`);
    try {
      return parseTorrent(bytes);
    } catch (err) {
      throw new UsageError(`${path} is not a valid .torrent: ${errorMessage(err)}`, { cause: err });
    }
  } finally {
    await fh.close();
  }
}
