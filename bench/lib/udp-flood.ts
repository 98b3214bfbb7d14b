/**
 * The bench's fast UDP tracker client (udp-flood.c beside this file), its
 * echo server (the client's own ceiling), and Debian's opentracker, as child
 * processes for `bench:tracker`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface FloodResult {
  answers: number;
  errors: number;
  sent: number;
  seconds: number;
  /** Answered announces per second, summed over the processes. */
  perSecond: number;
  processes: number;
  failed: number;
}

/** Compiles udp-flood.c into `dir`; returns the binary's path. */
export async function buildFlood(dir: string): Promise<string> {
  const src = new URL('./udp-flood.c', import.meta.url).pathname;
  const bin = path.join(dir, 'udp-flood');
  await run('gcc', ['-O2', '-Wall', '-o', bin, src]);
  return bin;
}

/** Runs the load client against host:port; `packets` is a file of 98-byte announces. */
export async function flood(bin: string, host: string, port: number, packets: string, opts: { processes: number; window: number; seconds: number }): Promise<FloodResult> {
  const { stdout } = await run(bin, ['load', host, String(port), packets, String(opts.processes), String(opts.window), String(opts.seconds)], { timeout: (opts.seconds + 30) * 1000 });
  return JSON.parse(stdout) as FloodResult;
}

/** A child that prints one JSON line when ready; killed by `stop`. */
export interface Child {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGKILL');
    await exited;
  };
}

/** The trivial echo tracker on an ephemeral loopback port. */
export async function startEcho(bin: string, host: string): Promise<Child> {
  const child = spawn(bin, ['echo', host, '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const { port } = JSON.parse(String(first.value)) as { port: number };
  return { child, port, stop: stopper(child) };
}

/** bench/lib/node-udp-echo.ts (a Node dgram server doing no work): the ceiling of a single-threaded Node tracker. */
export async function startNodeEcho(host: string): Promise<Child> {
  const script = new URL('./node-udp-echo.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', script, host], { stdio: ['ignore', 'pipe', 'inherit'] });
  const first = await createInterface({ input: child.stdout! })[Symbol.asyncIterator]().next();
  const { port } = JSON.parse(String(first.value)) as { port: number };
  return { child, port, stop: stopper(child) };
}

/** A port free for both TCP and UDP on host (opentracker binds both). */
async function freePort(host: string): Promise<number> {
  for (;;) {
    const srv = net.createServer();
    const port = await new Promise<number>((r) => srv.listen(0, host, () => r((srv.address() as net.AddressInfo).port)));
    const udp = dgram.createSocket('udp4');
    const ok = await new Promise<boolean>((r) => {
      udp.once('error', () => r(false));
      udp.bind(port, host, () => r(true));
    });
    udp.close();
    await new Promise<void>((r) => srv.close(() => r()));
    if (ok) return port;
  }
}

/**
 * Debian's opentracker, serving only `infoHashes` (it is built
 * whitelist-only). As root it drops to `nobody` and chroots to `dir`, so the
 * whitelist lives there (world-readable) and is named relative to it.
 */
export async function startOpentracker(dir: string, host: string, infoHashes: string[]): Promise<Child> {
  await chmod(dir, 0o755);
  const list = path.join(dir, 'whitelist');
  await writeFile(list, infoHashes.map((h) => `${h.toLowerCase()}\n`).join(''));
  await chmod(list, 0o644);
  const port = await freePort(host);
  const root = process.getuid?.() === 0;
  const args = ['-i', host, '-p', String(port), '-P', String(port), ...(root ? ['-w', 'whitelist', '-u', 'nobody', '-d', dir] : ['-w', list])];
  const child = spawn('opentracker', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`opentracker ${args.join(' ')} exited: ${stderr}`);
    const up = await new Promise<boolean>((r) => {
      const s = net.connect({ host, port });
      s.once('connect', () => (s.destroy(), r(true)));
      s.once('error', () => r(false));
    });
    if (up) break;
    if (Date.now() > deadline) throw new Error(`opentracker did not listen on ${host}:${port}: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, port, stop: stopper(child) };
}
