/** Helpers for tests that run `peer dht` / `peer kv` as separate processes, the way a user does (the built dist/peer.js). */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { peerCommand, REPO_ROOT } from './helpers/bin.js';

export const CWD = REPO_ROOT;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `peer ARGS` to completion (bounded). */
export async function runPeer(args: string[], timeoutMs = 60_000, input?: string): Promise<RunResult> {
  const child = spawn(process.execPath, peerCommand(args), { cwd: CWD, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

export interface DhtProcess {
  child: ChildProcess;
  host: string;
  port: number;
  nodeId: string;
  lines: string[];
  /** Everything it wrote on stderr so far (logs). */
  stderr(): string;
  /** SIGTERM, then the exit code (SIGKILL after a bounded wait). */
  stop(): Promise<number | null>;
}

/** Starts `peer dht --json` and waits (bounded) for its listening event. */
export async function startDht(args: string[]): Promise<DhtProcess> {
  const child = spawn(process.execPath, peerCommand(['dht', '--json', '--port', '0', ...args]), { cwd: CWD, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const listening = new Promise<{ host: string; port: number; nodeId: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`peer dht did not start: ${stderr}`)), 30_000);
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        const ev = JSON.parse(line) as { event: string; host: string; port: number; nodeId: string };
        if (ev.event === 'listening') {
          clearTimeout(timer);
          resolve(ev);
        }
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`peer dht exited early: ${stderr}`));
    });
  });
  const ev = await listening;
  let exited: Promise<number | null> | undefined;
  return {
    child,
    ...ev,
    lines,
    stderr: () => stderr,
    stop() {
      exited ??= (async () => {
        if (child.exitCode !== null) return child.exitCode;
        const done = once(child, 'exit') as Promise<[number | null]>;
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const [code] = await done;
        clearTimeout(timer);
        return code;
      })();
      return exited;
    },
  };
}
