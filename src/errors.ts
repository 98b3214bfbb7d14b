/**
 * Typed errors with a stable `name` and `code`.
 *
 * Two tiers (STYLE.md habit 11): misuse of our own API throws at once; a
 * remote's misbehaviour is caught at its connection and never escapes it.
 * `exitCode` tells the CLI which exit status an uncaught error maps to:
 * 2 for bad usage or bad input, 1 for a failure at run time.
 */
export class SwarmError extends Error {
  readonly code: string;
  readonly exitCode: 1 | 2;
  constructor(message: string, code: string, exitCode: 1 | 2 = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

/** Malformed or hostile bencoded input. */
export class BencodeError extends SwarmError {
  /** Byte offset in the input where the problem was found. */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(`${message} (at byte ${offset})`, 'EBENCODE', 2);
    this.offset = offset;
  }
}

/** A .torrent or magnet link that breaks BEP 3/9/12/19/27; `field` names the culprit. */
export class MetainfoError extends SwarmError {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid metainfo: ${field}: ${message}`, 'EMETAINFO', 2);
    this.field = field;
  }
}

/** Bad command-line usage or an input the user must fix (exit code 2). */
export class UsageError extends SwarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'EUSAGE', 2, options);
  }
}

/** A remote peer broke the peer wire protocol; closes that connection only. */
export class ProtocolError extends SwarmError {
  constructor(message: string) {
    super(message, 'EPROTOCOL', 1);
  }
}

/** Reading or writing torrent data or resume state failed. */
export class StorageError extends SwarmError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ESTORAGE', 1, options);
  }
}

/**
 * A torrent's content path, or a file or folder below it, is a symlink (exit 2).
 * Data is written and served only through real folders: the folder the user
 * chose (--out, --downloads, the parent of --data) may be a link, but nothing
 * a torrent names below it may be, so a link planted there cannot make us
 * write or serve a file elsewhere. `path` is the link, `target` what it says.
 */
export class SymlinkRefusedError extends SwarmError {
  readonly path: string;
  readonly target: string;
  constructor(path: string, target: string, action: 'write' | 'read', hint: string) {
    super(`refusing to ${action} through a symlink: ${path} -> ${target}: ${hint}`, 'ESYMLINK', 2);
    this.path = path;
    this.target = target;
  }
}

/** A tracker request or reply was malformed or refused. */
export class TrackerError extends SwarmError {
  constructor(message: string) {
    super(message, 'ETRACKER', 1);
  }
}

/** A KRPC / DHT message was malformed or refused; `krpcCode` is the BEP 5/44 error code. */
export class DhtError extends SwarmError {
  readonly krpcCode: number;
  constructor(message: string, krpcCode = 203) {
    super(message, 'EDHT', 1);
    this.krpcCode = krpcCode;
  }
}

/**
 * The key-value layer (src/dht/kv.ts) could not do what was asked: a
 * compare-and-swap whose seq differs (`ECAS`), a stored value that is
 * malformed or hostile (`EKVBAD`). Exit code 1: the input was fine, the
 * network's state was not.
 */
export class KvError extends SwarmError {
  constructor(message: string, code: 'ECAS' | 'EKVBAD' | 'EKV' = 'EKV') {
    super(message, code, 1);
  }
}

/**
 * The catalogue of files by name (`peer share`/`find`/`fetch`) could not
 * answer: no such name (`ENOTFOUND`), a value that is not a catalogue
 * entry (`ECATALOGUE`), no running daemon to seed (`EDAEMON`), no DHT node
 * answered (`ENODHT`). Exit code 1.
 */
export class CatalogueError extends SwarmError {
  constructor(message: string, code: 'ENOTFOUND' | 'ECATALOGUE' | 'EDAEMON' | 'ENODHT', options?: { cause?: unknown }) {
    super(message, code, 1, options);
  }
}

/** Thrown by `assertNever` when a discriminated union gains a case nobody handles. */
export function assertNever(value: never): never {
  throw new Error(`unhandled case: ${JSON.stringify(value)}`);
}

/** Human-readable message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
