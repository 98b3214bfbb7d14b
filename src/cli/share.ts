/**
 * `peer share <path> [--as NAME] [--namespace NS] [--api URL | --api-port N] [--token T] [--json]`:
 * makes the torrent of a file or folder (hashed here, with a progress bar),
 * hands it to the running daemon of this machine to seed where it lies (no
 * copy; `POST /api/torrents` {"torrent","dataPath"}), and publishes
 * NAME -> catalogue entry in the KV namespace NS (default "files") through
 * the daemon's `PUT /api/kv/NAME?namespace=NS`, which the daemon republishes.
 *
 * Without a running daemon it stops before hashing (exit 1), saying how to
 * start one: a name is only worth publishing while something seeds it and
 * keeps the name alive, which is the daemon's job.
 *
 * --json -> {"name","namespace","infoHash","magnet","length","files","path","seq","stored","alreadySeeding"}.
 */
import { Command, Option } from 'commander';
import { realpath, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { CatalogueError, SwarmError, UsageError, errorMessage } from '../errors.js';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../log.js';
import { trackersOf } from '../metainfo/magnet.js';
import { userFiles } from '../metainfo/layout.js';
import { listContent } from '../storage/hash-files.js';
import { DEFAULT_CATALOGUE_NAMESPACE, catalogueNameProblem, encodeEntry } from '../session/catalogue-entry.js';
import { makeTorrent } from './make-torrent.js';
import { printJson } from './common.js';
import { createProgress, formatBytes } from './progress.js';
import { DaemonApi, DaemonUnreachableError, type DaemonApiRaw } from './daemon-api.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { getLogger } from '../log.js';
import { DEFAULT_STATE_DIR, parseCommonOptions, type CommonOptions } from './common.js';
import { collect } from './parse.js';
import { onStopSignal } from './signals.js';

interface ShareRaw extends DaemonApiRaw {
  as?: string;
  namespace: string;
  json?: boolean;
  quiet?: boolean;
  logLevel: LogLevel;
  foreground?: boolean;
  host?: string;
  port?: string;
  bootstrap?: string[];
  lsd?: boolean;
  state?: string;
}

export interface ShareResult {
  name: string;
  namespace: string;
  infoHash: string;
  magnet: string;
  length: number;
  files: number;
  path: string;
  seq: number | null;
  stored: number;
  alreadySeeding: boolean;
}

export function registerShare(program: Command): void {
  program
    .command('share')
    .description('share a file or folder by name: make its torrent, seed it through the running daemon, publish NAME -> magnet on the DHT')
    .argument('<path>', 'the file or folder to share (seeded where it lies)')
    .option('--as <name>', 'the name to publish it under (default: the file or folder name; at most 64 bytes)')
    .option('--namespace <ns>', 'the catalogue namespace (a KV namespace: anyone who knows its name can read and write it)', DEFAULT_CATALOGUE_NAMESPACE)
    .option('--api <url>', `the daemon's API: a URL, host:port or port (default http://127.0.0.1:${DEFAULT_SETTINGS.apiPort})`)
    .option('--api-port <n>', 'the API on 127.0.0.1 at this port')
    .option('--token <token>', 'the API token (default: $PEER_API_TOKEN)')
    .option('--foreground', 'no daemon: seed here and keep the name published until Ctrl-C (these options below apply then)')
    .option('--host <addr>', '--foreground: address to listen on and send from (default: every address)')
    .option('--port <n>', `--foreground: peer wire TCP port, and the DHT's UDP port (default ${DEFAULT_SETTINGS.port})`)
    .option('--bootstrap <host:port>', '--foreground: DHT bootstrap node (repeatable)', collect)
    .option('--no-lsd', '--foreground: no local service discovery (BEP 14)')
    .option('--state <dir>', `--foreground: resume data and identity key (default ${DEFAULT_STATE_DIR})`)
    .option('--json', 'print one JSON object on stdout: {"name","namespace","infoHash","magnet","length","files","path","seq","stored","alreadySeeding"}')
    .option('--quiet', 'print only errors and the final line on stderr')
    .addOption(new Option('--log-level <level>', 'error|warn|info|debug').choices(LOG_LEVELS as string[]).default('warn'))
    .addHelpText(
      'after',
      `
The running daemon (peer start, with its DHT) seeds the content from where
it lies and keeps the name published, also after a restart. Without a
daemon, share exits 1 and says how to start one, unless --foreground: then
this process seeds and republishes the name until Ctrl-C. Sharing a name
again replaces what it pointed to.

Examples:
  peer share ./holiday.mp4                      # name "holiday.mp4" in namespace "files"
  peer share ./photos --as photos-2026 --namespace family --json
  peer share ./talk.pdf --foreground --bootstrap 192.168.1.10:6881`,
    )
    .action(async (path: string, raw: ShareRaw) => {
      setLogLevel(raw.quiet ? 'error' : raw.logLevel);
      const result = await share(path, raw);
      if (result) printResult(result, raw);
    });
}

function printResult(result: ShareResult, raw: ShareRaw): void {
  if (raw.json) {
    printJson(result);
    return;
  }
  const fetchHint = `peer fetch ${quoteArg(result.name)}${result.namespace === DEFAULT_CATALOGUE_NAMESPACE ? '' : ` --namespace ${quoteArg(result.namespace)}`}`;
  process.stdout.write(
    [
      `shared ${result.name} in namespace ${result.namespace}: ${formatBytes(result.length)} in ${result.files} file${result.files === 1 ? '' : 's'}`,
      `  magnet:  ${result.magnet}`,
      `  seeding: ${result.path}${result.alreadySeeding ? ' (the daemon was already seeding it)' : ''}`,
      `  stored on ${result.stored} DHT node${result.stored === 1 ? '' : 's'}${result.seq !== null ? ` (seq ${result.seq})` : ''}; fetch it with: ${fetchHint}`,
      '',
    ].join('\n'),
  );
}

function quoteArg(s: string): string {
  return /^[\w.,:/@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Resolves with the result, or undefined after --foreground ran until interrupted. */
export async function share(path: string, raw: ShareRaw): Promise<ShareResult | undefined> {
  const given = resolve(path);
  const st = await stat(given).catch(() => undefined);
  if (!st) throw new UsageError(`${path}: no such file or folder`);
  if (!st.isFile() && !st.isDirectory()) throw new UsageError(`${path}: not a file or a folder`);
  // A symlink is shared as what it points to (the daemon seeds real paths only); the name stays the one given.
  const abs = await realpath(given);
  const name = raw.as ?? basename(given);
  const problem = catalogueNameProblem(name);
  if (problem) throw new UsageError(`cannot share as ${JSON.stringify(name)}: ${problem}`);
  const namespace = raw.namespace;
  if (namespace === '') throw new UsageError('--namespace must not be empty');
  const human = !raw.json && !raw.quiet;
  if (raw.foreground) {
    if (raw.api !== undefined || raw.apiPort !== undefined || raw.token !== undefined) throw new UsageError('--foreground runs without a daemon: leave out --api, --api-port and --token');
    // Options checked before hashing: a bad --port should not wait for minutes of it.
    const common = parseCommonOptions({ ...(raw as unknown as Record<string, unknown>), dht: true, logLevel: raw.logLevel } as never);
    const made = await hashWithProgress(abs, human);
    await shareForeground({ abs, name, namespace, made, raw, common });
    return undefined;
  }
  for (const o of ['host', 'port', 'bootstrap', 'state'] as const) if (raw[o] !== undefined) throw new UsageError(`--${o} applies to --foreground only (the daemon uses its own)`);
  if (raw.lsd === false) throw new UsageError('--no-lsd applies to --foreground only (the daemon uses its own)');
  const api = DaemonApi.fromRaw(raw);

  // The daemon first: no point hashing for minutes to learn that nothing can seed.
  let session: { status: number; body: Record<string, unknown> };
  try {
    session = await api.request('GET', 'api/session', { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    if (err instanceof DaemonUnreachableError) {
      throw new CatalogueError(
        `${err.message}. peer share hands the content to the running daemon, which seeds it and keeps its name published: start one with \`peer start\` (it stays running), point at it with --api URL / --api-port N, or seed from this process until Ctrl-C with --foreground`,
        'EDAEMON',
      );
    }
    throw err;
  }
  if (session.status !== 200) throw api.refusal('answer', session);
  if (session.body.dht === false) throw new CatalogueError(`the daemon at ${api.base.origin} runs without the DHT (--no-dht), where the catalogue lives: restart it without --no-dht`, 'EDAEMON');

  const made = await hashWithProgress(abs, human);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new SwarmError('interrupted: the daemon may be seeding it, but the name was not published', 'EINTERRUPTED', 1));
  // Repeated signals ignored (npx forwards Ctrl-C a second time): see signals.ts.
  const detachSignals = onStopSignal(onSignal);
  try {
    const { meta } = made;
    if (human) process.stderr.write(`the daemon is checking ${meta.info.name} (${meta.infoHashHex}) before seeding it...\n`);
    const added = await api.request('POST', 'api/torrents', { json: { torrent: Buffer.from(made.torrent).toString('base64'), dataPath: abs }, signal: controller.signal });
    const alreadySeeding = added.status === 409;
    if (added.status !== 201 && !alreadySeeding) throw api.refusal(`seed ${abs}`, added);
    const files = userFiles(meta.info).length;
    const entry = encodeEntry({ infoHash: meta.infoHashHex, displayName: meta.info.name, trackers: trackersOf(meta), length: meta.info.length, files, added: Math.floor(Date.now() / 1000) });
    const put = await api.request('PUT', `api/kv/${encodeURIComponent(name)}?namespace=${encodeURIComponent(namespace)}`, { json: { value: entry }, signal: controller.signal });
    if (put.status !== 200) throw api.refusal(`publish ${JSON.stringify(name)}`, put);
    const r = (put.body.result ?? {}) as { stored?: unknown; seq?: unknown };
    const stored = typeof r.stored === 'number' ? r.stored : 0;
    const seq = typeof r.seq === 'number' ? r.seq : null;
    const magnet = (JSON.parse(entry) as { magnet: string }).magnet;
    if (stored === 0) {
      throw new CatalogueError(
        `the daemon seeds ${abs}, but no DHT node took the name ${JSON.stringify(name)}: the daemon knows no other DHT node yet (start it with --bootstrap HOST:PORT, or on a LAN with local service discovery), then run this again. magnet: ${magnet}`,
        'ENODHT',
      );
    }
    return { name, namespace, infoHash: meta.infoHashHex, magnet, length: meta.info.length, files, path: abs, seq, stored, alreadySeeding };
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    detachSignals();
  }
}

async function hashWithProgress(abs: string, human: boolean): Promise<Awaited<ReturnType<typeof makeTorrent>>> {
  const content = await listContent(abs);
  if (content.links.length > 0) {
    const shown = content.links.slice(0, 3).join(', ') + (content.links.length > 3 ? `, and ${content.links.length - 3} more` : '');
    // make-torrent follows them, but a seeder never reads through a symlink: the pieces would never verify.
    throw new UsageError(`${abs} holds symlinks (${shown}), which a seeder never reads through: share a copy with the links replaced by what they point to`);
  }
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new SwarmError('interrupted: nothing was shared', 'EINTERRUPTED', 1));
  // Repeated signals ignored (npx forwards Ctrl-C a second time): see signals.ts.
  const detachSignals = onStopSignal(onSignal);
  const progress = createProgress({ label: 'hashing', total: content.totalBytes, unit: 'bytes', ...(human ? {} : { enabled: false }) });
  try {
    // No creation date: the same content always makes the same torrent, so sharing it again (or elsewhere) joins the same swarm.
    return await makeTorrent(abs, { content, signal: controller.signal, blockingReads: true, onProgress: (done) => progress.update(done) });
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    progress.stop();
    detachSignals();
  }
}

/** How often --foreground tries again to publish the name while no DHT node took it. */
const FOREGROUND_RETRY_MS = 15_000;

/**
 * --foreground: this process seeds the content (a Session with a DHT node,
 * as `peer seed` runs) and publishes the name with republishing, until
 * SIGINT/SIGTERM (then exit 0). The result is printed once the name is
 * stored on a DHT node; until then it tries again every 15 s.
 */
async function shareForeground(o: { abs: string; name: string; namespace: string; made: Awaited<ReturnType<typeof makeTorrent>>; raw: ShareRaw; common: CommonOptions }): Promise<void> {
  const { raw, made, common } = o;
  const human = !common.json && !common.quiet;
  const { Session } = await import('../session/session.js');
  const log = getLogger('share');
  const session = new Session({ settings: common.settings, stateDir: common.stateDir, logger: log, dht: { bootstrap: common.bootstrap } });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  // Repeated signals ignored (npx forwards Ctrl-C a second time): see signals.ts.
  const detachSignals = onStopSignal(onSignal);
  try {
    await session.start();
    const { meta } = made;
    if (human) process.stderr.write(`checking ${meta.info.name} before seeding it...\n`);
    const torrent = await session.addTorrent(meta, { contentPath: o.abs, mode: 'seed' });
    const { have, pieces } = torrent.stats();
    if (have !== pieces) throw new SwarmError(`${o.abs} changed while it was hashed: ${have} of ${pieces} pieces match; share it again`, 'ECHANGED', 1);
    if (human) process.stderr.write(`seeding ${meta.info.name} (${meta.infoHashHex}) on port ${session.port} until Ctrl-C\n`);
    const files = userFiles(meta.info).length;
    const entry = encodeEntry({ infoHash: meta.infoHashHex, displayName: meta.info.name, trackers: trackersOf(meta), length: meta.info.length, files, added: Math.floor(Date.now() / 1000) });
    const magnet = (JSON.parse(entry) as { magnet: string }).magnet;
    const kv = session.kv!;
    let warned = false;
    while (!stop.signal.aborted) {
      const r = await kv.put(o.name, entry, { namespace: o.namespace, republish: true, signal: stop.signal }).catch((err: unknown) => {
        if (!stop.signal.aborted) log.warn(`publishing ${o.name}: ${errorMessage(err)}`);
        return undefined;
      });
      if (r && r.stored > 0) {
        printResult({ name: o.name, namespace: o.namespace, infoHash: meta.infoHashHex, magnet, length: meta.info.length, files, path: o.abs, seq: r.seq, stored: r.stored, alreadySeeding: false }, raw);
        if (human) process.stderr.write('keeping the name published while seeding (Ctrl-C to stop)\n');
        break;
      }
      if (!warned && !common.quiet) {
        warned = true;
        process.stderr.write(`no DHT node took the name yet (${common.bootstrap.length ? 'is the --bootstrap node running?' : 'give --bootstrap HOST:PORT, or run on a LAN with local service discovery'}); trying again every ${FOREGROUND_RETRY_MS / 1000} s\n`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, FOREGROUND_RETRY_MS);
        stop.signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
    }
    if (!stop.signal.aborted) await new Promise<void>((resolve) => stop.signal.addEventListener('abort', () => resolve(), { once: true }));
    if (human) process.stderr.write('\nstopping: telling peers, saving state...\n');
  } finally {
    detachSignals();
    await session.stop();
  }
}
