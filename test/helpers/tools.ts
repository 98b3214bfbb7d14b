/**
 * Other programs as children of a test (aria2c, transmission-cli,
 * opentracker...): output collected, exit awaited within a bound, killed in
 * teardown if still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { within, type Teardown } from './swarm.js';
import { pollUntil } from './poll.js';

export interface Tool {
  child: ChildProcess;
  /** stdout and stderr, interleaved as they came. */
  output(): string;
  readonly exited: Promise<number | null>;
  /** The exit code, within `ms` (rejects on timeout, with the output tail). */
  waitExit(ms: number): Promise<number | null>;
  /** Resolves when the output matches, within `ms`. */
  waitOutput(re: RegExp, ms: number): Promise<void>;
  kill(signal?: NodeJS.Signals): void;
}

export function spawnTool(t: Teardown, cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Tool {
  const child = spawn(cmd, args, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const onData = (d: Buffer): void => {
    out += d.toString('utf8');
    if (out.length > 1_000_000) out = out.slice(-500_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      out += `\n[spawn error: ${err.message}]`;
      code = null;
      resolve(null);
    });
    // 'exit' can come before the last of stdout has been read: wait for the pipes to close too
    // (at most 2 s, in case a grandchild holds them), or a --json line can be missing from output().
    child.once('exit', (c) => {
      code = c;
      const late = setTimeout(() => resolve(c), 2000);
      child.once('close', () => {
        clearTimeout(late);
        resolve(c);
      });
    });
  });
  const tail = (): string => (out.length > 3000 ? `...${out.slice(-3000)}` : out);
  t.teardown(async () => {
    if (code === undefined) {
      child.kill('SIGKILL');
      await within(exited, 10_000, `${cmd} to exit`).catch(() => undefined);
    }
  });
  return {
    child,
    output: () => out,
    exited,
    waitExit: (ms) => within(exited, ms, `${cmd} ${args.join(' ')} to exit; output:\n${tail()}`),
    async waitOutput(re, ms) {
      await pollUntil(
        () => {
          if (re.test(out)) return true;
          if (code !== undefined) throw new Error(`${cmd} exited (${code}) before printing ${re}; output:\n${tail()}`);
          return undefined;
        },
        `${re} from ${cmd}`,
        ms,
      ).catch((err: unknown) => {
        throw (err as Error).message.startsWith('timed out') ? new Error(`${(err as Error).message}; output:\n${tail()}`) : err;
      });
    },
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (code === undefined) child.kill(signal);
    },
  };
}
