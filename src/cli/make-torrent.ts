/**
 * `make-torrent <path>` (also `peer make-torrent`): lists the content, hashes
 * it on every core with bounded memory, writes the .torrent atomically.
 */
import { Command, Option } from 'commander';
import { stat } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { SwarmError, UsageError } from '../errors.js';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../log.js';
import { buildTorrent, autoPieceLength, CREATED_BY } from '../metainfo/create.js';
import { parseTorrent } from '../metainfo/parse.js';
import { magnetOf } from '../metainfo/magnet.js';
import type { Metainfo } from '../metainfo/types.js';
import { hashFiles, listContent, type ContentListing } from '../storage/hash-files.js';
import { hashFilesOnCores } from '../storage/hash-on-cores.js';
import { HashPool } from '../util/hash-pool.js';
import { AtomicWriteError, writeFileAtomic } from '../util/atomic-write.js';
import { collect } from './parse.js';
import { earlyHashingSince, parsePieceLength, takeEarlyListing } from './make-torrent-early.js';
import { printJson } from './common.js';
import { createProgress, formatBytes } from './progress.js';

export interface MakeTorrentOptions {
  /** Tracker URLs; the first is `announce`, each its own tier. */
  announce?: string[];
  webSeeds?: string[];
  /** Bytes; a power of two. Default: autoPieceLength(total). */
  pieceLength?: number;
  private?: boolean;
  comment?: string;
  /** Seconds since the epoch, or undefined for none. */
  creationDate?: number;
  signal?: AbortSignal;
  /** Hash progress in bytes. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Threads hashing (default: one per core; with blockingReads this thread is one of them). */
  threads?: number;
  /** The listing of `path` when the caller already made it. */
  content?: ContentListing;
  /**
   * True only when nothing else runs on this event loop (the CLI): then this
   * thread hashes too, with blocking reads, beside one worker per other core
   * (hashFilesOnCores). Otherwise the HashPool hashes and reads never block.
   */
  blockingReads?: boolean;
}

export interface MadeTorrent {
  torrent: Uint8Array;
  meta: Metainfo;
}

/** Makes a torrent of a file or folder in memory (the CLI and the daemon's upload both use it). */
export async function makeTorrent(path: string, opts: MakeTorrentOptions = {}): Promise<MadeTorrent> {
  const content = opts.content ?? (await listContent(path));
  if (content.totalBytes === 0) throw new UsageError(`${path} holds only empty files: a torrent needs at least one byte of data`);
  const pieceLength = opts.pieceLength ?? autoPieceLength(content.totalBytes);
  const pieces = await hashContent(content, pieceLength, opts);
  const torrent = buildTorrent({
    name: content.name,
    files: content.multiFile ? content.files.map((f) => ({ path: f.path, length: f.length })) : content.totalBytes,
    pieceLength,
    pieces,
    ...(opts.announce ? { announce: opts.announce } : {}),
    ...(opts.webSeeds ? { urlList: opts.webSeeds } : {}),
    private: opts.private === true,
    ...(opts.comment !== undefined ? { comment: opts.comment } : {}),
    createdBy: CREATED_BY,
    ...(opts.creationDate !== undefined ? { creationDate: opts.creationDate } : {}),
  });
  return { torrent, meta: parseTorrent(torrent) };
}

async function hashContent(content: ContentListing, pieceLength: number, opts: MakeTorrentOptions): Promise<Uint8Array> {
  const common = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) };
  // Nothing else on this event loop: every thread, this one included, reads and hashes its own chunks.
  if (opts.blockingReads === true) return hashFilesOnCores(content.files, pieceLength, { ...common, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
  const pool = new HashPool(opts.threads !== undefined ? { threads: opts.threads } : {});
  try {
    return await hashFiles(content.files, pieceLength, { pool, ...common });
  } finally {
    await pool.close();
  }
}

function existsError(target: string): UsageError {
  return new UsageError(`${target} already exists: add --force to overwrite it, or choose another file with -o`);
}

interface RawMakeTorrent {
  announce?: string[];
  output?: string;
  pieceLength?: string;
  private?: boolean;
  comment?: string;
  webSeed?: string[];
  date: boolean;
  force?: boolean;
  json?: boolean;
  logLevel: LogLevel;
}

function checkUrl(url: string, option: string, schemes: string[]): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`${option}: not a URL: ${JSON.stringify(url)}`);
  }
  if (!schemes.includes(u.protocol)) throw new UsageError(`${option}: expected a ${schemes.map((s) => s.slice(0, -1)).join(', ')} URL, got ${JSON.stringify(url)}`);
  return url;
}

export async function runMakeTorrent(path: string, raw: RawMakeTorrent): Promise<void> {
  setLogLevel(raw.logLevel);
  const announce = (raw.announce ?? []).map((u) => checkUrl(u, '--announce', ['http:', 'https:', 'udp:', 'ws:', 'wss:']));
  const webSeeds = (raw.webSeed ?? []).map((u) => checkUrl(u, '--web-seed', ['http:', 'https:', 'ftp:']));
  const pieceLength = raw.pieceLength !== undefined ? parsePieceLength(raw.pieceLength) : undefined;
  // List first (cheap) so the default output name and every input error come before hashing.
  // The make-torrent bin may have started this very call already (make-torrent-early.ts).
  const content = await (takeEarlyListing(path) ?? listContent(path));
  const output = resolve(raw.output ?? join('torrents', `${content.name}.torrent`));
  const existing = await stat(output).catch(() => undefined);
  if (existing?.isDirectory()) throw new UsageError(`-o ${raw.output ?? output}: is a folder; give the path of the .torrent file to write`);
  if (existing && !raw.force) throw existsError(output);
  if (content.links.length > 0) {
    const shown = content.links.slice(0, 5).join(', ') + (content.links.length > 5 ? `, and ${content.links.length - 5} more` : '');
    process.stderr.write(`note: followed ${content.links.length === 1 ? 'a symlink' : 'symlinks'} (${shown}); peer seed never reads through a symlink, so seed this torrent from a copy with the links replaced by what they point to\n`);
  }
  if (content.multiFile && output.startsWith(resolve(path) + sep)) {
    process.stderr.write(`note: ${output} lies inside the folder being shared; it is not in this torrent, but a later run would include it\n`);
  }

  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new SwarmError('interrupted: no torrent was written', 'EINTERRUPTED', 1));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress({ label: 'hashing', total: content.totalBytes, unit: 'bytes' });
  let made: MadeTorrent;
  const started = earlyHashingSince(path) ?? Date.now();
  try {
    made = await makeTorrent(path, {
      announce,
      webSeeds,
      ...(pieceLength !== undefined ? { pieceLength } : {}),
      private: raw.private === true,
      ...(raw.comment !== undefined ? { comment: raw.comment } : {}),
      ...(raw.date ? { creationDate: Math.floor(Date.now() / 1000) } : {}),
      signal: controller.signal,
      content,
      // The CLI has nothing else on its event loop: blocking reads cost less CPU.
      blockingReads: true,
      onProgress: (done) => progress.update(done),
    });
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  // No fsync: a .torrent can be made again from its content (mktorrent does not sync either); the rename keeps it whole.
  await writeFileAtomic(output, made.torrent, { overwrite: raw.force === true, sync: false }).catch((err: unknown) => {
    throw err instanceof AtomicWriteError && err.step === 'exists' ? existsError(output) : err;
  });

  const { meta } = made;
  const magnet = magnetOf(meta);
  if (raw.json) {
    printJson({
      infoHash: meta.infoHashHex,
      magnet,
      output,
      name: meta.info.name,
      length: meta.info.length,
      pieceLength: meta.info.pieceLength,
      pieces: meta.info.pieceCount,
    });
    return;
  }
  const secs = (Date.now() - started) / 1000;
  const shownOutput = relative(process.cwd(), output).startsWith('..') ? output : relative(process.cwd(), output);
  process.stdout.write(
    [
      `created ${shownOutput}`,
      `  name:       ${meta.info.name}${meta.info.multiFile ? '/' : ''}`,
      `  size:       ${formatBytes(meta.info.length)} (${meta.info.length} bytes) in ${meta.info.files.length} file${meta.info.files.length === 1 ? '' : 's'}`,
      `  pieces:     ${meta.info.pieceCount} x ${formatBytes(meta.info.pieceLength)}`,
      `  hashed in:  ${secs.toFixed(1)} s (${formatBytes(Math.round(meta.info.length / Math.max(secs, 0.001)))}/s)`,
      `  info-hash:  ${meta.infoHashHex}`,
      `  magnet:     ${magnet}`,
      '',
    ].join('\n'),
  );
}

/** Adds make-torrent's arguments and options (the contract in ../shared/DESIGN.md) to `cmd`. */
export function defineMakeTorrent(cmd: Command): Command {
  return cmd
    .description('make a .torrent (BEP 3, SHA-1 pieces) of a file or a folder')
    .argument('<path>', 'the file or folder to share')
    // Repeatable: no default value shown ("(default: [])" said nothing); read as `?? []`.
    .option('-a, --announce <url>', 'tracker URL (repeatable; the first is the main one, each is its own tier)', collect)
    .option('-o, --output <file>', 'where to write the .torrent (default torrents/<name>.torrent)')
    .option('-l, --piece-length <bytes>', 'piece length: 262144, 256K, 1M... (default: a power of two giving 1,000-2,000 pieces)')
    .option('--private', 'mark the torrent private (BEP 27: trackers only, no DHT or PEX)')
    .option('--comment <text>', 'free text stored in the torrent')
    .option('--web-seed <url>', 'web seed URL (BEP 19, repeatable)', collect)
    .option('--no-date', 'leave out the creation date (the same input then gives the same file)')
    .option('--force', 'overwrite the output if it exists')
    .option('--json', 'print one JSON object on stdout: infoHash, magnet, output, name, length, pieceLength, pieces')
    .addOption(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS as string[]).default('warn'))
    .addHelpText(
      'after',
      `
A folder's files go in sorted by path. Hidden files are included, like
mktorrent does. Symlinks are followed inside the folder (with a note: peer
seed never reads through one); one that points outside it is refused, as are
sockets, FIFOs and devices. A progress bar shows on stderr when it is a
terminal.

Examples:
  make-torrent ./photos -a http://192.168.1.10:6969/announce   # -> torrents/photos.torrent
  make-torrent big.iso -l 4M -o big.torrent --force --json
  make-torrent ./video.mkv --web-seed http://192.168.1.10:8000/video.mkv`,
    )
    .action((path: string, raw: RawMakeTorrent) => runMakeTorrent(path, raw));
}

/** `peer make-torrent`. */
export function registerMakeTorrent(program: Command): void {
  defineMakeTorrent(program.command('make-torrent'));
}

/** The standalone `make-torrent` executable. */
export function buildMakeTorrentProgram(): Command {
  return defineMakeTorrent(new Command('make-torrent')).version('0.1.0').showHelpAfterError('(run with --help for usage)');
}

