/**
 * `peer kv put|get|del|list`: the DHT key-value layer (BEP 44) as a user sees it.
 *
 *   peer kv put <key> <value> [--namespace NAME | --identity] [--cas SEQ] [--republish] [common]
 *   peer kv put --immutable <value> [common]
 *   peer kv get <key> [--namespace NAME | --owner PUBKEY_HEX] [common]
 *   peer kv get --immutable <target_hex> [common]
 *   peer kv del <key> [--namespace NAME | --identity] [common]
 *   peer kv list [--namespace NAME | --owner PUBKEY_HEX] [common]
 *
 * A key is the BEP 44 salt of a mutable item signed by the namespace's key
 * pair (derived from its name, see src/dht/bep44.ts) or by the node's own
 * identity key in --state (the default when neither --namespace nor --owner
 * is given). Values are UTF-8 strings up to 64 KiB (src/dht/kv.ts: larger
 * than one item, they are chunked).
 *
 * put and del hand the write to a running daemon on this machine (its API,
 * as `peer message` does: --api URL|PORT, --api-port N, --token) so that it
 * keeps the value alive; they do so when --api/--api-port is given, or when
 * neither --bootstrap nor --port is (a --bootstrap names a DHT of the
 * user's choosing). An identity put goes to the daemon only when --state is
 * not given (the daemon signs with its own key). Otherwise, or when no
 * daemon answers, each run starts a short-lived node (on a free port unless
 * --port is given) that reaches the DHT through --bootstrap or, without it,
 * finds the LAN's DHT by itself (src/discovery/lsd-dht.ts): it announces
 * itself over LSD (BEP 14, unless --no-lsd) so the LAN's nodes answer, and
 * pings the daemon of its own host (--host, or 127.0.0.1, at the default
 * port), going on as soon as one node answers, for at most
 * settings.lsdKvWaitMs (3 s). Stored alone, a value expires after about two
 * hours (dhtItemTtlMs) unless a running peer republishes it: put says so.
 * `put --republish` keeps the node running and puts the item again every
 * dhtRepublishIntervalMs until interrupted.
 *
 * --json: put/del -> {"target","publicKey","seq","stored"};
 * get -> {"target","value","seq","publicKey","status"} with status found,
 * not-found, deleted or unreachable (exit 1 unless found); list ->
 * {"namespace","publicKey","keys"}.
 */
import { Command, Option } from 'commander';
import { addCommonOptions, parseCommonOptions, printJson, refuseInapplicable, type CommonOptions } from './common.js';
import type { DhtNode } from '../dht/node.js';
import { KvStore, kvKeySalt, kvValueBytes, kvValueText, type KvLookupResult } from '../dht/kv.js';
import { MAX_VALUE_BYTES, mutableTarget, namespaceKeyPair } from '../dht/bep44.js';
import { encode } from '../bencode/index.js';
import { DhtError, UsageError } from '../errors.js';
import { getLogger } from '../log.js';
import { fromHex, toHex, utf8 } from '../util/bytes.js';
import { loadOrCreateIdentity } from '../dht/state.js';
import { findLanDhtNodes } from '../discovery/lsd-dht.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { isLoopbackHost } from '../util/address.js';
import { daemonTarget, kvViaDaemon, type DaemonTarget } from './kv-daemon.js';
import { onStopSignal } from './signals.js';
import { delay } from '../util/abort.js';

interface KvRaw {
  namespace?: string;
  identity?: boolean;
  owner?: string;
  immutable?: boolean;
  republish?: boolean;
  cas?: string;
  api?: string | boolean;
  apiPort?: string;
  token?: string;
  daemon?: boolean;
  state?: string;
}

const HIDE = ['tracker', 'api', 'peer', 'dht'] as const;

export function registerKv(program: Command): void {
  // exitOverride is inherited by the subcommands: bad usage throws to runCli (exit 2) instead of exiting here.
  const kv = program.command('kv').description('store and look up values on the DHT (BEP 44): put, get, del, list').exitOverride();

  const put = kv
    .command('put')
    .description('store a value under a key (or, with --immutable, under its own hash)')
    .argument('<key>', 'the key (BEP 44 salt, at most 64 bytes), or the value with --immutable')
    .argument('[value]', 'the value, a UTF-8 string of at most 64 KiB; read from stdin when not given')
    .option('--namespace <name>', 'sign with the key pair derived from this name (anyone who knows it can write)')
    .option('--identity', "sign with this node's own key in --state (the default)")
    .option('--immutable', 'store the value (at most 1000 bytes bencoded) under the SHA-1 of its bencoded form')
    .option('--cas <seq>', 'compare-and-swap: fail (exit 1) unless the stored seq is SEQ; checked by this writer and by each storing node (BEP 44 error 301), not a distributed lock')
    .option('--republish', 'keep running and put the item again before it expires, until interrupted');
  addDaemonOptions(addCommonOptions(put, { hide: [...HIDE], jsonHelp: 'print the result as one JSON object on stdout: {"target","publicKey","seq","stored"}' }))
    .addHelpText(
      'after',
      `
A running daemon (peer start) on this machine takes the value and keeps it alive
(republished while it runs and after a restart); without one it is stored once and
expires from the DHT in about 2 hours unless a running peer republishes it.

Examples:
  peer kv put greeting "hello, LAN" --namespace team
  peer kv put counter 4 --namespace team --cas 3     # only if the stored seq is 3
  peer kv put status online --identity --json        # prints the publicKey others pass as --owner
  peer kv put notes --namespace team < notes.txt     # up to 64 KiB from stdin`,
    )
    .action(async (key: string, value: string | undefined, raw: KvRaw & Record<string, unknown>) => {
      const daemon = takeDaemonOptions(raw);
      await kvPut(key, value, raw, parseCommonOptions(raw as never), daemon);
    });

  addCommonOptions(
    kv
      .command('get')
      .description('look a key up (or, with --immutable, a target hash)')
      .argument('<key>', 'the key, or the 40-hex target with --immutable')
      .option('--namespace <name>', 'the namespace the key lives in')
      .option('--owner <pubkey_hex>', "the writer's 32-byte ed25519 public key, in hex (what its kv put printed)")
      .option('--immutable', 'look up an immutable item by its target'),
    { hide: [...HIDE], jsonHelp: 'print the result as one JSON object on stdout: {"target","value","seq","publicKey","status"}' },
  )
    .addHelpText(
      'after',
      `
Exit 0 when found; 1 when the key was deleted, does not exist, or no DHT node answered
(the message, and "status" in --json, say which: deleted, not-found, unreachable).

Examples:
  peer kv get greeting --namespace team
  peer kv get status --owner 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29 --json`,
    )
    .action(async (key: string, raw: KvRaw & Record<string, unknown>) => {
      await kvGet(key, raw, parseCommonOptions(raw as never));
    });

  const del = kv
    .command('del')
    .description('delete a key: a tombstone at a higher seq, so get then says "deleted"')
    .argument('<key>', 'the key')
    .option('--namespace <name>', 'the namespace the key lives in')
    .option('--identity', "the key was written with this node's own key in --state (the default)");
  addDaemonOptions(addCommonOptions(del, { hide: [...HIDE], jsonHelp: 'print the result as one JSON object on stdout: {"target","publicKey","seq","stored"}' }))
    .addHelpText(
      'after',
      `
Examples:
  peer kv del greeting --namespace team
  peer kv del status --identity`,
    )
    .action(async (key: string, raw: KvRaw & Record<string, unknown>) => {
      const daemon = takeDaemonOptions(raw);
      await kvDel(key, raw, parseCommonOptions(raw as never), daemon);
    });

  addCommonOptions(
    kv
      .command('list')
      .description("list the keys of a namespace, from the index it keeps on the DHT (updated on put and del)")
      .option('--namespace <name>', 'the namespace')
      .option('--owner <pubkey_hex>', "another writer's keys (its public key, in hex)"),
    { hide: [...HIDE], jsonHelp: 'print the result as one JSON object on stdout: {"namespace","publicKey","keys"}' },
  )
    .addHelpText(
      'after',
      `
Without --namespace or --owner: the keys this node wrote with its own identity.

Examples:
  peer kv list --namespace team
  peer kv list --namespace files --json`,
    )
    .action(async (raw: KvRaw & Record<string, unknown>) => {
      await kvList(raw, parseCommonOptions(raw as never));
    });
}

/** put and del talk to a daemon: --api takes a URL there (the common --api [port] means "serve an API" elsewhere). */
function addDaemonOptions(cmd: Command): Command {
  const api = cmd.options.find((o) => o.long === '--api');
  if (api) {
    api.flags = '--api [url]';
    api.description = `the running daemon's API that takes the write and keeps it alive (default http://127.0.0.1:${DEFAULT_SETTINGS.apiPort}; a port alone means 127.0.0.1)`;
    api.hidden = false;
  }
  return cmd
    .addOption(new Option('--api-port <n>', "the daemon's API on 127.0.0.1 at this port"))
    .addOption(new Option('--token <token>', "the daemon's API token (default: $PEER_API_TOKEN)"))
    .addOption(new Option('--no-daemon', 'store with a short-lived node of its own even when a daemon runs'));
}

/** Takes --api/--api-port/--token out of `raw` before the common options are parsed (there --api is a port to serve). */
function takeDaemonOptions(raw: KvRaw): { target: DaemonTarget; use: boolean } {
  const target = daemonTarget({ ...(raw.api !== undefined ? { api: raw.api } : {}), ...(raw.apiPort !== undefined ? { apiPort: raw.apiPort } : {}), ...(raw.token !== undefined ? { token: raw.token } : {}) });
  delete raw.api;
  return { target, use: raw.daemon !== false };
}

/** Whether put/del go to the daemon (see the file comment). */
function useDaemon(raw: KvRaw, common: CommonOptions, daemon: { target: DaemonTarget; use: boolean }): boolean {
  if (!daemon.use || raw.republish) return false;
  if (daemon.target.explicit) return true;
  if (common.bootstrap.length > 0 || common.portGiven) return false;
  // The daemon signs identity writes with its own key: only when this run would use the same (default) --state.
  return raw.namespace !== undefined || raw.state === undefined;
}

function requireDht(common: CommonOptions): void {
  refuseInapplicable(common, 'peer kv', ['tracker', 'api', 'peer']);
  if (!common.dht) throw new UsageError('peer kv: --no-dht leaves no way to reach the DHT');
}

async function withNode<T>(common: CommonOptions, fn: (node: DhtNode) => Promise<T>, keepRunning = false): Promise<T> {
  const s = common.settings;
  const { DhtNode } = await import('../dht/node.js'); // loaded on use: other commands start without it
  // A short-lived client: read-only (BEP 43), so it leaves no dead entries in other nodes' tables.
  // With --republish it stays and answers like any node.
  const node = new DhtNode({ host: s.host, port: common.portGiven ? s.port : 0, bootstrap: common.bootstrap, settings: s, logger: getLogger('dht'), readOnly: !keepRunning });
  await node.start();
  try {
    if (common.bootstrap.length === 0) await findLanDht(node, common);
    const result = await fn(node);
    if (keepRunning) {
      process.stderr.write('republishing until interrupted (Ctrl-C)\n');
      await new Promise<void>((resolve) => {
        // Repeated signals ignored (npx forwards Ctrl-C a second time): see signals.ts.
        onStopSignal(() => resolve());
      });
    }
    return result;
  } finally {
    await node.stop();
  }
}

/**
 * No --bootstrap: the LAN's DHT, found over LSD or at the daemon of this
 * host. When none answers in time, a UsageError (exit 2): what is missing is
 * the --bootstrap the user did not give.
 */
async function findLanDht(node: DhtNode, common: CommonOptions): Promise<void> {
  const s = common.settings;
  const daemon = { host: s.host === '0.0.0.0' || s.host === '::' ? '127.0.0.1' : s.host, port: DEFAULT_SETTINGS.port };
  const found = await findLanDhtNodes(node, { host: s.host, settings: s, logger: getLogger('lsd'), waitMs: s.lsdKvWaitMs, lsd: common.lsd, candidates: [daemon] });
  if (found.length === 0) {
    const lsd = !common.lsd ? 'local service discovery is off (--no-lsd)' : isLoopbackHost(s.host) ? 'local service discovery does not run on a loopback --host' : 'none answered on the LAN over local service discovery';
    throw new NoDhtFound(
      `no DHT node answered within ${s.lsdKvWaitMs / 1000} s: no --bootstrap given, ${lsd}, and no daemon answered at ${daemon.host}:${daemon.port}; give --bootstrap HOST:PORT of a running peer (peer dht, peer start)`,
    );
  }
}

/** Nothing found to ask without --bootstrap: exit 2, since what is missing is the --bootstrap the user did not give. */
class NoDhtFound extends UsageError {}

/** Why no node answered, and what to do: for a lookup that reached nobody. */
function unreachableHint(common: CommonOptions): string {
  if (common.bootstrap.length > 0) {
    const list = common.bootstrap.map((b) => `${b.host}:${b.port}`).join(', ');
    return `no DHT node answered: the --bootstrap node${common.bootstrap.length === 1 ? '' : 's'} ${list} did not answer (is \`peer dht\` or \`peer start\` running there, on that UDP port?)`;
  }
  return `no DHT node answered: the LAN's DHT nodes (found ${common.lsd ? 'over local service discovery or ' : ''}at this host's daemon) did not answer the lookup; try again, or give --bootstrap HOST:PORT`;
}

/** Bytes of stdin read at most for a value: above what a value may hold, so the size check speaks, not a cut. */
const MAX_STDIN_VALUE_BYTES = 1024 * 1024;

/** The value piped in (UTF-8, one trailing newline dropped), or undefined when stdin is empty. */
async function readStdinValue(): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_STDIN_VALUE_BYTES) throw new UsageError(`the value on stdin is over ${MAX_STDIN_VALUE_BYTES} bytes; a value holds at most 64 KiB (share a file instead: peer share PATH)`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function parseCas(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new UsageError(`--cas: expected the seq the value has now (a non-negative integer), got ${JSON.stringify(text)}`);
  return Number(text);
}

async function kvPut(key: string, value: string | undefined, raw: KvRaw, common: CommonOptions, daemon: { target: DaemonTarget; use: boolean }): Promise<void> {
  requireDht(common);
  const cas = parseCas(raw.cas);
  if (raw.immutable) {
    if (value !== undefined) throw new UsageError('kv put --immutable takes the value only (its key is its hash)');
    if (raw.namespace !== undefined || raw.identity) throw new UsageError('kv put --immutable cannot be combined with --namespace or --identity');
    if (cas !== undefined) throw new UsageError('kv put --immutable has no seq to compare: --cas is for keys');
    const v = utf8(key);
    const size = encode(v).length;
    if (size > MAX_VALUE_BYTES) throw new UsageError(`value too large: ${size} bytes bencoded, an immutable item holds at most ${MAX_VALUE_BYTES} bytes (BEP 44); use a key (kv put KEY VALUE) for up to 64 KiB`);
    const result = await withNode(common, (node) => node.putImmutable(v, { republish: raw.republish === true }), raw.republish === true);
    report({ target: toHex(result.target), publicKey: null, seq: null, stored: result.stored }, common, 'stored');
    if (!raw.republish) expiryNote(common);
    return;
  }
  // `echo v | peer kv put key`: the value from stdin when it is not given and stdin is not a terminal.
  if (value === undefined && !process.stdin.isTTY) value = await readStdinValue();
  if (value === undefined) throw new UsageError('kv put needs <key> <value> (or the value on stdin, or --immutable <value>)');
  if (raw.namespace !== undefined && raw.identity) throw new UsageError('kv put: give --namespace or --identity, not both');
  // Refuse bad input before starting a node (KvStore checks again).
  kvKeySalt(key);
  kvValueBytes(value);
  const ns = raw.namespace !== undefined ? { namespace: raw.namespace } : {};
  if (useDaemon(raw, common, daemon)) {
    const r = await kvViaDaemon(daemon.target, { method: 'PUT', key, value, ...ns, ...(cas !== undefined ? { cas } : {}) });
    if (r) {
      report(r, common, 'stored', raw.namespace === undefined);
      if (!common.quiet) process.stderr.write(`handed to the running daemon (${daemon.target.base.origin}), which keeps it alive\n`);
      return;
    }
  }
  const identity = () => loadOrCreateIdentity(common.stateDir);
  const result = await withNode(
    common,
    (node) => new KvStore(node, identity).put(key, value, { republish: raw.republish === true, ...ns, ...(cas !== undefined ? { cas } : {}) }),
    raw.republish === true,
  );
  report(result, common, 'stored', raw.namespace === undefined);
  if (!raw.republish) expiryNote(common);
}

async function kvDel(key: string, raw: KvRaw, common: CommonOptions, daemon: { target: DaemonTarget; use: boolean }): Promise<void> {
  requireDht(common);
  if (raw.namespace !== undefined && raw.identity) throw new UsageError('kv del: give --namespace or --identity, not both');
  kvKeySalt(key);
  const ns = raw.namespace !== undefined ? { namespace: raw.namespace } : {};
  if (useDaemon(raw, common, daemon)) {
    const r = await kvViaDaemon(daemon.target, { method: 'DELETE', key, ...ns });
    if (r) {
      report(r, common, 'deleted', false);
      return;
    }
  }
  const identity = () => loadOrCreateIdentity(common.stateDir);
  const result = await withNode(common, (node) => new KvStore(node, identity).del(key, { republish: false, ...ns }));
  report(result, common, 'deleted', false);
  if (!common.quiet) process.stderr.write('the tombstone, like any value stored alone, expires in about 2 hours unless a running peer republishes it\n');
}

/** Stored alone: the value lives as long as the storing nodes keep it (dhtItemTtlMs) unless a peer republishes it. */
function expiryNote(common: CommonOptions): void {
  if (common.quiet) return;
  const ttl = common.settings.dhtItemTtlMs;
  const at = new Date(Date.now() + ttl).toISOString().slice(11, 16);
  process.stderr.write(
    `stored once: it expires from the DHT in about ${Math.round(ttl / 60_000)} minutes (${at} UTC) unless a running peer republishes it; ` +
      `put it while a daemon runs (peer start), or keep this running with --republish\n`,
  );
}

function report(out: { target: string; publicKey: string | null; seq: number | null; stored: number; indexed?: boolean }, common: CommonOptions, verb: 'stored' | 'deleted', showOwner = false): void {
  if (out.stored === 0) throw new DhtError(`no DHT node accepted the item (target ${out.target}); are the --bootstrap nodes (or the LAN's) running?`);
  if (out.indexed === false) process.stderr.write(`warning: the key index could not be updated (another writer kept changing it, or it is full): kv list may ${verb === 'stored' ? 'miss this key' : 'still show this key'}\n`);
  if (common.json) {
    printJson({ target: out.target, publicKey: out.publicKey, seq: out.seq, stored: out.stored });
    return;
  }
  const nodes = `${out.stored} node${out.stored === 1 ? '' : 's'}`;
  process.stdout.write(`${verb === 'stored' ? `stored on ${nodes}` : `deleted (a tombstone on ${nodes})`}: target ${out.target}${out.seq !== null ? ` seq ${out.seq}` : ''}\n`);
  // Signed with the identity key: another machine needs this to read the value.
  if (showOwner && out.publicKey) process.stdout.write(`public key (read it elsewhere with --owner): ${out.publicKey}\n`);
}

function parseHexBytes(text: string, bytes: number, option: string): Uint8Array {
  if (text.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(text)) throw new UsageError(`${option}: expected ${bytes * 2} hex digits, got ${JSON.stringify(text)}`);
  return fromHex(text);
}

async function kvGet(key: string, raw: KvRaw, common: CommonOptions): Promise<void> {
  requireDht(common);
  if (raw.immutable) {
    if (raw.namespace !== undefined || raw.owner !== undefined) throw new UsageError('kv get --immutable cannot be combined with --namespace or --owner');
    const target = parseHexBytes(key, 20, 'target');
    const r = await withNode(common, (node) => askAgainWhileUnheard(common, () => node.lookupItem(target), (x) => !x.item && x.responded === 0));
    const hex = toHex(target);
    if (r.item) {
      const value = kvValueText(r.item);
      if (common.json) printJson({ target: hex, value, seq: null, publicKey: null, status: 'found' });
      else process.stdout.write(value + '\n');
      return;
    }
    const status = r.responded === 0 ? 'unreachable' : 'not-found';
    failGet(common, { target: hex, value: null, seq: null, publicKey: null, status }, status === 'unreachable' ? unreachableHint(common) : `not found: no node returned a verified item for target ${hex}`);
    return;
  }
  if (raw.namespace !== undefined && raw.owner !== undefined) throw new UsageError('kv get: give --namespace or --owner, not both');
  kvKeySalt(key);
  const owner = raw.owner !== undefined ? parseHexBytes(raw.owner, 32, '--owner') : undefined;
  const identity = () => loadOrCreateIdentity(common.stateDir);
  let r: KvLookupResult;
  try {
    const where = { ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}), ...(owner ? { owner } : {}) };
    r = await withNode(common, (node) => askAgainWhileUnheard(common, () => new KvStore(node, identity).lookup(key, where), (x) => x.status === 'unreachable'));
  } catch (err) {
    if (!(err instanceof NoDhtFound) || !common.json) throw err;
    // --json still prints one object saying what happened (exit 2 as without --json).
    const publicKey = owner ?? (raw.namespace !== undefined ? namespaceKeyPair(raw.namespace).publicKey : (await identity()).publicKey);
    printJson({ target: toHex(mutableTarget(publicKey, kvKeySalt(key))), value: null, seq: null, publicKey: toHex(publicKey), status: 'unreachable' });
    process.stderr.write(`error: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  const out = { target: r.target, value: r.value, seq: r.seq, publicKey: r.publicKey, status: r.status };
  switch (r.status) {
    case 'found':
      if (common.json) printJson(out);
      else process.stdout.write(r.value + '\n');
      return;
    case 'deleted':
      failGet(common, out, `deleted: ${JSON.stringify(key)} was deleted (tombstone at seq ${r.seq})`);
      return;
    case 'not-found':
      failGet(common, out, `not found: no node returned a verified item for that key${raw.namespace === undefined && !owner ? ` (signed by this node's identity ${r.publicKey.slice(0, 16)}...; another writer's key needs --owner)` : ''}`);
      return;
    case 'unreachable':
      failGet(common, out, unreachableHint(common));
      return;
  }
}

/** Lookups a get repeats, 1 s and then 2 s apart, while no node answered: see askAgainWhileUnheard. */
const UNHEARD_RETRIES = 2;

/**
 * A get whose lookup heard no node at all asks again, when its nodes came
 * from the LAN (local service discovery, or this host's daemon): they were
 * alive a moment ago. On a LAN of 100 daemons sharing two cores, they
 * answered 0.6-2 s after the query timeout, and one `kv get` in ten said
 * "no DHT node answered" although every value was there. Nodes the user
 * named with --bootstrap are asked once: silence there is more often a
 * wrong address, which should be said at once.
 */
export async function askAgainWhileUnheard<T>(common: Pick<CommonOptions, 'bootstrap'>, lookup: () => Promise<T>, unheard: (r: T) => boolean, stepMs = 1000): Promise<T> {
  let r = await lookup();
  if (common.bootstrap.length > 0) return r;
  for (let i = 1; i <= UNHEARD_RETRIES && unheard(r); i++) {
    getLogger('kv').debug(`no DHT node answered the lookup: asking again in ${(i * stepMs) / 1000} s`);
    await delay(i * stepMs);
    r = await lookup();
  }
  return r;
}

/** A get that found no value: the status object on stdout with --json, the reason on stderr, exit 1. */
function failGet(common: CommonOptions, out: object, message: string): void {
  if (common.json) printJson(out);
  process.stderr.write(`error: ${message}\n`);
  process.exitCode = 1;
}

async function kvList(raw: KvRaw, common: CommonOptions): Promise<void> {
  requireDht(common);
  if (raw.namespace !== undefined && raw.owner !== undefined) throw new UsageError('kv list: give --namespace or --owner, not both');
  const owner = raw.owner !== undefined ? parseHexBytes(raw.owner, 32, '--owner') : undefined;
  const identity = () => loadOrCreateIdentity(common.stateDir);
  const opts = { ...(raw.namespace !== undefined ? { namespace: raw.namespace } : {}), ...(owner ? { owner } : {}) };
  const { keys, publicKey } = await withNode(common, async (node) => {
    const store = new KvStore(node, identity);
    return { keys: await store.list(opts).catch((err: unknown) => {
      if (err instanceof Error && /no DHT node answered/.test(err.message)) throw new DhtError(unreachableHint(common));
      throw err;
    }), publicKey: owner ? toHex(owner) : toHex(await store.publicKey(raw.namespace)) };
  });
  if (common.json) printJson({ namespace: raw.namespace ?? null, publicKey, keys });
  else if (keys.length === 0) process.stderr.write(`no keys${raw.namespace !== undefined ? ` in namespace ${JSON.stringify(raw.namespace)}` : ''}\n`);
  else process.stdout.write(keys.map((k) => k + '\n').join(''));
}
