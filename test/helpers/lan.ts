/**
 * The namespace LAN of scripts/lan.sh for the tests that need one: running
 * its commands, and whether a LAN can be made here at all (root, Linux,
 * iproute2 and tbf), with the reason when not.
 */
import { spawnSync } from 'node:child_process';
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
