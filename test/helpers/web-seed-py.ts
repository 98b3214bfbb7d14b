/**
 * test/py/range_server.py (a static file server with HTTP Range) as a web
 * seed for tests that run the built `peer`: started on an address (inside a
 * namespace host with `wrap`), its port read from its first JSON line,
 * killed in teardown.
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Client } from './clients.js';
import { SYSTEM_PYTHON } from './clients.js';
import { REPO_ROOT, spawnJson, type PeerProcess, type Teardown } from './swarm.js';

export const RANGE_SERVER_PY = path.join(REPO_ROOT, 'test', 'py', 'range_server.py');

/** Debian's python3 (any python3 with the standard library would do; this one is there in CI). */
export const python: Client = { name: 'python3', pkg: 'python3', available: existsSync(SYSTEM_PYTHON) };

export interface PyRequest {
  client: string;
  path: string;
  range: string | null;
  status: number;
}

export interface PyServer {
  proc: PeerProcess;
  port: number;
  /** The requests it answered: client address, path, Range header, status. */
  requests(): PyRequest[];
}

/**
 * Serves `root` on `host` (port 0: any free one) with range_server.py, or
 * with `python3 -m http.server` (no Range support) when `plain` is set.
 */
export async function startPyServer(t: Teardown, opts: { root: string; host: string; corrupt?: boolean; wrap?: string[]; port?: number; plain?: boolean }): Promise<PyServer> {
  if (opts.plain) {
    // Port 0 and the port read from its "Serving HTTP on ... port N" line (-u: unbuffered). A port picked free
    // beforehand could be taken by another test's listener on every address before python binds it; the
    // leecher then talked HTTP to a peer-wire socket and heard nothing for 30 s.
    const proc = spawnJson(t, SYSTEM_PYTHON, ['-u', '-m', 'http.server', String(opts.port ?? 0), '--bind', opts.host, '--directory', opts.root], ['http.server'], opts.wrap ? { wrap: opts.wrap } : {});
    const until = Date.now() + 10_000;
    let port = 0;
    while (!port) {
      const m = /Serving HTTP on \S+ port (\d+)/.exec(proc.stdout());
      if (m) port = Number(m[1]);
      else if (Date.now() > until) throw new Error(`python3 -m http.server printed no port: ${proc.describe()}`);
      else await new Promise((r) => setTimeout(r, 50));
    }
    await waitListening(opts.host, port, 10_000);
    return { proc, port, requests: () => [] };
  }
  const args = [RANGE_SERVER_PY, '--root', opts.root, '--host', opts.host, '--port', String(opts.port ?? 0), ...(opts.corrupt ? ['--corrupt'] : [])];
  const proc = spawnJson(t, SYSTEM_PYTHON, args, ['range_server.py'], opts.wrap ? { wrap: opts.wrap } : {});
  const listening = (await proc.waitFor((e) => (e as { event: string }).event === 'listening', 'range_server.py listening', 10_000)) as unknown as { port: number };
  const requests = (): PyRequest[] => (proc.events as unknown as (PyRequest & { event: string })[]).filter((e) => e.event === 'request');
  return { proc, port: listening.port, requests };
}

/** Resolves once `host:port` accepts a TCP connection (from this namespace); rejects after `ms`. */
async function waitListening(host: string, port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on ${host}:${port} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
