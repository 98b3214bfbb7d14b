import test from 'ava';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDENTITY_KEY_FILE, ROUTING_TABLE_FILE, loadOrCreateIdentity, loadRoutingTable, saveRoutingTable } from '../src/dht/state.js';
import { StorageError } from '../src/errors.js';
import { toHex } from '../src/util/bytes.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dht-state-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('the routing table is saved atomically into a folder made for it, and read back', async (t) => {
  const dir = join(await tempDir(t), 'state');
  const table = { nodeId: new Uint8Array(20).fill(7), nodes: [{ id: new Uint8Array(20).fill(1), host: '10.0.0.1', port: 6881 }] };
  await saveRoutingTable(dir, table);
  await saveRoutingTable(dir, { ...table, nodes: [] });
  t.deepEqual(await readdir(dir), [ROUTING_TABLE_FILE], 'no temporary file left behind');
  const back = await loadRoutingTable(dir);
  t.is(toHex(back!.nodeId), toHex(table.nodeId));
  t.deepEqual(back!.nodes, []);
});

test('the identity key is created once, owner-only (0600), and loaded the next time', async (t) => {
  const dir = join(await tempDir(t), 'state');
  const first = await loadOrCreateIdentity(dir);
  t.is((await stat(join(dir, IDENTITY_KEY_FILE))).mode & 0o777, 0o600);
  const again = await loadOrCreateIdentity(dir);
  t.is(toHex(again.publicKey), toHex(first.publicKey));
  t.deepEqual(await readdir(dir), [IDENTITY_KEY_FILE]);
  await writeFile(join(dir, IDENTITY_KEY_FILE), 'not a key');
  await t.throwsAsync(loadOrCreateIdentity(dir), { instanceOf: StorageError, message: /not an ed25519 private key/ });
});
