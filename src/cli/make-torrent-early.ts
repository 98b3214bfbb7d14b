/**
 * What the make-torrent executable does before its CLI is even loaded: guess
 * the path and piece length from argv, list the content and set the helper
 * threads hashing it (startHashingAhead), this thread too between the steps
 * of the CLI's start-up, so that a worker's boot (~20 ms) and the CLI's
 * modules, flag checks and file system calls overlap the hashing instead of
 * coming before it.
 *
 * Only a guess, never a decision: the CLI then parses and checks everything
 * as it always does, with the same messages and exit codes. The listing made
 * here is the very call the CLI would make (listContent(path), its errors
 * included), handed over by takeEarlyListing; the hashing job is joined only
 * when the CLI asks for exactly the same files and piece length, and stopped
 * otherwise. Anything not understood here (an unknown flag, --help, a second
 * path, a value that looks like a flag) starts nothing.
 *
 * Imports only what the guess needs, none of the CLI (src/make-torrent.ts
 * loads that afterwards).
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { autoPieceLength } from '../metainfo/create.js';
import { listContent, type ContentListing } from '../storage/hash-files.js';
import { helperThreadsFor, prestartHashThreads, startHashingAhead, stopPrestartedHashThreads } from '../storage/hash-on-cores.js';
import { UsageError } from '../errors.js';
import { parseBytes } from './parse.js';

const MIN_PIECE_LENGTH = 16 * 1024;
const MAX_PIECE_LENGTH = 64 * 1024 * 1024;

/** make-torrent's -l: a power of two from 16K to 64M, in any form parseBytes reads. */
export function parsePieceLength(value: string): number {
  const n = parseBytes(value, '--piece-length');
  if (n < MIN_PIECE_LENGTH || n > MAX_PIECE_LENGTH || (n & (n - 1)) !== 0) {
    throw new UsageError(`--piece-length: must be a power of two from 16K to 64M (e.g. 256K, 1M), got ${value}`);
  }
  return n;
}

/** make-torrent's options that take a value (defineMakeTorrent in make-torrent.ts; keep in step). */
const VALUE_OPTIONS = new Set(['-a', '--announce', '-o', '--output', '-l', '--piece-length', '--comment', '--web-seed', '--log-level']);
const FLAG_OPTIONS = new Set(['--private', '--no-date', '--force', '--json']);
const PIECE_LENGTH_OPTIONS = new Set(['-l', '--piece-length']);

export interface EarlyArgs {
  path: string;
  /** The last -l/--piece-length value, unparsed. */
  pieceLength?: string;
}

/** The path and -l of a plain `make-torrent` command line, or undefined for anything else. */
export function sniffMakeTorrentArgs(argv: readonly string[]): EarlyArgs | undefined {
  let path: string | undefined;
  let pieceLength: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.length > 1 && arg.startsWith('-')) {
      if (FLAG_OPTIONS.has(arg)) continue;
      let name = arg;
      let value: string | undefined;
      const eq = arg.indexOf('=');
      if (arg.startsWith('--') && eq > 0) {
        name = arg.slice(0, eq);
        value = arg.slice(eq + 1);
      } else if (!arg.startsWith('--') && arg.length > 2) {
        name = arg.slice(0, 2);
        value = arg.slice(2);
      } else {
        value = argv[++i];
        if (value === undefined || value.startsWith('-')) return undefined;
      }
      if (!VALUE_OPTIONS.has(name)) return undefined;
      if (PIECE_LENGTH_OPTIONS.has(name)) pieceLength = value;
      continue;
    }
    if (path !== undefined) return undefined;
    path = arg;
  }
  if (path === undefined || path === '') return undefined;
  return pieceLength === undefined ? { path } : { path, pieceLength };
}

/** The piece length the CLI will use given -l `value`, or undefined when it will refuse the value. */
function guessPieceLength(value: string | undefined, totalBytes: number): number | undefined {
  if (value === undefined) return autoPieceLength(totalBytes);
  try {
    return parsePieceLength(value);
  } catch {
    return undefined;
  }
}

let early: { path: string; listing: Promise<ContentListing> } | undefined;
/** When (Date.now()) the hashing of `path` started ahead, for the CLI's "hashed in". */
let hashingSince: { path: string; at: number } | undefined;

/**
 * Called first thing by the make-torrent executable with its arguments. For
 * a file or folder big enough to need helper threads, starts them, lists the
 * content and starts hashing it ahead; returns at once.
 */
export function startMakeTorrentEarly(argv: readonly string[]): void {
  const args = sniffMakeTorrentArgs(argv);
  if (!args) return;
  let st;
  try {
    st = statSync(args.path);
  } catch {
    return; // the CLI says why
  }
  let file: { absPath: string; length: number; pieceLength: number } | undefined;
  if (st.isFile()) {
    const pieceLength = guessPieceLength(args.pieceLength, st.size);
    if (pieceLength === undefined || helperThreadsFor(st.size, pieceLength) === 0) return;
    // What listContent lists for a file, known now: no need to wait for the listing.
    file = { absPath: resolve(args.path), length: st.size, pieceLength };
  } else if (!st.isDirectory()) {
    return;
  }
  // Booting first: a worker takes the longest to get going, and its job follows it in its queue.
  prestartHashThreads();
  const listing = listContent(args.path);
  early = { path: args.path, listing };
  // This thread hashes too, between the steps of the CLI's start-up (make-torrent.ts joins then).
  if (file) {
    hashingSince = { path: args.path, at: Date.now() };
    startHashingAhead([file], file.pieceLength, { thisThreadToo: true });
  }
  listing.then(
    (content) => {
      if (file) return;
      const pl = guessPieceLength(args.pieceLength, content.totalBytes);
      if (pl === undefined) return;
      hashingSince = { path: args.path, at: Date.now() };
      startHashingAhead(content.files, pl, { thisThreadToo: true });
    },
    () => undefined, // the CLI reports it when it takes the listing
  );
}

/** The listing of `path` started by startMakeTorrentEarly, once, or undefined. */
export function takeEarlyListing(path: string): Promise<ContentListing> | undefined {
  const taken = early?.path === path ? early.listing : undefined;
  early = undefined;
  return taken;
}

/**
 * When the hashing of `path` started ahead (Date.now()), if it did, so that
 * the CLI's "hashed in" counts from there (from a little too early in the
 * rare case where the CLI does not join that job).
 */
export function earlyHashingSince(path: string): number | undefined {
  return hashingSince?.path === path ? hashingSince.at : undefined;
}

/** Stops whatever startMakeTorrentEarly started and nobody joined (after the CLI returns). Idempotent. */
export function stopMakeTorrentEarly(): void {
  early = undefined;
  hashingSince = undefined;
  stopPrestartedHashThreads();
}
