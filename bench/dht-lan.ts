/**
 * bench:dht-lan (issue 15, lookup reliability): how often a fresh,
 * short-lived `peer kv get` finds a value `peer kv put` stored from another
 * host of the namespace LAN, with no --bootstrap (the LAN's DHT is found
 * over LSD or at the host's daemon). The 100-host bench:lan run found it 4
 * times in 10. The cause was the machine, not the DHT: the kernel's
 * neighbour table (one for all namespaces, 1024 entries by default)
 * overflowed, and hosts could no longer reach peers they had not resolved
 * yet; lan.sh now raises the limits. Run this while a 100-host LAN is up
 * with the old limits and every daemon is alone (puts stored on 1 node).
 *
 *   npx tsx bench/dht-lan.ts [--hosts 30] [--keys 20] [--daemon dht|start] [--peer PATH] [--settle S] [--up-settle S]
 *
 * --up-settle: seconds between `lan.sh up` and starting the daemons (default 5; 0 starts them at once).
 *
 * --peer runs another build of the program (e.g. one made from an older
 * commit) to compare before and after. Needs root and `npm run build`.
 * The LAN is always taken down at the end, also on failure or Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const LAN_SH = path.join(ROOT, 'scripts', 'lan.sh');

interface Args {
  hosts: number;
  keys: number;
  daemon: 'dht' | 'start';
  peer: string;
  settleS: number;
  upSettleS: number;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { hosts: 30, keys: 20, daemon: 'dht', peer: path.join(ROOT, 'dist', 'peer.js'), settleS: 10, upSettleS: 5 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): string => {
      const x = argv[++i];
      if (x === undefined) throw new Error(`${a} needs a value`);
      return x;
    };
    if (a === '--hosts') out.hosts = Number(v());
    else if (a === '--keys') out.keys = Number(v());
    else if (a === '--daemon') out.daemon = v() === 'start' ? 'start' : 'dht';
    else if (a === '--peer') out.peer = path.resolve(v());
    else if (a === '--settle') out.settleS = Number(v());
    else if (a === '--up-settle') out.upSettleS = Number(v());
    else throw new Error(`unknown option ${a} (--hosts N, --keys N, --daemon dht|start, --peer PATH, --settle S, --up-settle S)`);
  }
  if (!Number.isInteger(out.hosts) || out.hosts < 3 || out.hosts > 250) throw new Error('--hosts: 3..250');
  return out;
}

const log = (msg: string): void => void process.stderr.write(`[dht-lan] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) {
    log('needs root (network namespaces)');
    return 2;
  }
  const prefix = `bd${randomBytes(2).toString('hex')}x`;
  const sh = (a: string[]): string => {
    const r = spawnSync('bash', [LAN_SH, ...a, '--prefix', prefix], { encoding: 'utf8', timeout: 300_000 });
    if (r.status !== 0) throw new Error(`lan.sh ${a.join(' ')}: ${r.stderr || r.error}`);
    return r.stdout;
  };
  const dataDir = path.join(ROOT, 'bench', '.data', `dht-lan-${prefix}`);
  const procs: ChildProcess[] = [];
  let up = false;
  const cleanup = (): void => {
    for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
    if (up) {
      up = false;
      try {
        sh(['down']);
      } catch (err) {
        log(`lan.sh down failed: ${(err as Error).message}`);
      }
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    cleanup();
    process.exit(130);
  });
  try {
    up = true;
    sh(['up', String(args.hosts)]);
    const hosts = sh(['list'])
      .trim()
      .split('\n')
      .map((l) => {
        const [i, ns] = l.split(' ');
        return { i: Number(i), ns: ns! };
      });
    // A host's link-local IPv6 address is tentative (DAD) for a second or two after `up`: LSD started
    // then drops its IPv6 channel (EINVAL) and runs on IPv4 only. Like a real machine, let it settle.
    await sleep(args.upSettleS * 1000);
    for (const h of hosts) {
      const state = path.join(dataDir, `host${h.i}`);
      mkdirSync(state, { recursive: true });
      const cmd = args.daemon === 'dht' ? ['dht', '--state', state] : ['start', '--state', state, '--torrents', path.join(state, 't'), '--downloads', path.join(state, 'd'), '--no-api'];
      procs.push(spawn('ip', ['netns', 'exec', h.ns, process.execPath, args.peer, ...cmd], { stdio: 'ignore' }));
    }
    log(`${args.hosts} x peer ${args.daemon} (${args.peer}); settling ${args.settleS} s`);
    await sleep(args.settleS * 1000);
    const peerIn = (ns: string, a: string[]): { ok: boolean; stdout: string; stderr: string; ms: number } => {
      const t0 = performance.now();
      const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, args.peer, ...a], { encoding: 'utf8', timeout: 60_000 });
      return { ok: r.status === 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: performance.now() - t0 };
    };
    let puts = 0;
    let found = 0;
    const stored: number[] = [];
    const failures: string[] = [];
    for (let k = 0; k < args.keys; k++) {
      const key = `k${k}-${prefix}`;
      const value = `value ${k}`;
      const writer = hosts[k % hosts.length]!;
      const reader = hosts[(k + 1 + Math.floor(Math.random() * (hosts.length - 1))) % hosts.length]!;
      const put = peerIn(writer.ns, ['kv', 'put', key, value, '--namespace', 'bench-dht-lan', '--state', path.join(dataDir, `kv-${k}-w`), '--json']);
      if (!put.ok) {
        failures.push(`put ${key} on host ${writer.i}: ${put.stderr.trim().slice(-200)}`);
        continue;
      }
      puts++;
      stored.push((JSON.parse(put.stdout) as { stored: number }).stored);
      const get = peerIn(reader.ns, ['kv', 'get', key, '--namespace', 'bench-dht-lan', '--state', path.join(dataDir, `kv-${k}-r`), '--json']);
      let got: string | undefined;
      try {
        got = (JSON.parse(get.stdout) as { value: string }).value;
      } catch {
        got = undefined;
      }
      if (get.ok && got === value) found++;
      else failures.push(`get ${key} on host ${reader.i}: ${get.ok ? `read ${JSON.stringify(got)}` : get.stderr.trim().slice(-200)}`);
    }
    for (const f of failures) log(f);
    const sorted = [...stored].sort((a, b) => a - b);
    process.stdout.write(`hosts ${args.hosts} (peer ${args.daemon}), ${path.relative(ROOT, args.peer) || args.peer}\n`);
    process.stdout.write(`  puts ok            ${puts}/${args.keys} (stored on min/median ${sorted[0] ?? 0}/${sorted[Math.floor(sorted.length / 2)] ?? 0} nodes)\n`);
    process.stdout.write(`  gets found value   ${found}/${puts}\n`);
    return 0;
  } finally {
    cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
