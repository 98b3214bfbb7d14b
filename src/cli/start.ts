/**
 * `peer start`: the daemon. Serves every torrent of the watch folder
 * (--torrents) into the download folder (--downloads) from one process,
 * resumes what it ran before, and shows itself on the HTTP API and
 * dashboard (on by default at 127.0.0.1:8080). SIGINT/SIGTERM stop it in
 * order (trackers told, resume state saved) with exit code 0.
 */
import path from 'node:path';
import { Command } from 'commander';
import { getLogger, setLogLevel, type LogLevel } from '../log.js';
import { UsageError, errorMessage } from '../errors.js';
import { randomBytes } from '../util/hash.js';
import { toHex } from '../util/bytes.js';
import { Daemon, type ApiServerLike, type DaemonSession } from '../session/daemon.js';
import type { Torrent } from '../session/torrent.js';
import { addCommonOptions, checkHostResolves, parseCommonOptions, printJson } from './common.js';
import { parseBytes } from './parse.js';
import { isLoopbackHost } from '../util/address.js';
import { formatBytes, formatDuration } from './progress.js';
import { onStopSignal } from './signals.js';
import { hostWords } from '../util/listen-errors.js';
import { formatHostPort } from '../util/address.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { printable, trackerReason } from './swarm-status.js';

interface RawStart {
  torrents: string;
  downloads: string;
  uploads: string;
  apiHost: string;
  apiToken?: string;
  uploadLimit?: string;
  downloadLimit?: string;
  maxPeers?: string;
  maxPeersPerTorrent?: string;
  maxUploadBytes?: string;
  maxActiveDownloads?: string;
  maxActiveSeeds?: string;
  seedRatio?: string;
  seedTime?: string;
}

export function registerStart(program: Command): void {
  const cmd = addCommonOptions(
    program
      .command('start')
      .description('run the daemon: serve every torrent in the watch folder, resume after a restart, HTTP API and dashboard')
      .option('--torrents <dir>', 'watch folder: a .torrent or .magnet file dropped in is added, one removed is stopped (its data kept)', 'torrents')
      .option('--downloads <dir>', 'where content is saved, and looked for (complete content there is seeded)', 'downloads')
      .option('--uploads <dir>', 'where files sent to POST /upload are kept (and seeded from)', 'uploads')
      .option('--api-host <addr>', 'address the API listens on (any but loopback needs a token)', '127.0.0.1')
      .option('--api-token <token>', 'bearer token the API requires (generated and printed when --api-host is not loopback)')
      .option('--upload-limit <bytes/s>', 'global upload limit, e.g. 10M (0 = unlimited; changeable through the API)')
      .option('--download-limit <bytes/s>', 'global download limit, e.g. 10M (0 = unlimited; changeable through the API)')
      .option('--max-peers <n>', `connected peers in the whole daemon (default ${DEFAULT_SETTINGS.maxPeersTotal})`)
      .option('--max-peers-per-torrent <n>', `connected peers per torrent (default ${DEFAULT_SETTINGS.maxPeersPerTorrent})`)
      // The default is DEFAULT_MAX_UPLOAD_BYTES of api/file-routes.ts, not imported so that start-up does not load the API (cli-help checks they agree).
      .option('--max-upload-bytes <bytes>', 'largest file POST /upload accepts, e.g. 1G (default 1 GiB)')
      .option('--max-active-downloads <n>', `torrents downloading at once; the others wait (state "queued") in the order they came (0 = no limit; default ${DEFAULT_SETTINGS.maxActiveDownloads})`)
      .option('--max-active-seeds <n>', 'complete torrents seeding at once; the others wait, queued (0 = no limit, the default)')
      .option('--seed-ratio <r>', 'a torrent stops seeding (state "finished") once it uploaded R times its size, e.g. 2 or 1.5 (0 = never, the default)')
      .option('--seed-time <s>', 'a torrent stops seeding (state "finished") after seeding S seconds in all (0 = never, the default)')
      .addHelpText(
        'after',
        [
          '',
          'Per torrent (HTTP API and dashboard):',
          '  PATCH  /api/torrents/<infohash>  {"uploadLimit", "downloadLimit"}  its own limits in bytes/s (0 = none), on top of the global ones',
          '                                   {"seedRatioLimit", "seedTimeLimitS"}  override --seed-ratio/--seed-time (null = the default, 0 = never)',
          '  POST   /api/torrents/<infohash>/recheck           verify every piece on disk again',
          '  POST   /api/torrents/<infohash>/move {"to": DIR}  move its data into DIR (absolute) and carry on from there',
          '  DELETE /api/torrents/<infohash>[?deleteData=1]    remove it; with deleteData=1 its files too (only those it names)',
          'Per-torrent settings are kept across restarts.',
        ].join('\n'),
      ),
    {
      apiDefault: true,
      logLevel: 'info',
      examples: [
        'peer start                                        # ./torrents -> ./downloads, dashboard on http://127.0.0.1:8080/',
        'npm start                                         # the same, with --tracker (the LAN\'s tracker on port 6969)',
        'peer start --torrents ~/torrents --downloads ~/media --upload-limit 2M --max-active-downloads 3',
      ],
    },
  ).option('--no-api', 'run without the HTTP API and dashboard');
  cmd.action(async (opts: Record<string, unknown>) => {
    // The daemon's log is its activity record ("Received message from ..."): info unless asked otherwise (the option's default).
    await runStart(opts as unknown as RawStart & Parameters<typeof parseCommonOptions>[0]);
  });
}

function parseCount(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${option}: expected a positive whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** A whole number >= 0 (0 = no limit). */
function parseCount0(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new UsageError(`${option}: expected a whole number (0 = no limit), got ${JSON.stringify(value)}`);
  return Number(value);
}

export async function runStart(raw: RawStart & Parameters<typeof parseCommonOptions>[0]): Promise<void> {
  const runStarted = Date.now();
  const common = parseCommonOptions(raw, { apiDefault: true });
  setLogLevel(raw.logLevel as LogLevel);
  const log = getLogger('daemon');
  const s = common.settings;
  if (raw.uploadLimit !== undefined) s.uploadLimitBytesPerS = parseBytes(raw.uploadLimit, '--upload-limit');
  if (raw.downloadLimit !== undefined) s.downloadLimitBytesPerS = parseBytes(raw.downloadLimit, '--download-limit');
  s.maxPeersTotal = parseCount(raw.maxPeers, '--max-peers') ?? s.maxPeersTotal;
  s.maxPeersPerTorrent = parseCount(raw.maxPeersPerTorrent, '--max-peers-per-torrent') ?? s.maxPeersPerTorrent;
  if (s.maxPeersPerTorrent > s.maxPeersTotal) s.maxPeersPerTorrent = s.maxPeersTotal;
  s.maxActiveDownloads = parseCount0(raw.maxActiveDownloads, '--max-active-downloads') ?? s.maxActiveDownloads;
  s.maxActiveSeeds = parseCount0(raw.maxActiveSeeds, '--max-active-seeds') ?? s.maxActiveSeeds;
  if (raw.seedRatio !== undefined) {
    if (!/^\d+(\.\d+)?$/.test(raw.seedRatio)) throw new UsageError(`--seed-ratio: expected a number >= 0 such as 2 or 1.5, got ${JSON.stringify(raw.seedRatio)}`);
    s.seedRatioLimit = Number(raw.seedRatio);
  }
  s.seedTimeLimitS = parseCount0(raw.seedTime, '--seed-time') ?? s.seedTimeLimitS;
  const maxUploadBytes = raw.maxUploadBytes !== undefined ? parseBytes(raw.maxUploadBytes, '--max-upload-bytes') : undefined;
  if (!/^[\w.:-]+$/.test(raw.apiHost)) throw new UsageError(`--api-host: not an address: ${raw.apiHost}`);
  if (raw.apiToken !== undefined && !/^[\x21-\x7e]{8,256}$/.test(raw.apiToken)) {
    throw new UsageError('--api-token: 8 to 256 printable characters without spaces');
  }
  await checkHostResolves(s.host);
  if (common.api !== undefined) await checkHostResolves(raw.apiHost, '--api-host');
  const apiToken = raw.apiToken ?? (common.api !== undefined && !isLoopbackHost(raw.apiHost) ? toHex(randomBytes(16)) : undefined);
  const downloadsDir = path.resolve(raw.downloads);
  const torrentsDir = path.resolve(raw.torrents);
  const uploadsDir = path.resolve(raw.uploads);

  const daemon: Daemon = new Daemon({
    settings: s,
    stateDir: common.stateDir,
    downloadsDir,
    torrentsDir,
    logger: log,
    peers: common.peers,
    dht: common.dht ? { bootstrap: common.bootstrap } : false,
    ...(common.tracker !== undefined ? { trackerPort: common.tracker } : {}),
    ...(common.api !== undefined
      ? {
          createApi: (session: DaemonSession): Promise<ApiServerLike> =>
            loadApi({
              session,
              host: raw.apiHost,
              port: common.api!,
              token: apiToken,
              downloadsDir,
              uploadsDir,
              stateDir: common.stateDir,
              // Every torrent's content path is in the daemon's records (watch folder, API, restored).
              contentPathOf: (hex: string): string | undefined => {
                const r = daemon.records.find((x) => x.infoHash === hex);
                return r?.kind === 'torrent' ? r.contentPath : undefined;
              },
              maxUploadBytes,
              log,
            }),
        }
      : {}),
  });
  if (common.json) wireJsonEvents(daemon);
  else logTorrentEvents(daemon, log);

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => (stopping ??= daemon.stop());
  const onSignal = (): void => {
    if (!common.json) process.stderr.write('\nstopping: telling peers and trackers, saving state...\n');
    // What this run moved, taken before the torrents stop (as seed/leech say it on Ctrl-C).
    const all = daemon.session.torrents.map((t) => t.stats());
    const down = all.reduce((a, x) => a + x.downloaded, 0);
    const up = all.reduce((a, x) => a + x.uploaded, 0);
    const unfinished = all.filter((x) => x.left > 0).length;
    void shutdown().then(
      () => {
        if (common.json) printJson({ event: 'summary', torrents: all.length, downloaded: down, uploaded: up, ratio: down > 0 ? up / down : null, unfinished, elapsedMs: Date.now() - runStarted });
        else {
          process.stderr.write(
            `stopped: ${all.length} torrent${all.length === 1 ? '' : 's'}, downloaded ${formatBytes(down)}, uploaded ${formatBytes(up)}, ratio ${down > 0 ? (up / down).toFixed(2) : up > 0 ? 'inf' : '0.00'}` +
              `${unfinished ? `; ${unfinished} unfinished: peer start again resumes them` : ''}\n`,
          );
        }
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`error while stopping: ${errorMessage(err)}\n`);
        process.exit(1);
      },
    );
  };
  const offSignal = onStopSignal(onSignal);

  try {
    await daemon.start();
  } catch (err) {
    await shutdown();
    offSignal();
    throw err; // a port in use or a foreign host is a UsageError already (util/listen-errors.ts)
  }
  if (stopping) return; // a signal came while starting

  const session = daemon.session;
  const apiUrl = daemon.api ? `${daemon.api.url.replace(/\/$/, '')}/${apiToken ? `?token=${apiToken}` : ''}` : undefined;
  if (common.json) {
    printJson({ event: 'started', port: session.port, torrents: session.torrents.length, api: apiUrl ?? null, tracker: session.tracker?.announceUrl ?? null });
  } else {
    const lines = [
      `${session.torrents.length ? `serving ${session.torrents.length} torrent${session.torrents.length === 1 ? '' : 's'} — ` : ''}watch folder ${torrentsDir} (a .torrent or .magnet file put there is added), downloads ${downloadsDir}`,
      `listening for peers on ${hostWords(s.host) === 'every address' ? `every address, port ${session.port}` : formatHostPort(s.host, session.port)}`,
    ];
    if (session.tracker) lines.push(`tracker: ${session.tracker.announceUrl} (HTTP and UDP)`);
    if (session.dht) lines.push(`DHT node on UDP port ${session.dht.address.port}`);
    if (apiUrl) lines.push(`dashboard: ${apiUrl}`);
    if (apiToken && daemon.api) lines.push(`API token: ${apiToken} (send "Authorization: Bearer <token>")`);
    lines.push('Ctrl-C to stop');
    process.stderr.write(lines.join('\n') + '\n');
  }

  // A summary in the log now and then: what a user leaving it running looks for.
  const summary = setInterval(() => {
    const all = session.torrents.map((t) => t.stats());
    const by = (st: string): number => all.filter((x) => x.state === st).length;
    const down = all.reduce((a, x) => a + x.downloadRate, 0);
    const up = all.reduce((a, x) => a + x.uploadRate, 0);
    log.info(
      `${all.length} torrents (${by('seeding')} seeding, ${by('downloading')} downloading, ${by('paused')} paused), ` +
        `${all.reduce((a, x) => a + x.peers, 0)} peers, down ${formatBytes(down)}/s, up ${formatBytes(up)}/s`,
    );
  }, 60_000);
  summary.unref();
  // Runs until a signal: the listener keeps the event loop alive.
}

/**
 * Without --json, the daemon's log says when a torrent completes, and when its trackers do not
 * answer (each failed round, with when the next is: the retries back off)
 * and when they answer again, as seed/leech say it on their status lines.
 */
function logTorrentEvents(daemon: Daemon, log: ReturnType<typeof getLogger>): void {
  daemon.session.on('torrent:added', (t: Torrent) => {
    t.on('torrent:complete', (c) => {
      const where = daemon.records.find((r) => r.infoHash === t.infoHashHex);
      const path = where?.kind === 'torrent' ? ` -> ${where.contentPath}` : '';
      log.info(`${t.metainfo.info.name}: complete${path} (${formatBytes(t.stats().wanted)}), ${formatBytes(c.downloaded)} downloaded in ${formatDuration(c.elapsedMs)}; seeding`);
    });
    let failing = false;
    t.on('tracker:failed', (f) => {
      failing = true;
      log.warn(`${printable(t.metainfo.info.name)}: tracker unreachable: ${printable(f.url)} (${printable(trackerReason(f.error, f.url))}); retrying in ${formatDuration(f.retryInMs)}${f.failures > 1 ? ` (${f.failures} tries failed in a row)` : ''}`);
    });
    t.on('tracker:announced', (a) => {
      if (failing) log.info(`${printable(t.metainfo.info.name)}: tracker reachable again: ${printable(a.url)} (${a.peers} peer${a.peers === 1 ? '' : 's'})`);
      failing = false;
    });
  });
}

/** --json: progress (at most one a second per torrent), complete and error events of every torrent, present and future. */
function wireJsonEvents(daemon: Daemon): void {
  const wire = (t: Torrent): void => {
    t.on('torrent:progress', (st) =>
      printJson({
        event: 'progress',
        infoHash: st.infoHash,
        have: st.have,
        pieces: st.pieces,
        downloaded: st.downloaded,
        uploaded: st.uploaded,
        peers: st.peers,
        downloadRate: st.downloadRate,
        uploadRate: st.uploadRate,
      }),
    );
    t.on('torrent:complete', (c) => printJson({ event: 'complete', infoHash: c.infoHash, downloaded: c.downloaded, elapsedMs: c.elapsedMs }));
    t.on('torrent:error', (err) => printJson({ event: 'error', message: err.message }));
    t.on('torrent:paused', (p) => printJson({ event: 'paused', infoHash: p.infoHash, reason: p.reason }));
    t.on('torrent:resumed', (p) => printJson({ event: 'unpaused', infoHash: p.infoHash }));
    t.on('tracker:announced', (a) => printJson({ event: 'tracker', infoHash: t.infoHashHex, state: 'announced', url: a.url, peers: a.peers }));
    t.on('tracker:failed', (f) => printJson({ event: 'tracker', infoHash: t.infoHashHex, state: 'failed', url: f.url, error: trackerReason(f.error, f.url), failures: f.failures, retryInMs: f.retryInMs }));
    t.on('message:received', (m) => printJson({ event: 'message', infoHash: t.infoHashHex, from: m.from, text: m.text }));
  };
  daemon.session.on('torrent:added', wire);
}

interface LoadApiOptions {
  session: DaemonSession;
  host: string;
  port: number;
  token: string | undefined;
  downloadsDir: string;
  uploadsDir: string;
  stateDir: string;
  contentPathOf: (infoHashHex: string) => string | undefined;
  maxUploadBytes: number | undefined;
  log: ReturnType<typeof getLogger>;
}

/**
 * Builds the API server of src/api/. Imported by a literal specifier, so the
 * bundler follows it into dist/peer.js (a computed path would resolve beside
 * dist/ at run time and find nothing); loaded only when the API is on, so
 * `--no-api` starts without it. A failure to load it is an error, not a
 * silent run without the dashboard the user asked for.
 */
async function loadApi(o: LoadApiOptions): Promise<ApiServerLike> {
  const { ApiServer } = await import('../api/server.js');
  return new ApiServer({
    session: o.session,
    host: o.host,
    port: o.port,
    ...(o.token ? { token: o.token } : {}),
    downloadsDir: o.downloadsDir,
    // Uploads have a folder of their own; /download serves them as the files of their torrents.
    uploadsDir: o.uploadsDir,
    contentPathOf: o.contentPathOf,
    privateDirs: [o.stateDir],
    ...(o.maxUploadBytes !== undefined ? { maxUploadBytes: o.maxUploadBytes } : {}),
    logger: o.log.child({ component: 'api' }),
  });
}
