/**
 * `peer fetch <name> [--namespace NS] [--out DIR] [--exit-on-complete] [common]`:
 * resolves a name of the catalogue (`peer share`) to its magnet link
 * through a short-lived read-only DHT node, then downloads it exactly as
 * `peer leech <magnet>` does (same progress, summaries and --json events,
 * plus one `resolved` event first). The DHT nodes that answered become the
 * download's bootstrap nodes when none was given.
 *
 * Exit 1 when the name is not in the namespace, when its value is not a
 * catalogue entry, or when no DHT node answered.
 */
import { Command } from 'commander';
import { CatalogueError, UsageError } from '../errors.js';
import { DEFAULT_CATALOGUE_NAMESPACE, catalogueNameProblem, resolveName, type CatalogueEntry } from '../session/catalogue.js';
import { addCommonOptions, parseCommonOptions, printJson, type CommonOptions } from './common.js';
import { NoDhtNodeError, dhtHint, heardNobody, withDhtClient } from './dht-client.js';
import { readerKv } from './find.js';
import { runSwarm } from './swarm.js';
import { parseRateLimits } from './seed.js';
import { formatBytes } from './progress.js';

interface FetchRaw {
  namespace: string;
  out: string;
  exitOnComplete?: boolean;
  sequential?: boolean;
  bootstrap?: string[];
}

export function registerFetch(program: Command): void {
  addCommonOptions(
    program
      .command('fetch')
      .description('download a file shared by name (peer share): resolve the name on the DHT, then download it as peer leech does')
      .argument('<name>', 'the name it was shared under (peer find lists them)')
      .option('--namespace <ns>', 'the catalogue namespace', DEFAULT_CATALOGUE_NAMESPACE)
      .option('--out <dir>', 'save the content as DIR/<name>', 'downloads')
      .option('--exit-on-complete', 'exit once the download is complete and verified instead of seeding')
      .option('--sequential', 'download pieces in order, to play a file while it downloads')
      .option('--upload-limit <rate>', 'upload at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .option('--download-limit <rate>', 'download at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .addHelpText(
        'after',
        `
Exit 1 when no file has that name in the namespace, or no DHT node answered.
With --json, a {"event":"resolved","name","namespace","infoHash","magnet","length","files"}
line comes before peer leech's events.

Examples:
  peer fetch holiday.mp4 --out ~/Videos --exit-on-complete
  peer fetch photos-2026 --namespace family --bootstrap 192.168.1.10:6881 --port 6882`,
      ),
  ).action(async (name: string, raw: FetchRaw & Record<string, unknown>) => {
    const common = parseCommonOptions(raw as never);
    const { entry, contacts } = await resolveForFetch(name, raw.namespace, common);
    if (common.json) printJson({ event: 'resolved', name, namespace: raw.namespace, infoHash: entry.infoHash, magnet: entry.magnet, length: entry.length, files: entry.files });
    else if (!common.quiet) process.stderr.write(`${name} in namespace ${raw.namespace}: ${formatBytes(entry.length)} in ${entry.files} file${entry.files === 1 ? '' : 's'} (${entry.infoHash})\n`);
    // The nodes that answered are a way into the DHT for the download too (its own node starts empty without --bootstrap).
    const bootstrap = raw.bootstrap?.length ? raw.bootstrap : contacts.map((c) => (c.host.includes(':') ? `[${c.host}]:${c.port}` : `${c.host}:${c.port}`));
    await runSwarm({
      mode: 'leech',
      target: entry.magnet,
      outDir: raw.out,
      exitOnComplete: raw.exitOnComplete === true,
      sequential: raw.sequential === true,
      limits: parseRateLimits(raw),
      raw: { ...raw, bootstrap } as never,
    });
  });
}

async function resolveForFetch(name: string, namespace: string, common: CommonOptions): Promise<{ entry: CatalogueEntry; contacts: { host: string; port: number }[] }> {
  const problem = catalogueNameProblem(name);
  if (problem) throw new UsageError(`${JSON.stringify(name)} cannot be a catalogue name: ${problem}`);
  if (namespace === '') throw new UsageError('--namespace must not be empty');
  if (!common.dht) throw new UsageError('peer fetch: --no-dht leaves no way to look the name up (the catalogue lives on the DHT); use peer leech MAGNET');
  // The lookup's node on a free port: --port is the download's.
  return withDhtClient({ ...common, portGiven: false }, async ({ node, contacts }) => {
    const r = await resolveName(readerKv(node, common), name, { namespace, signal: AbortSignal.timeout(60_000) });
    if (r.kind === 'found') return { entry: r.entry, contacts };
    if (r.kind === 'unreachable' || heardNobody(node)) throw new NoDhtNodeError(dhtHint(common));
    if (r.kind === 'deleted') throw new CatalogueError(`${JSON.stringify(name)} was deleted from namespace ${JSON.stringify(namespace)}`, 'ENOTFOUND');
    if (r.kind === 'invalid') throw new CatalogueError(`the value of ${JSON.stringify(name)} in namespace ${JSON.stringify(namespace)} is not a file shared by name: ${r.reason}`, 'ECATALOGUE');
    throw new CatalogueError(`no file named ${name} in namespace ${namespace}; \`peer find${namespace === DEFAULT_CATALOGUE_NAMESPACE ? '' : ` --namespace ${namespace}`}\` lists them`, 'ENOTFOUND');
  });
}
