/**
 * `peer find [PATTERN] [--namespace NS] [common]`: the names shared in a
 * catalogue namespace (default "files"), each with its size and magnet
 * link. PATTERN, ignoring case, is a glob when it holds `*`, `?` or `[`,
 * else a substring. Reads the DHT through a short-lived read-only node, as
 * `peer kv get` does.
 *
 * Exit 0 with the list, also when it is empty (stderr says so); 1 when no
 * DHT node answered (with how to fix it).
 * --json -> {"namespace","files":[{"name","length","files","magnet","infoHash","added"}]}
 */
import { Command } from 'commander';
import { SwarmError, UsageError } from '../errors.js';
import { KvStore } from '../dht/kv.js';
import { loadOrCreateIdentity } from '../dht/state.js';
import { DEFAULT_CATALOGUE_NAMESPACE, entryJson, listCatalogue, type CatalogueKv, type CatalogueListing } from '../session/catalogue.js';
import { addCommonOptions, parseCommonOptions, printJson, refuseInapplicable, type CommonOptions } from './common.js';
import { NoDhtNodeError, dhtHint, heardNobody, withDhtClient } from './dht-client.js';
import { formatBytes } from './progress.js';

interface FindRaw {
  namespace: string;
}

export function registerFind(program: Command): void {
  addCommonOptions(
    program
      .command('find')
      .description('list the files shared by name (peer share) in a namespace, with size and magnet link')
      .argument('[pattern]', 'only names matching it, ignoring case: a glob with * ? [ ], else a substring')
      .option('--namespace <ns>', 'the catalogue namespace', DEFAULT_CATALOGUE_NAMESPACE)
      .addHelpText(
        'after',
        `
An empty list is not an error (exit 0, and stderr says so); exit 1 when no
DHT node answered.

Examples:
  peer find                       # everything in namespace "files"
  peer find '*.iso' --json
  peer find photos --namespace family --bootstrap 192.168.1.10:6881`,
      ),
    { hide: ['tracker', 'api', 'peer', 'dht'], jsonHelp: 'print one JSON object on stdout: {"namespace","files":[{"name","length","files","magnet","infoHash","added"}]}' },
  ).action(async (pattern: string | undefined, raw: FindRaw & Record<string, unknown>) => {
    const common = parseCommonOptions(raw as never);
    const listing = await findFiles(pattern, raw.namespace, common);
    render(listing, raw.namespace, pattern, common);
  });
}

/** Checks what a read-only lookup command can use of the common options. */
export function requireDhtOptions(common: CommonOptions, command: string): void {
  refuseInapplicable(common, command, ['tracker', 'api', 'peer']);
  if (!common.dht) throw new UsageError(`${command}: --no-dht leaves no way to reach the catalogue, which lives on the DHT`);
}

/** A KvStore over `node` for reading (the identity key is never needed to read a namespace). */
export function readerKv(node: ConstructorParameters<typeof KvStore>[0], common: CommonOptions): CatalogueKv {
  return new KvStore(node, () => loadOrCreateIdentity(common.stateDir)) as unknown as CatalogueKv;
}

async function findFiles(pattern: string | undefined, namespace: string, common: CommonOptions): Promise<CatalogueListing> {
  requireDhtOptions(common, 'peer find');
  if (namespace === '') throw new UsageError('--namespace must not be empty');
  return withDhtClient(common, async ({ node }) => {
    let listing: CatalogueListing;
    try {
      listing = await listCatalogue(readerKv(node, common), { namespace, ...(pattern !== undefined ? { pattern } : {}), signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      // KvStore.list says EKV "no DHT node answered" when the index lookup heard nobody.
      if (err instanceof SwarmError && err.code === 'EKV' && heardNobody(node)) throw new NoDhtNodeError(dhtHint(common));
      throw err;
    }
    if (listing.files.length === 0 && heardNobody(node)) throw new NoDhtNodeError(dhtHint(common));
    return listing;
  });
}

function render(listing: CatalogueListing, namespace: string, pattern: string | undefined, common: CommonOptions): void {
  if (common.json) {
    printJson({ namespace, files: listing.files.map(entryJson) });
    return;
  }
  // Skipped names come from the network as they are: control characters are shown as '?'.
  const safe = (text: string): string => text.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
  for (const s of listing.skipped) if (!common.quiet) process.stderr.write(`skipped ${safe(JSON.stringify(s.name))}: ${safe(s.reason)}\n`);
  if (listing.files.length === 0) {
    process.stderr.write(`no files in namespace ${JSON.stringify(namespace)}${pattern ? ` matching ${JSON.stringify(pattern)}` : ''}${common.quiet ? '' : ' (share one with: peer share PATH)'}\n`);
    return;
  }
  const width = Math.min(40, Math.max(...listing.files.map((f) => f.name.length)));
  for (const f of listing.files) {
    process.stdout.write(`${f.name.padEnd(width)}  ${formatBytes(f.length).padStart(10)}  ${f.files > 1 ? `${f.files} files  ` : ''}${f.magnet}\n`);
  }
}
