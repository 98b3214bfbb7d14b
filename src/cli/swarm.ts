/**
 * What `peer seed` and `peer leech` share: resolve options, start a session
 * with one torrent, render its events (JSON lines on stdout with --json, a
 * progress bar on a terminal otherwise), and stop cleanly on SIGINT/SIGTERM
 * (trackers told, resume state saved, exit 0).
 */
import { resolve } from 'node:path';
import { getLogger } from '../log.js';
import { UsageError, errorMessage } from '../errors.js';
import { loadTorrentFile } from '../metainfo/load.js';
import { isMagnet, parseMagnet } from '../metainfo/magnet.js';
import type { Metainfo } from '../metainfo/types.js';
import { Session, contentPathIn } from '../session/session.js';
import type { Torrent } from '../session/torrent.js';
import { checkHostResolves, parseCommonOptions, printJson, type CommonOptions } from './common.js';
import { createProgress, formatDuration, type Progress } from './progress.js';
import { StatusLine, cutToWidth } from './status-line.js';
import { onStopSignal } from './signals.js';
import { printable, stopLine } from './swarm-status.js';
import { peerSources, watch, type SwarmCommandOptions } from './swarm-watch.js';

export type { SwarmCommandOptions };
import type { ApiServer } from '../api/server.js';

export async function runSwarm(cmd: SwarmCommandOptions): Promise<void> {
  const runStarted = Date.now();
  const common = parseCommonOptions(cmd.raw);
  await checkHostResolves(common.settings.host);
  const log = getLogger(cmd.mode);
  const magnet = isMagnet(cmd.target) ? parseMagnet(cmd.target) : undefined;
  if (magnet && cmd.mode === 'seed') throw new UsageError('seed needs the .torrent file, not a magnet link');
  const metainfo = magnet ? undefined : await loadTorrentFile(cmd.target);

  const session = new Session({
    settings: common.settings,
    stateDir: common.stateDir,
    logger: log,
    ...(common.tracker !== undefined ? { trackerPort: common.tracker } : {}),
    dht: common.dht ? { bootstrap: common.bootstrap } : false,
  });
  let api: ApiServer | undefined;
  let stopping: Promise<void> | undefined;
  /** The torrent once added, for the summary on Ctrl-C. */
  let running: Torrent | undefined;
  const shutdown = (): Promise<void> => (stopping ??= (async () => {
    await api?.stop();
    await session.stop();
  })());
  // The one status line of this run (created here so that a Ctrl-C can take it away before the closing lines).
  const line = new StatusLine();
  const onSignal = (): void => {
    // On a terminal the line is wiped (with the ^C echoed on it); elsewhere a new line starts after the ^C.
    const wasLive = line.close();
    if (!common.json && !common.quiet) process.stderr.write(`${wasLive ? '' : '\n'}stopping: telling peers and trackers, saving state...\n`);
    void shutdown().then(() => {
      if (running) {
        const s = running.stats();
        if (common.json) printJson({ event: 'summary', infoHash: s.infoHash, downloaded: s.downloaded, uploaded: s.uploaded, ratio: s.downloaded > 0 ? s.uploaded / s.downloaded : null, left: s.left, elapsedMs: Date.now() - runStarted });
        else {
          line.close();
          process.stderr.write(`${stopLine(s, running.done)}\n`);
        }
      }
      process.exit(0);
    });
  };
  const offSignal = onStopSignal(onSignal);

  try {
    await session.start();
    let torrent: Torrent;
    /** The "looking for peers" line already printed (a magnet's, before its metadata): not said twice. */
    let saidSources: string | undefined;
    if (magnet) {
      const sources = peerSources({ trackers: magnet.trackers.length, webSeeds: 0, peers: common.peers.length + magnet.peers.length }, common, session);
      if (common.json) printJson({ event: 'metadata', infoHash: magnet.infoHashHex, state: 'fetching', name: magnet.name ?? null, sources: sources.active });
      else if (!common.quiet) process.stderr.write(`fetching the metadata of ${printable(magnet.name ?? magnet.infoHashHex)} from peers...\n${sources.text}\n`);
      saidSources = sources.text;
      // Until a peer sends the metadata nothing else moves: say so after a while, and again now and then.
      const fetchStarted = Date.now();
      let nextNote = METADATA_WAIT_NOTE_MS;
      const note = setInterval(() => {
        if (Date.now() - fetchStarted < nextNote) return;
        nextNote *= 2;
        if (!common.json && !common.quiet) process.stderr.write(`still no metadata after ${formatDuration(Date.now() - fetchStarted)}: no peer has sent it yet; ${sources.text}\n`);
      }, 1000);
      note.unref();
      try {
        torrent = await session.addMagnet(magnet, { outDir: resolve(cmd.outDir ?? 'downloads'), peers: common.peers, recheck: cmd.recheck ?? false, sequential: cmd.sequential ?? false, ...(cmd.select ? { select: cmd.select } : {}) });
      } finally {
        clearInterval(note);
      }
      if (common.json) printJson({ event: 'metadata', infoHash: magnet.infoHashHex, state: 'received', name: torrent.metainfo.info.name, elapsedMs: Date.now() - fetchStarted });
      else if (!common.quiet) process.stderr.write(`metadata received after ${formatDuration(Date.now() - fetchStarted)}: ${printable(torrent.metainfo.info.name)}\n`);
    } else {
      torrent = await addWithVerifyProgress(session, metainfo!, resolve(torrentContentPath(cmd, metainfo!)), cmd, common);
      if (cmd.mode === 'seed') checkSeedData(torrent, resolve(torrentContentPath(cmd, metainfo!)), cmd.allowPartial === true, common);
    }
    if (cmd.limits) torrent.setRateLimits(cmd.limits);
    if (common.api !== undefined) {
      // --api: the same HTTP API and dashboard as `peer start`, on 127.0.0.1, with the same rules:
      // /download serves the torrents' own files only; uploads go to ./uploads, API downloads to the download folder.
      const contentPath = magnet ? resolve(contentPathIn(cmd.outDir ?? 'downloads', torrent.metainfo)) : resolve(torrentContentPath(cmd, metainfo!));
      const { ApiServer } = await import('../api/server.js'); // loaded only with --api
      api = new ApiServer({
        session,
        host: '127.0.0.1',
        port: common.api,
        downloadsDir: resolve(cmd.mode === 'leech' ? (cmd.outDir ?? 'downloads') : 'downloads'),
        uploadsDir: resolve('uploads'),
        contentPathOf: (hex) => (hex === torrent.infoHashHex ? contentPath : undefined),
        privateDirs: [common.stateDir],
        logger: log.child({ component: 'api' }),
      });
      await api.start(); // a port in use is a UsageError from there (util/listen-errors.ts)
      if (!common.json && !common.quiet) process.stderr.write(`dashboard: ${api.url}\n`);
    }
    running = torrent;
    const contentPath = resolve(cmd.mode === 'seed' ? torrentContentPath(cmd, torrent.metainfo) : contentPathIn(cmd.outDir ?? 'downloads', torrent.metainfo));
    await watch(log, torrent, torrent.metainfo, common, cmd, session, shutdown, line, contentPath, saidSources);
  } catch (err) {
    await shutdown();
    throw err;
  } finally {
    offSignal();
  }
}

/** A magnet's metadata not in after this long: one line says so (then after twice as long, and so on). */
const METADATA_WAIT_NOTE_MS = 30_000;

/** Without a terminal, a verification in progress prints a line this often. */
const VERIFY_LINE_EVERY_MS = 5_000;

/**
 * A seeder whose data does not match the torrent would only look busy: no
 * piece at all is an error, some pieces too unless --allow-partial says so.
 */
function checkSeedData(torrent: Torrent, path: string, allowPartial: boolean, common: CommonOptions): void {
  const { have, pieces } = torrent.stats();
  if (have === pieces) return;
  if (have === 0) throw new UsageError(`none of the data at ${path} matches ${torrent.metainfo.info.name} (0 of ${pieces} pieces): is --data the content this torrent was made from?`);
  if (!allowPartial) {
    throw new UsageError(`only ${have} of ${pieces} pieces of ${path} match ${torrent.metainfo.info.name}: fix or complete the data (then --recheck), download the rest with peer leech, or seed what is there with --allow-partial`);
  }
  if (!common.json && !common.quiet) process.stderr.write(`seeding ${have} of ${pieces} pieces (--allow-partial): peers get what is here\n`);
}

/** seed: the content given with --data (default downloads/<name>); leech: <out>/<name>. */
function torrentContentPath(cmd: SwarmCommandOptions, metainfo: Metainfo): string {
  return cmd.mode === 'seed' ? (cmd.dataPath ?? contentPathIn('downloads', metainfo)) : contentPathIn(cmd.outDir ?? 'downloads', metainfo);
}

async function addWithVerifyProgress(session: Session, metainfo: Metainfo, contentPath: string, cmd: SwarmCommandOptions, common: CommonOptions): Promise<Torrent> {
  // Verifying the data on disk can take minutes: a bar on a terminal, elsewhere a plain line every few seconds.
  const human = !common.json && !common.quiet;
  const name = printable(metainfo.info.name); // a name from a torrent or magnet of anyone's making
  let bar: Progress | undefined;
  let verifyStarted = 0;
  let lastLine = 0;
  let toCheck = 0;
  try {
    const torrent = await session.addTorrent(metainfo, {
      contentPath,
      mode: cmd.mode,
      recheck: cmd.recheck ?? false,
      sequential: cmd.sequential ?? false,
      ...(cmd.select ? { select: cmd.select } : {}),
      peers: common.peers,
      onVerifyProgress: (done, total) => {
        if (!human) return;
        toCheck = total;
        if (!verifyStarted) {
          verifyStarted = Date.now();
          lastLine = verifyStarted;
          if (process.stderr.isTTY) bar = createProgress({ label: `verifying ${cutToWidth(name, 24)}`, total, unit: 'items' });
          else process.stderr.write(`verifying ${name}: ${total} piece${total === 1 ? '' : 's'} to check on disk (${contentPath})\n`);
        }
        if (bar) bar.update(done);
        else if (Date.now() - lastLine >= VERIFY_LINE_EVERY_MS && done < total) {
          lastLine = Date.now();
          process.stderr.write(`verifying ${name}: ${((100 * done) / total).toFixed(1)}% (${done} of ${total} pieces)\n`);
        }
      },
    });
    bar?.stop();
    bar = undefined;
    if (human && verifyStarted) {
      const { have, pieces } = torrent.stats();
      process.stderr.write(`verified ${name}: ${have} of ${pieces} pieces on disk are good (${toCheck} checked in ${formatDuration(Date.now() - verifyStarted)})\n`);
    }
    return torrent;
  } catch (err) {
    // seed without --data looks in downloads/: say so when nothing is there.
    const hint = cmd.mode === 'seed' && cmd.dataPath === undefined && /^missing file /.test(errorMessage(err)) ? ' (give the content with --data PATH; without it, seed looks in downloads/)' : '';
    throw new UsageError(`cannot ${cmd.mode} ${metainfo.info.name}: ${errorMessage(err)}${hint}`, { cause: err });
  } finally {
    bar?.stop();
  }
}

