/** Typed metainfo (BEP 3, 12, 19, 27). Produced by parse.ts, consumed everywhere. */

export interface FileEntry {
  /** Path components under the torrent's name (single-file torrents: `[name]`). Already checked safe. */
  path: string[];
  length: number;
  /** Byte offset of the file in the torrent's concatenated data. */
  offset: number;
  /**
   * BEP 47 `attr` `p`: a pad file. Its bytes are zeros that align the next
   * file to a piece boundary; they count in the piece layout but are never
   * written to disk, and users never see the file (see `userFiles`). Several
   * pad files may share one path (`.pad/<size>`), so its path is not checked.
   */
  pad?: true;
  /** BEP 47 `attr` `x`: created with the executable bits (as the umask allows). */
  executable?: true;
  /** BEP 47 `attr` `h`: hidden on systems that have such an attribute (informational here). */
  hidden?: true;
  /**
   * BEP 47 `attr` `l`: a symlink to this path (relative to the torrent's
   * root). A symlink holds no data (its length is 0) and is never created:
   * a link a remote chose could point anywhere. Storage skips it with a warning.
   */
  symlink?: string[];
}

export interface InfoDict {
  name: string;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 piece hashes. */
  pieces: Uint8Array;
  pieceCount: number;
  /** Total payload bytes. */
  length: number;
  /** Files in data order; a single-file torrent has one entry with path `[name]`. */
  files: FileEntry[];
  /** True when `info` has `files` (the content is a folder named `name`). */
  multiFile: boolean;
  /** `private=1` (BEP 27): trackers only, no DHT or PEX. */
  private: boolean;
}

export interface Metainfo {
  /** SHA-1 of the exact bytes of `info` as they stand in the file. */
  infoHash: Uint8Array;
  infoHashHex: string;
  /** The raw bencoded `info` value (served to peers by ut_metadata, BEP 9). */
  infoBytes: Uint8Array;
  info: InfoDict;
  announce?: string;
  /** Tiers (BEP 12); when absent in the file, `[[announce]]` if announce exists. */
  announceList: string[][];
  /** Web seeds (BEP 19). */
  urlList: string[];
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch. */
  creationDate?: number;
}

/** What a magnet link (BEP 9) carries. */
export interface MagnetLink {
  infoHash: Uint8Array;
  infoHashHex: string;
  /** `dn` */
  name?: string;
  /** `tr`, in order. */
  trackers: string[];
  /** `x.pe` peers as `host:port`. */
  peers: string[];
}
