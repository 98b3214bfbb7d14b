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
import { stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { SwarmError, UsageError } from '../errors.js';
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

interface ShareRaw extends DaemonApiRaw {
  as?: string;
  namespace: string;
  json?: boolean;
  quiet?: boolean;
  logLevel: LogLevel;
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
    .option('--json', 'print one JSON object on stdout: {"name","namespace","infoHash","magnet","length","files","path","seq","stored","alreadySeeding"}')
    .option('--quiet', 'print only errors and the final line on stderr')
    .addOption(new Option('--log-level <level>', 'error|warn|info|debug').choices(LOG_LEVELS as string[]).default('warn'))
    .addHelpText(
      'after',
      `
The running daemon (peer start, with its DHT) seeds the content from where
it lies and keeps the name published, also after a restart. Without a
daemon, share exits 1 and says how to start one. Sharing a name again
replaces what it pointed to.

Examples:
  peer share ./holiday.mp4                      # name "holiday.mp4" in namespace "files"
  peer share ./photos --as photos-2026 --namespace family --json`,
    )
    .action(async (path: string, raw: ShareRaw) => {
      setLogLevel(raw.quiet ? 'error' : raw.logLevel);
      const result = await share(path, raw);
      if (raw.json) printJson(result);
      else {
        process.stdout.write(
          [
            `shared ${result.name} in namespace ${result.namespace}: ${formatBytes(result.length)} in ${result.files} file${result.files === 1 ? '' : 's'}`,
            `  magnet:  ${result.magnet}`,
            `  seeding: ${result.path}${result.alreadySeeding ? ' (the daemon was already seeding it)' : ''}`,
            `  stored on ${result.stored} DHT node${result.stored === 1 ? '' : 's'}${result.seq !== null ? ` (seq ${result.seq})` : ''}; fetch it with: peer fetch ${quoteArg(result.name)}${result.namespace === DEFAULT_CATALOGUE_NAMESPACE ? '' : ` --namespace ${quoteArg(result.namespace)}`}`,
            '',
          ].join('\n'),
        );
      }
    });
}

function quoteArg(s: string): string {
  return /^[\w.,:/@+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

export async function share(path: string, raw: ShareRaw): Promise<ShareResult> {
  const abs = resolve(path);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new UsageError(`${path}: no such file or folder`);
  if (!st.isFile() && !st.isDirectory()) throw new UsageError(`${path}: not a file or a folder`);
  const name = raw.as ?? basename(abs);
  const problem = catalogueNameProblem(name);
  if (problem) throw new UsageError(`cannot share as ${JSON.stringify(name)}: ${problem}`);
  const namespace = raw.namespace;
  if (namespace === '') throw new UsageError('--namespace must not be empty');
  const api = DaemonApi.fromRaw(raw);
  const human = !raw.json && !raw.quiet;

  // The daemon first: no point hashing for minutes to learn that nothing can seed.
  let session: { status: number; body: Record<string, unknown> };
  try {
    session = await api.request('GET', 'api/session', { signal: AbortSignal.timeout(10_000) });
  } catch (err) {
    if (err instanceof DaemonUnreachableError) {
      throw new SwarmError(
        `${err.message}. peer share hands the content to the running daemon, which seeds it and keeps its name published: start one with \`peer start\` (it stays running), or point at it with --api URL / --api-port N`,
        'EDAEMON',
        1,
      );
    }
    throw err;
  }
  if (session.status !== 200) throw api.refusal('answer', session);
  if (session.body.dht === false) throw new SwarmError(`the daemon at ${api.base.origin} runs without the DHT (--no-dht), where the catalogue lives: restart it without --no-dht`, 'EDAEMON', 1);

  const content = await listContent(abs);
  const controller = new AbortController();
  const onSignal = (): void => controller.abort(new SwarmError('interrupted: nothing was shared', 'EINTERRUPTED', 1));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const progress = createProgress({ label: 'hashing', total: content.totalBytes, unit: 'bytes', ...(human ? {} : { enabled: false }) });
  let made: Awaited<ReturnType<typeof makeTorrent>>;
  try {
    made = await makeTorrent(abs, { content, signal: controller.signal, blockingReads: true, creationDate: Math.floor(Date.now() / 1000), onProgress: (done) => progress.update(done) });
    progress.stop();
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
      throw new SwarmError(
        `the daemon seeds ${abs}, but no DHT node took the name ${JSON.stringify(name)}: the daemon knows no other DHT node yet (start it with --bootstrap HOST:PORT, or on a LAN with local service discovery); it publishes the name again when it republishes. magnet: ${magnet}`,
        'ENODHT',
        1,
      );
    }
    return { name, namespace, infoHash: meta.infoHashHex, magnet, length: meta.info.length, files, path: abs, seq, stored, alreadySeeding };
  } catch (err) {
    if (controller.signal.aborted) throw controller.signal.reason;
    throw err;
  } finally {
    progress.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
