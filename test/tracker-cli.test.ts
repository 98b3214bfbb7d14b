import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrackerError } from '../src/errors.js';
import { announce } from '../src/tracker/client.js';
import { peerCommand, REPO_ROOT } from './helpers/bin.js';
import { pollUntil } from './helpers/poll.js';

function runPeer(args: string[]): { child: ChildProcess; stdout: () => string; exit: Promise<number | null> } {
  const child = spawn(process.execPath, peerCommand(args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', () => undefined);
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, stdout: () => out, exit };
}

async function firstLine(get: () => string, ms = 20_000): Promise<string> {
  await pollUntil(() => get().includes('\n'), 'a line of output', ms);
  return get().split('\n')[0]!;
}

test('peer tracker --json: prints where it listens, serves announces, stops cleanly on SIGINT (exit 0)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tracker-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const allowed = 'ab'.repeat(20);
  const allowFile = join(dir, 'allow.txt');
  await writeFile(allowFile, `# our torrents\n${allowed.toUpperCase()}\n\n`);
  const p = runPeer(['tracker', '--host', '127.0.0.1', '--port', '0', '--allow', allowFile, '--json']);
  t.teardown(() => void p.child.kill('SIGKILL'));
  const info = JSON.parse(await firstLine(p.stdout)) as { event: string; port: number; announce: string; udp: string; allowList: number };
  t.is(info.event, 'listening');
  t.true(info.port > 0);
  t.is(info.announce, `http://127.0.0.1:${info.port}/announce`);
  t.is(info.udp, `udp://127.0.0.1:${info.port}/announce`);
  t.is(info.allowList, 1);

  const req = { infoHash: Buffer.from(allowed, 'hex'), peerId: new Uint8Array(20).fill(1), port: 6881, uploaded: 0, downloaded: 0, left: 1, localAddress: '127.0.0.51' };
  const r = await announce(info.announce, req, { timeoutMs: 5000 });
  t.is(r.interval, 120);
  const u = await announce(info.udp, { ...req, peerId: new Uint8Array(20).fill(2), localAddress: '127.0.0.52' }, { timeoutMs: 5000 });
  t.deepEqual(u.peers, [{ host: '127.0.0.51', port: 6881 }]);
  await t.throwsAsync(announce(info.announce, { ...req, infoHash: new Uint8Array(20) }, { timeoutMs: 5000 }), { instanceOf: TrackerError, message: /not served/ });

  p.child.kill('SIGINT');
  t.is(await p.exit, 0);
  const lines = p.stdout().trim().split('\n');
  t.deepEqual(JSON.parse(lines[lines.length - 1]!), { event: 'stopped', torrents: 1, peers: 2, seeds: 0 });
});

test('peer tracker: a bad allow-list file or port is a usage error (exit 2)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tracker-cli-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const bad = join(dir, 'allow.txt');
  await writeFile(bad, 'not-a-hash\n');
  t.is(await runPeer(['tracker', '--port', '0', '--host', '127.0.0.1', '--allow', bad]).exit, 2);
  t.is(await runPeer(['tracker', '--port', '0', '--host', '127.0.0.1', '--allow', join(dir, 'missing')]).exit, 2);
  t.is(await runPeer(['tracker', '--port', '99999']).exit, 2);
});

test('peer tracker on a port already in use exits 2 with a sentence naming the port and the fix (as seed --tracker does)', async (t) => {
  const net = await import('node:net');
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => holder.close());
  const port = (holder.address() as { port: number }).port;
  const child = spawn(process.execPath, peerCommand(['tracker', '--host', '127.0.0.1', '--port', String(port)]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  t.is(code, 2, err);
  t.regex(err, new RegExp(`tracker port ${port} on 127\\.0\\.0\\.1 is in use: choose another with --port`));
  t.notRegex(err, /EADDRINUSE/);
});
