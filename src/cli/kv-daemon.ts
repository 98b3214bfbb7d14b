/**
 * `peer kv put` and `peer kv del` hand the write to a running daemon on this
 * machine (`peer start`, through its HTTP API, as `peer message` does), so
 * that the daemon keeps the value alive: it republishes what it put while
 * it runs and after a restart. `undefined` means no daemon took it (none
 * answers there, or it runs no DHT), and the command stores it alone.
 */
import { KvError, SwarmError, UsageError, errorMessage } from '../errors.js';
import { daemonApiBase } from './daemon-api.js';

export interface DaemonTarget {
  base: URL;
  token?: string;
  /** Given with --api/--api-port: a daemon that cannot be reached is an error, not a reason to go alone. */
  explicit: boolean;
}

export interface DaemonKvResult {
  target: string;
  publicKey: string;
  seq: number | null;
  stored: number;
  republished?: boolean;
  indexed?: boolean;
}

/** How long to wait for a daemon to answer before storing alone (the put itself can take longer: see below). */
const CONNECT_TIMEOUT_MS = 3_000;
const OPERATION_TIMEOUT_MS = 90_000;

/** The daemon's API from --api URL|PORT / --api-port N (default http://127.0.0.1:<apiPort>). */
export function daemonTarget(raw: { api?: string | boolean; apiPort?: string; token?: string }): DaemonTarget {
  const token = raw.token ?? process.env.PEER_API_TOKEN;
  // A bare --api (true) names the default daemon explicitly; anything given makes the daemon required.
  const explicit = raw.api !== undefined || raw.apiPort !== undefined;
  const base = daemonApiBase({ ...(typeof raw.api === 'string' ? { api: raw.api } : {}), ...(raw.apiPort !== undefined ? { apiPort: raw.apiPort } : {}) });
  if (raw.api === true && raw.apiPort !== undefined) throw new UsageError('give --api or --api-port, not both');
  return { base, explicit, ...(token ? { token } : {}) };
}

/** PUT (a value) or DELETE at /api/kv/KEY on the daemon; undefined when no daemon with a DHT took it. */
export async function kvViaDaemon(
  d: DaemonTarget,
  op: { method: 'PUT'; key: string; value: string; cas?: number; namespace?: string } | { method: 'DELETE'; key: string; namespace?: string },
): Promise<DaemonKvResult | undefined> {
  const url = new URL(`api/kv/${encodeURIComponent(op.key)}`, d.base);
  if (op.namespace !== undefined) url.searchParams.set('namespace', op.namespace);
  const headers: Record<string, string> = {};
  if (d.token) headers.Authorization = `Bearer ${d.token}`;
  let body: string | undefined;
  if (op.method === 'PUT') {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify({ value: op.value, ...(op.cas !== undefined ? { cas: op.cas } : {}) });
  }
  // Is a daemon with a DHT there? Asked with a short timeout; the write itself (lookups, chunks) may take longer.
  const probe = await probeDaemon(d, headers);
  if (probe !== true) {
    if (d.explicit) throw new SwarmError(`cannot reach the daemon's API at ${d.base.origin}: ${probe} (is \`peer start\` running?)`, 'EAPI', 1);
    return undefined;
  }
  let res: Response;
  try {
    res = await fetch(url, { method: op.method, headers, ...(body !== undefined ? { body } : {}), signal: AbortSignal.timeout(OPERATION_TIMEOUT_MS) });
  } catch (err) {
    throw new SwarmError(`the daemon's API at ${url.origin} failed: ${errorMessage((err as { cause?: unknown }).cause ?? err)}`, 'EAPI', 1);
  }
  let answer: { error?: unknown; result?: Partial<DaemonKvResult> | null } = {};
  try {
    answer = (await res.json()) as typeof answer;
  } catch {
    // Not our daemon (or not JSON): judged by the status below.
  }
  const error = typeof answer.error === 'string' ? answer.error : res.statusText;
  if (res.ok && answer.result && typeof answer.result.target === 'string') {
    const r = answer.result;
    return { target: r.target!, publicKey: String(r.publicKey ?? ''), seq: typeof r.seq === 'number' ? r.seq : null, stored: typeof r.stored === 'number' ? r.stored : 0, ...(typeof r.republished === 'boolean' ? { republished: r.republished } : {}), ...(typeof r.indexed === 'boolean' ? { indexed: r.indexed } : {}) };
  }
  if (res.status === 409) throw new KvError(error, 'ECAS');
  if (res.status === 400 || res.status === 413) throw new UsageError(`the daemon refused it (HTTP ${res.status}): ${error}`);
  if (res.status === 401) throw new UsageError(`the daemon at ${url.origin} wants a token: give --token or set PEER_API_TOKEN (HTTP 401)`);
  // 503 (a daemon without a DHT), 404 (something else listens there), ...: store alone unless told to use this daemon.
  if (d.explicit) throw new SwarmError(`the daemon at ${url.origin} could not store it (HTTP ${res.status}): ${error}`, 'EAPI', 1);
  return undefined;
}

/** true when a daemon answers GET /api/dht with its DHT enabled; otherwise why not. */
async function probeDaemon(d: DaemonTarget, headers: Record<string, string>): Promise<true | string> {
  const auth: Record<string, string> = headers.Authorization ? { Authorization: headers.Authorization } : {};
  try {
    const res = await fetch(new URL('api/dht', d.base), { headers: auth, signal: AbortSignal.timeout(CONNECT_TIMEOUT_MS) });
    if (res.status === 401) throw new UsageError(`the daemon at ${d.base.origin} wants a token: give --token or set PEER_API_TOKEN (HTTP 401)`);
    if (!res.ok) return `it answered HTTP ${res.status}`;
    const body = (await res.json()) as { enabled?: unknown };
    return body.enabled === true ? true : 'it runs no DHT (started with --no-dht)';
  } catch (err) {
    if (err instanceof UsageError) throw err;
    return errorMessage((err as { cause?: unknown }).cause ?? err);
  }
}
