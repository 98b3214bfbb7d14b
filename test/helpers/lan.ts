/**
 * The namespace LAN of scripts/lan.sh for the tests that need one: running
 * its commands, and whether a LAN can be made here at all (root, Linux,
 * iproute2 and tbf), with the reason when not.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { REPO_ROOT } from './swarm.js';

export const LAN_SH = path.join(REPO_ROOT, 'scripts', 'lan.sh');

/** Runs `lan.sh ARGS` (bounded) and returns its status and output. */
export function lan(args: string[], timeoutMs = 60_000): { ok: boolean; out: string; err: string } {
  const r = spawnSync('bash', [LAN_SH, ...args], { encoding: 'utf8', timeout: timeoutMs });
  return { ok: r.status === 0, out: r.stdout ?? '', err: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Undefined when a namespace LAN can be made here, else why not. */
export function lanUnavailable(): string | undefined {
  if (process.platform !== 'linux') return `not Linux (${process.platform})`;
  if (process.getuid?.() !== 0) return `not root (uid ${process.getuid?.()}): network namespaces need root`;
  const r = lan(['check']);
  return r.ok ? undefined : r.err.trim() || 'lan.sh check failed';
}

export type LanHost = { i: number; ns: string; addr: string };

/** Prefixes of the LANs made by lanUp and not yet taken down. */
const upPrefixes = new Set<string>();

/**
 * A LAN of `n` hosts with a prefix of its own (`tag` + 6 hex + "n": unique
 * per run, 8 characters, not ending in a digit) and the /16 `net`, taken
 * down in `t`'s teardown (and by lanDownAll, for a run that ends early).
 * `rate` (e.g. 100mbit) shapes each host both ways; lan.sh's default otherwise.
 */
export function lanUp(t: { teardown(fn: () => void): void }, n: number, net: string, tag: string, rate?: string): LanHost[] {
  const prefix = `${tag}${randomBytes(3).toString('hex')}n`;
  upPrefixes.add(prefix);
  t.teardown(() => lanDown(prefix));
  const args = ['up', String(n), ...(rate ? [rate] : []), '--prefix', prefix, '--net', net];
  const up = lan(args);
  if (!up.ok) throw new Error(`lan.sh ${args.join(' ')} failed: ${up.err}`);
  return lan(['list', '--prefix', prefix])
    .out.trim()
    .split('\n')
    .map((l) => {
      const [i, ns, addr] = l.split(' ');
      return { i: Number(i), ns: ns!, addr: addr! };
    });
}

/** Takes a LAN of lanUp down (idempotent); a failure is said on stderr, not thrown (teardown goes on). */
export function lanDown(prefix: string): void {
  if (!upPrefixes.delete(prefix)) return;
  const r = lan(['down', '--prefix', prefix]);
  if (!r.ok) process.stderr.write(`lan.sh down --prefix ${prefix} failed: ${r.err}\n`);
}

/** Every LAN of lanUp still up: for `test.after.always`. */
export function lanDownAll(): void {
  for (const p of [...upPrefixes]) lanDown(p);
}
