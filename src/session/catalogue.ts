/**
 * The catalogue of files by name over the DHT key-value layer: a name is a
 * key of a KV namespace (default "files"), its value a catalogue entry
 * (catalogue-entry.ts). Publishing is a KV put; listing reads the
 * namespace's key index (KvStore.list) and then each entry, a few at a
 * time. Used by the CLI (a short-lived DHT node) and the daemon's API.
 */
import { DhtError, SwarmError, errorMessage } from '../errors.js';
import { catalogueNameProblem, decodeEntry, matchesPattern, type CatalogueEntry } from './catalogue-entry.js';

export * from './catalogue-entry.js';

/** What the catalogue needs of the KV layer (KvStore has it). */
export interface CatalogueKv {
  get(key: string, opts: { namespace?: string; signal?: AbortSignal }): Promise<unknown>;
  put(key: string, value: string, opts: { namespace?: string; republish?: boolean; signal?: AbortSignal }): Promise<unknown>;
  list?(opts: { namespace?: string; signal?: AbortSignal }): Promise<string[]>;
  /** A get that says why nothing came (KvStore.lookup): 'unreachable' when no node answered. */
  lookup?(key: string, opts: { namespace?: string; signal?: AbortSignal }): Promise<{ status: string; value: string | null }>;
}

/** Entries read at once while listing. */
const LIST_CONCURRENCY = 8;
/** Names listed at most (the index could be large or hostile): the first ones, sorted. */
export const MAX_LISTED_NAMES = 1000;

export interface CatalogueListing {
  files: CatalogueEntry[];
  /** Names whose value is not a catalogue entry (another program's key, a hostile writer), with why. */
  skipped: { name: string; reason: string }[];
  /** Names in the index that no node returned a value for (deleted, expired, or no node answered). */
  missing: string[];
}

/**
 * The value text of a KV get result, or undefined when there is none: null,
 * a result that says deleted/not found, or anything without a string value.
 */
export function valueOf(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const r = result as { value?: unknown; status?: unknown; deleted?: unknown };
  if (r.deleted === true) return undefined;
  if (typeof r.status === 'string' && r.status !== 'found' && r.status !== 'ok') return undefined;
  return typeof r.value === 'string' ? r.value : undefined;
}

export type Resolved =
  | { kind: 'found'; entry: CatalogueEntry }
  | { kind: 'missing' }
  | { kind: 'deleted' }
  /** No DHT node answered: nothing can be said about the name. */
  | { kind: 'unreachable' }
  | { kind: 'invalid'; reason: string };

/**
 * Looks `name` up in `namespace`. A value that is not an entry (or a big
 * value whose chunks do not verify) is `invalid`, never an exception: it
 * came from the network.
 */
export async function resolveName(kv: CatalogueKv, name: string, opts: { namespace: string; signal?: AbortSignal }): Promise<Resolved> {
  const o = { namespace: opts.namespace, ...(opts.signal ? { signal: opts.signal } : {}) };
  let text: string | undefined;
  try {
    if (typeof kv.lookup === 'function') {
      const r = await kv.lookup(name, o);
      if (r.status === 'unreachable') return { kind: 'unreachable' };
      if (r.status === 'deleted') return { kind: 'deleted' };
      text = r.status === 'found' && typeof r.value === 'string' ? r.value : undefined;
    } else {
      text = valueOf(await kv.get(name, o));
    }
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    if (err instanceof SwarmError && err.code === 'EKVBAD') return { kind: 'invalid', reason: errorMessage(err) };
    throw err;
  }
  if (text === undefined) return { kind: 'missing' };
  const d = decodeEntry(name, text);
  return d.ok ? { kind: 'found', entry: d.entry } : { kind: 'invalid', reason: d.reason };
}

/** Every entry of `namespace` whose name matches `pattern` (catalogue-entry.ts matchesPattern), sorted by name. */
export async function listCatalogue(kv: CatalogueKv, opts: { namespace: string; pattern?: string; signal?: AbortSignal }): Promise<CatalogueListing> {
  if (typeof kv.list !== 'function') throw new DhtError('this version of the key-value layer cannot list a namespace');
  const sig = opts.signal ? { signal: opts.signal } : {};
  const keys = await kv.list({ namespace: opts.namespace, ...sig });
  const out: CatalogueListing = { files: [], skipped: [], missing: [] };
  const valid = keys.filter((k): k is string => typeof k === 'string');
  // The index comes from the network: a name no share could have made (control characters, too long) is not read.
  for (const k of valid) {
    const problem = catalogueNameProblem(k);
    if (problem && matchesPattern(k, opts.pattern) && out.skipped.length < MAX_LISTED_NAMES) out.skipped.push({ name: k.slice(0, 200), reason: `not a catalogue name: ${problem}` });
  }
  const names = [...new Set(valid.filter((k) => !catalogueNameProblem(k) && matchesPattern(k, opts.pattern)))].sort().slice(0, MAX_LISTED_NAMES);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      opts.signal?.throwIfAborted();
      const name = names[next++]!;
      const r = await resolveName(kv, name, { namespace: opts.namespace, ...sig });
      if (r.kind === 'found') out.files.push(r.entry);
      else if (r.kind === 'invalid') out.skipped.push({ name, reason: r.reason });
      else out.missing.push(name);
    }
  };
  await Promise.all(Array.from({ length: Math.min(LIST_CONCURRENCY, names.length) }, worker));
  out.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return out;
}

/** An entry as `find --json` and `GET /api/catalogue` show it. */
export function entryJson(e: CatalogueEntry): { name: string; length: number; files: number; magnet: string; infoHash: string; added: number } {
  return { name: e.name, length: e.length, files: e.files, magnet: e.magnet, infoHash: e.infoHash, added: e.added };
}
