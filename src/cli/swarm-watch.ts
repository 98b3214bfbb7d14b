/**
 * A running `peer seed` / `peer leech` as the user sees it (issue 16): the
 * lines saying where it stands (sources of peers, resume, trackers,
 * messages, no peers for a while), the status line on a terminal or a plain
 * line now and then elsewhere, the closing line; with --json the events.
 */
import type { getLogger } from '../log.js';
import type { Metainfo } from '../metainfo/types.js';
import type { Session } from '../session/session.js';
import type { Torrent, TorrentStats } from '../session/torrent.js';
import { printJson, type CommonOptions, type parseCommonOptions } from './common.js';
import { formatBytes, formatDuration } from './progress.js';
import { formatHostPort } from '../util/address.js';
import { hostWords } from '../util/listen-errors.js';
import type { StatusLine } from './status-line.js';
import { completeLine, downloadFields, printable, seedFields, trackerReason } from './swarm-status.js';

export interface SwarmCommandOptions {
  mode: 'seed' | 'leech';
  target: string;
  /** seed: the content itself; leech: the folder the content is saved in. */
  dataPath?: string;
  outDir?: string;
  exitOnComplete?: boolean;
  recheck?: boolean;
  /** leech: pieces in order (a read-ahead window first). */
  sequential?: boolean;
  /** seed: serve even when only some pieces of the data match (--allow-partial). */
  allowPartial?: boolean;
  /** leech: the files to download (--only / --skip globs). */
  select?: { only: string[]; skip: string[] };
  /** This torrent's own rate limits (--upload-limit, --download-limit; bytes/s, 0 = none). */
  limits?: { uploadBytesPerS?: number; downloadBytesPerS?: number };
  raw: Parameters<typeof parseCommonOptions>[0];
}

function progressEvent(s: TorrentStats): Record<string, unknown> {
  return {
    event: 'progress',
    infoHash: s.infoHash,
    have: s.have,
    pieces: s.pieces,
    downloaded: s.downloaded,
    uploaded: s.uploaded,
    peers: s.peers,
    downloadRate: s.downloadRate,
    uploadRate: s.uploadRate,
  };
}

/** Without a terminal, a seeder's line comes every minute, and when its peers or its upload change but not more often than this. */
const SEED_CHANGE_MIN_MS = 5_000;

/** After this long downloading with no peer connected, one line says so. */
const NO_PEERS_WARN_MS = 30_000;

/** What can find peers for a torrent or a magnet: its trackers and web seeds, the peers given. */
interface SourceCounts {
  trackers: number;
  webSeeds: number;
  /** --peer flags, and the x.pe peers of a magnet. */
  peers: number;
}

export function countsOf(metainfo: Metainfo, common: CommonOptions): SourceCounts {
  return { trackers: metainfo.announceList.flat().length, webSeeds: metainfo.urlList.length, peers: common.peers.length };
}

/** The ways this run can find peers, and a sentence for the user (with a hint when there is none). */
export function peerSources(counts: SourceCounts, common: CommonOptions, session: Session): { active: string[]; text: string } {
  const active: string[] = [];
  const { trackers } = counts;
  if (trackers > 0) active.push(`tracker${trackers > 1 ? `s (${trackers})` : ''}`);
  if (session.dht) {
    // A DHT with no way in finds nothing: say what it has to go on (and what to give when nothing).
    const known = (session.dht.stats().nodes ?? 0) + (session.dht6?.stats().nodes ?? 0);
    const plural = (n: number, w: string): string => `${n} ${w}${n === 1 ? '' : 's'}`;
    if (common.bootstrap.length) active.push(`DHT (${plural(common.bootstrap.length, 'bootstrap node')})`);
    else if (known > 0) active.push(`DHT (${plural(known, 'node')} known from the last run)`);
    else if (session.lsdRunning) active.push('DHT (no bootstrap: nodes found on the LAN only)');
    else active.push('DHT (no bootstrap node and no LSD to find one: give --bootstrap HOST:PORT)');
  }
  if (session.lsdRunning) active.push('LSD (local network multicast)');
  if (counts.peers) active.push(`--peer (${counts.peers})`);
  if (counts.webSeeds) active.push(`web seed${counts.webSeeds > 1 ? 's' : ''} (${counts.webSeeds})`);
  if (active.length === 0) {
    return {
      active,
      text: `looking for peers: nothing can find any (no tracker, no DHT, no local discovery, no --peer): give --peer HOST:PORT, or --bootstrap HOST:PORT without --no-dht`,
    };
  }
  return { active, text: `looking for peers: ${active.join(', ')}` };
}

/**
 * Renders a running torrent until it ends (exit on complete) or the process
 * is stopped: the lines saying where it stands, the status line (or plain
 * lines without a terminal), and with --json the events.
 */
export function watch(
  log: ReturnType<typeof getLogger>,
  torrent: Torrent,
  metainfo: Metainfo,
  common: CommonOptions,
  cmd: SwarmCommandOptions,
  session: Session,
  shutdown: () => Promise<void>,
  line: StatusLine,
  contentPath: string,
  saidSources?: string,
): Promise<void> {
  const name = printable(metainfo.info.name); // a name from a torrent or magnet of anyone's making: no escape sequences on stderr
  const where = hostWords(common.settings.host) === 'every address' ? `every address, port ${session.port}` : formatHostPort(common.settings.host, session.port);
  if (!common.json && !common.quiet) {
    process.stderr.write(`${cmd.mode === 'seed' ? 'seeding' : 'downloading'} ${name} (${metainfo.infoHashHex}) — listening on ${where}\n`);
    if (session.tracker) process.stderr.write(`tracker: ${session.tracker.announceUrl} (HTTP and UDP)\n`);
  }
  const first = torrent.stats();
  const total = first.wanted;
  const skipped = torrent.filePriorities.filter((p) => p === 0).length;
  if (!common.json && !common.quiet && skipped > 0) {
    process.stderr.write(`files: ${torrent.filePriorities.length - skipped} of ${torrent.filePriorities.length} chosen (${formatBytes(total)} of ${formatBytes(metainfo.info.length)})${cmd.select ? '' : ', as in the last run (--only "**" takes them all)'}\n`);
  }
  // Where we stand on start: what a resume kept, and where peers can come from (a hint when nowhere).
  const sources = peerSources(countsOf(metainfo, common), common, session);
  if (common.json) {
    printJson({ event: 'started', infoHash: metainfo.infoHashHex, name: metainfo.info.name, mode: cmd.mode, path: contentPath, sources: sources.active });
    if (torrent.resumeOutcome !== 'fresh' && first.have > 0) printJson({ event: 'resumed', infoHash: metainfo.infoHashHex, have: first.have, pieces: first.pieces, how: torrent.resumeOutcome });
  } else if (!common.quiet) {
    if (torrent.resumeOutcome !== 'fresh' && cmd.mode === 'leech' && first.have > 0) {
      process.stderr.write(`resumed: ${first.have} of ${first.pieces} pieces already here (${torrent.resumeOutcome === 'trusted' ? 'resume state trusted' : 'verified on disk'})\n`);
    }
    if ((!torrent.done || cmd.mode === 'seed') && sources.text !== saidSources) process.stderr.write(`${sources.text}\n`);
  }
  const startedAt = Date.now();
  const peersSeen = new Set<string>();
  const human = !common.json && !common.quiet;
  // Not a terminal: a plain summary now and then instead of a live line (a log file keeps it).
  let lastSummary = 0;
  let lastSummaryPeers = 0;
  let lastSummaryUploaded = 0;
  const summaryEveryMs = (): number => (torrent.done ? 60_000 : 5_000);

  return new Promise<void>((resolveDone) => {
    const finish = (): void => {
      line.close();
      void shutdown().then(resolveDone);
    };
    let lonelySince = Date.now();
    let lonelyWarned = false;
    torrent.on('torrent:progress', (s) => {
      if (common.json) return printJson(progressEvent(s));
      if (!human) return;
      // Downloading and nobody to download from for a while: say so once, with what is being tried.
      if (s.peers > 0 || torrent.done) {
        lonelySince = Date.now();
        lonelyWarned = false;
      } else if (!lonelyWarned && Date.now() - lonelySince >= NO_PEERS_WARN_MS) {
        lonelyWarned = true;
        process.stderr.write(`no peers for ${Math.round((Date.now() - lonelySince) / 1000)} s; ${sources.text}\n`);
      }
      const fields = torrent.done ? seedFields(name, s) : downloadFields(name, s, Date.now() - startedAt);
      if (line.live) line.show(fields);
      else if (Date.now() - lastSummary >= summaryEveryMs() || (torrent.done && (s.peers !== lastSummaryPeers || s.uploaded !== lastSummaryUploaded) && Date.now() - lastSummary >= SEED_CHANGE_MIN_MS)) {
        // Seeding: a line a minute, and one when peers come or go or data goes out (at most every few seconds).
        lastSummary = Date.now();
        lastSummaryPeers = s.peers;
        lastSummaryUploaded = s.uploaded;
        line.summary(fields);
      }
    });
    torrent.on('peer:connected', (p) => {
      peersSeen.add(p.address);
      if (common.json) printJson({ event: 'peer', infoHash: metainfo.infoHashHex, state: 'connected', address: p.address, outgoing: p.outgoing, client: p.client, fast: p.fast });
      log.info(`peer connected: ${p.address} (${p.outgoing ? 'outgoing' : 'incoming'}, ${printable(p.client) || 'unknown client'}${p.fast ? ', fast extension' : ''})`);
    });
    torrent.on('peer:disconnected', (p) => {
      if (common.json) printJson({ event: 'peer', infoHash: metainfo.infoHashHex, state: 'gone', address: p.address, reason: p.reason });
      log.info(`peer disconnected: ${p.address}: ${p.reason}`);
    });
    // Trackers: every announce and failure with --json; on stderr the first answer, each failure
    // (with when the next try is: the retries back off), and the answer that ends a run of failures.
    let trackerFailing = false;
    let trackerHeard = false;
    torrent.on('tracker:announced', (a) => {
      if (common.json) printJson({ event: 'tracker', infoHash: metainfo.infoHashHex, state: 'announced', url: a.url, peers: a.peers });
      else if (!common.quiet && (!trackerHeard || trackerFailing)) {
        process.stderr.write(`tracker ${trackerFailing ? 'reachable again' : 'answered'}: ${printable(a.url)} (${a.peers} peer${a.peers === 1 ? '' : 's'})\n`);
      }
      trackerHeard = true;
      trackerFailing = false;
    });
    torrent.on('tracker:failed', (f) => {
      trackerFailing = true;
      const reason = trackerReason(f.error, f.url);
      if (common.json) printJson({ event: 'tracker', infoHash: metainfo.infoHashHex, state: 'failed', url: f.url, error: reason, failures: f.failures, retryInMs: f.retryInMs });
      else if (!common.quiet) {
        const more = metainfo.announceList.flat().length > 1 ? 'no tracker answered; last tried ' : 'tracker unreachable: ';
        // The reason may be a tracker's own words (its failure reason): printed harmless, as a message is.
        process.stderr.write(`${more}${printable(f.url)} (${printable(reason)}); retrying in ${formatDuration(f.retryInMs)}${f.failures > 1 ? ` (${f.failures} tries failed in a row)` : ''}\n`);
      }
    });
    // A text from a peer (BEP 10 swarm_msg, `peer message`): shown, its control characters made harmless.
    torrent.on('message:received', (m) => {
      if (common.json) printJson({ event: 'message', infoHash: metainfo.infoHashHex, from: m.from, text: m.text });
      else if (!common.quiet) process.stderr.write(`message from ${m.from}: ${printable(m.text)}\n`);
    });
    torrent.on('peer:banned', (p) => log.warn(`banned ${p.host}: ${p.reason}`));
    torrent.on('torrent:error', (err) => {
      if (common.json) printJson({ event: 'error', message: err.message });
      else process.stderr.write(`error: ${err.message}\n`);
    });
    // Downloading paused (the disk refuses writes) and carrying on again; the error event said why.
    torrent.on('torrent:paused', (p) => {
      if (common.json) printJson({ event: 'paused', infoHash: p.infoHash, reason: p.reason });
    });
    torrent.on('torrent:resumed', (p) => {
      if (common.json) printJson({ event: 'unpaused', infoHash: p.infoHash });
      else if (!common.quiet) process.stderr.write(`downloading again: ${name} (the disk takes writes again)\n`);
    });
    const onComplete = (c: { infoHash: string; downloaded: number; elapsedMs: number }): void => {
      if (common.json) printJson({ event: 'complete', infoHash: c.infoHash, downloaded: c.downloaded, elapsedMs: c.elapsedMs });
      else {
        // The line goes, the summary comes; seeding on, the line comes back below it.
        if (cmd.exitOnComplete) line.close();
        else line.clear();
        const already = c.elapsedMs === 0 && c.downloaded === 0;
        process.stderr.write(already ? `complete: ${name} is already here (${contentPath})${cmd.exitOnComplete ? '' : '; seeding (Ctrl-C to stop)'}\n` : `${completeLine(name, contentPath, torrent.stats(), c.elapsedMs, peersSeen.size, !cmd.exitOnComplete)}\n`);
      }
      if (cmd.exitOnComplete) finish();
    };
    torrent.on('torrent:complete', onComplete);
    if (cmd.mode === 'leech' && torrent.done) onComplete({ infoHash: torrent.infoHashHex, downloaded: 0, elapsedMs: 0 });
  });
}
