/**
 * `npm run bench:make-torrent [-- --size 4G] [--runs N] [--keep] [--source]
 *   [--before path/to/dist/make-torrent.js] [--no-create-torrent] [--extra-ca-unset]`
 *
 * Generates a file (1 GiB by default) and times, on the same file in the same
 * run, our `make-torrent`, mktorrent (the C tool, `-t <cores>`, when it is
 * installed), create-torrent and, with --before, another build of ours (e.g.
 * a `git worktree` of an older commit). Each tool runs as a child process
 * under /usr/bin/time -v (wall, CPU, peak RSS); the runs are interleaved
 * (one of each, then again) with a warm page cache, so a neighbour's load
 * hits every tool alike, and medians are reported. The SHA-1 ceiling is
 * measured too: single-core node:crypto SHA-1 speed times the core count.
 * So is Node's own start-up (`node -e 0`), which no script can shorten: with
 * NODE_EXTRA_CA_CERTS set, Node parses that file before running anything
 * (~30 ms on a 2-core VM), and `--extra-ca-unset` adds a row of ours run
 * without that variable, to show what it costs us.
 * Targets: issue 2, >= 85% of the ceiling, peak RSS < 100 MB, faster than
 * create-torrent; issue 13, >= 0.95x mktorrent's speed with a warm cache.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createHash, randomFillSync } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import { availableParallelism, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBytes } from '../src/cli/parse.js';
import { autoPieceLength } from '../src/metainfo/create.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name: string): boolean => args.includes(name);
const value = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const size = parseBytes(value('--size') ?? '1G', '--size');
const runs = Number(value('--runs') ?? 5);
const MB = 1e6;
const cores = availableParallelism();
const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

interface Measure {
  wallSec: number;
  cpuSec: number;
  maxRssMB: number;
  stdout: string;
}

/** Runs a command under /usr/bin/time -v and reads its wall time, CPU time and peak RSS. */
function timed(cmd: string, cmdArgs: string[], env?: NodeJS.ProcessEnv): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    execFile('/usr/bin/time', ['-v', cmd, ...cmdArgs], { cwd: ROOT, maxBuffer: 1 << 24, ...(env ? { env } : {}) }, (err, stdout, stderr) => {
      const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
      if (err) return reject(new Error(`${cmd} ${cmdArgs.join(' ')} failed: ${stderr}`));
      const num = (re: RegExp): number => Number(re.exec(stderr)?.[1] ?? NaN);
      resolve({
        wallSec,
        cpuSec: num(/User time \(seconds\): ([\d.]+)/) + num(/System time \(seconds\): ([\d.]+)/),
        maxRssMB: (num(/Maximum resident set size \(kbytes\): (\d+)/) * 1024) / MB,
        stdout,
      });
    });
  });
}

async function generate(path: string): Promise<void> {
  if (existsSync(path) && statSync(path).size === size) return;
  await mkdir(dirname(path), { recursive: true });
  const fh = await open(path, 'w');
  try {
    const chunk = Buffer.alloc(16 * 1024 * 1024);
    for (let pos = 0; pos < size; pos += chunk.length) {
      randomFillSync(chunk); // incompressible, so no file system shortcut flatters anyone
      const n = Math.min(chunk.length, size - pos);
      await fh.write(chunk, 0, n, pos);
    }
  } finally {
    await fh.close();
  }
}

/** Single-core SHA-1 MB/s over pieces of `pieceLength`, for at least ~2 s. */
function sha1Speed(pieceLength: number): number {
  const buf = randomFillSync(Buffer.alloc(64 * 1024 * 1024));
  let bytes = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 2000) {
    for (let off = 0; off < buf.length; off += pieceLength) createHash('sha1').update(buf.subarray(off, off + pieceLength)).digest();
    bytes += buf.length;
  }
  return bytes / MB / ((performance.now() - t0) / 1000);
}

/** The environment without NODE_EXTRA_CA_CERTS. */
function withoutExtraCa(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Median wall ms of `node -e 0`: the start-up every Node program pays before its first line. */
function nodeStartMs(env?: NodeJS.ProcessEnv): number {
  const ms: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], env ? { env } : {});
    ms.push(performance.now() - t0);
  }
  return ms.sort((a, b) => a - b)[3]!;
}

async function warm(path: string): Promise<void> {
  const fh = await open(path, 'r');
  const buf = Buffer.alloc(16 * 1024 * 1024);
  try {
    for (let pos = 0; pos < size; pos += buf.length) await fh.read(buf, 0, buf.length, pos);
  } finally {
    await fh.close();
  }
}

const dataDir = join(ROOT, 'bench', '.data');
const file = join(dataDir, `make-torrent-${size}.bin`);
const out = join(dataDir, 'bench.torrent');
const pieceLength = autoPieceLength(size);
const useDist = !flag('--source') && existsSync(join(ROOT, 'dist', 'make-torrent.js'));
const ours = useDist ? ['node', [join(ROOT, 'dist', 'make-torrent.js')]] as const : ['node', ['--import', 'tsx', join(ROOT, 'src', 'make-torrent.ts')]] as const;

console.log(`bench:make-torrent  size ${size / MB} MB (${size} bytes), piece length ${pieceLength}, ${cores} cores, ${runs} run(s) each`);
console.log(`load average at start: ${load()}`);
console.log(`ours: ${useDist ? 'dist/make-torrent.js (npm run build)' : 'src/make-torrent.ts under tsx'}`);
try {
  const g0 = performance.now();
  await generate(file);
  console.log(`data file ${file} ready in ${((performance.now() - g0) / 1000).toFixed(1)} s`);
  await warm(file);
  const single = sha1Speed(pieceLength);
  const ceiling = single * cores;
  console.log(`SHA-1 ceiling: ${single.toFixed(0)} MB/s single core x ${cores} = ${ceiling.toFixed(0)} MB/s`);
  const extraCa = process.env.NODE_EXTRA_CA_CERTS !== undefined;
  console.log(`node start-up (node -e 0, median of 7): ${nodeStartMs().toFixed(0)} ms${extraCa ? `; NODE_EXTRA_CA_CERTS is set (Node parses that file first): without it ${nodeStartMs(withoutExtraCa()).toFixed(0)} ms` : ''}`);

  interface Tool {
    name: string;
    cmd: string;
    args: string[];
    env?: NodeJS.ProcessEnv;
    before?: () => Promise<void>;
    infoHash: (m: Measure) => Promise<string>;
  }
  const jsonHash = (m: Measure): Promise<string> => Promise.resolve((JSON.parse(m.stdout.trim().split('\n').pop()!) as { infoHash: string }).infoHash);
  const oursArgs = (out: string): string[] => [file, '-o', out, '-l', String(pieceLength), '--force', '--no-date', '--json'];
  const tools: Tool[] = [{ name: 'swarm-peer make-torrent', cmd: ours[0], args: [...ours[1], ...oursArgs(out)], infoHash: jsonHash }];
  const before = value('--before');
  if (before) tools.push({ name: 'ours, --before build', cmd: 'node', args: [before, ...oursArgs(join(dataDir, 'before.torrent'))], infoHash: jsonHash });
  if (flag('--extra-ca-unset')) {
    tools.push({ name: 'ours, no NODE_EXTRA_CA', cmd: ours[0], args: [...ours[1], ...oursArgs(join(dataDir, 'no-extra-ca.torrent'))], env: withoutExtraCa(), infoHash: jsonHash });
  }
  if (spawnSync('mktorrent', ['-h']).error === undefined) {
    const mkOut = join(dataDir, 'mktorrent.torrent');
    tools.push({
      name: `mktorrent -t ${cores}`,
      cmd: 'mktorrent',
      // mktorrent has no --force: its output is deleted before each run.
      args: ['-t', String(cores), '-l', String(Math.log2(pieceLength)), '-d', '-o', mkOut, file],
      before: () => rm(mkOut, { force: true }),
      infoHash: async () => {
        const { parseTorrent } = await import('../src/metainfo/parse.js');
        return parseTorrent(await readFile(mkOut)).infoHashHex;
      },
    });
  } else {
    console.log('mktorrent is not installed (apt-get install mktorrent): no comparison with the C tool');
  }
  if (!flag('--no-create-torrent')) tools.push({ name: 'create-torrent 6', cmd: 'node', args: [join(ROOT, 'bench', 'lib', 'create-torrent-child.mjs'), file, String(pieceLength)], infoHash: jsonHash });

  const samples = new Map<Tool, Measure[]>(tools.map((t) => [t, []]));
  for (let r = 0; r < runs; r++) {
    for (const tool of tools) {
      await warm(file);
      await tool.before?.();
      const m = await timed(tool.cmd, tool.args, tool.env);
      console.log(`  run ${r + 1} ${tool.name.padEnd(24)} ${m.wallSec.toFixed(3)} s wall, ${m.cpuSec.toFixed(2)} s CPU, ${m.maxRssMB.toFixed(0)} MB peak RSS`);
      samples.get(tool)!.push(m);
    }
  }
  const median = (xs: number[]): number => {
    const s = [...xs].sort((x, y) => x - y);
    const mid = s.length >> 1;
    return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  };
  const results = await Promise.all(tools.map(async (tool) => {
    const ms = samples.get(tool)!;
    return {
      tool,
      wallSec: median(ms.map((m) => m.wallSec)),
      cpuSec: median(ms.map((m) => m.cpuSec)),
      maxRssMB: Math.max(...ms.map((m) => m.maxRssMB)),
      infoHash: await tool.infoHash(ms[ms.length - 1]!),
    };
  }));
  console.log('');
  console.log(`medians of ${runs} interleaved run(s)`);
  console.log('tool                      wall s   CPU s    MB/s   peak RSS MB   % of SHA-1 ceiling');
  for (const { tool, wallSec, cpuSec, maxRssMB } of results) {
    const rate = size / MB / wallSec;
    console.log(`${tool.name.padEnd(24)} ${wallSec.toFixed(3).padStart(7)} ${cpuSec.toFixed(2).padStart(7)} ${rate.toFixed(0).padStart(7)} ${maxRssMB.toFixed(0).padStart(13)} ${((100 * rate) / ceiling).toFixed(0).padStart(12)}%`);
  }
  const [us, ...others] = results;
  for (const other of others) {
    const same = other.infoHash === us!.infoHash ? 'same info-hash' : `info-hash DIFFERS: ${other.infoHash} vs ${us!.infoHash}`;
    console.log(`ours is ${(other.wallSec / us!.wallSec).toFixed(2)}x ${other.tool.name}'s speed (${same})`);
  }
  console.log(`load average at end: ${load()}`);
  // Our torrent must be valid and hold the right piece count.
  const { parseTorrent } = await import('../src/metainfo/parse.js');
  const meta = parseTorrent(await readFile(out));
  if (meta.info.pieceCount !== Math.ceil(size / pieceLength)) throw new Error('our torrent has the wrong piece count');
} finally {
  if (!flag('--keep')) {
    await rm(file, { force: true });
    for (const name of [out, join(dataDir, 'before.torrent'), join(dataDir, 'no-extra-ca.torrent'), join(dataDir, 'mktorrent.torrent')]) await rm(name, { force: true });
  }
}
