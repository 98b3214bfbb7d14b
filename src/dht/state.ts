/**
 * Files a DHT node keeps in `--state`: its routing table (so a restarted
 * node rejoins without a bootstrap node) and the ed25519 identity key that
 * `peer kv --identity` signs with.
 */
import { readFile } from 'node:fs/promises';
import { createPrivateKey } from 'node:crypto';
import { join } from 'node:path';
import { fromHex, toHex } from '../util/bytes.js';
import { StorageError } from '../errors.js';
import { writeFileAtomic } from '../util/atomic-write.js';
import type { NodeInfo } from './krpc.js';
import { generateKeyPair, keyPairFromPrivateKey, type Ed25519KeyPair } from './bep44.js';

export const ROUTING_TABLE_FILE = 'dht-routing.json';
export const IDENTITY_KEY_FILE = 'dht-identity.pem';

export interface SavedRoutingTable {
  nodeId: Uint8Array;
  nodes: NodeInfo[];
}

export async function saveRoutingTable(dir: string, table: SavedRoutingTable): Promise<void> {
  const json = {
    nodeId: toHex(table.nodeId),
    nodes: table.nodes.map((n) => ({ id: toHex(n.id), host: n.host, port: n.port })),
  };
  await writeFileAtomic(join(dir, ROUTING_TABLE_FILE), JSON.stringify(json) + '\n');
}

/** The saved table, or undefined when there is none or it is unreadable (a fresh start is fine then). */
export async function loadRoutingTable(dir: string): Promise<SavedRoutingTable | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, ROUTING_TABLE_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const json = JSON.parse(text) as { nodeId?: unknown; nodes?: unknown };
    if (typeof json.nodeId !== 'string' || !/^[0-9a-f]{40}$/.test(json.nodeId) || !Array.isArray(json.nodes)) return undefined;
    const nodes: NodeInfo[] = [];
    for (const n of json.nodes as { id?: unknown; host?: unknown; port?: unknown }[]) {
      if (typeof n?.id !== 'string' || !/^[0-9a-f]{40}$/.test(n.id) || typeof n.host !== 'string' || typeof n.port !== 'number') continue;
      if (!Number.isInteger(n.port) || n.port < 1 || n.port > 65535) continue;
      nodes.push({ id: fromHex(n.id), host: n.host, port: n.port });
    }
    return { nodeId: fromHex(json.nodeId), nodes };
  } catch {
    return undefined;
  }
}

/**
 * The node's persistent ed25519 key (`--identity`): created on first use as
 * a PKCS#8 PEM file readable by its owner only (mode 0600).
 */
export async function loadOrCreateIdentity(dir: string): Promise<Ed25519KeyPair> {
  const path = join(dir, IDENTITY_KEY_FILE);
  let pem: string | undefined;
  try {
    pem = await readFile(path, 'utf8');
  } catch {
    pem = undefined;
  }
  if (pem !== undefined) {
    try {
      return keyPairFromPrivateKey(createPrivateKey(pem));
    } catch (err) {
      throw new StorageError(`${path}: not an ed25519 private key`, { cause: err });
    }
  }
  const kp = generateKeyPair();
  await writeFileAtomic(path, kp.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600 });
  return kp;
}
