/** Parsers for command-line values; each throws a UsageError naming the option. */
import { UsageError } from '../errors.js';

export function parsePort(value: string, option = '--port'): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 0 || n > 65535) throw new UsageError(`${option}: not a port number (0-65535): ${value}`);
  return n;
}

/** `HOST:PORT` (IPv4 or hostname; `[v6]:port` accepted). */
export function parseHostPort(value: string, option = '--peer'): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(value) ?? /^([^:\s]+):(\d+)$/.exec(value);
  if (!m) throw new UsageError(`${option}: expected HOST:PORT, got ${JSON.stringify(value)}`);
  const port = parsePort(m[2]!, option);
  if (port === 0) throw new UsageError(`${option}: port 0 is not a peer address: ${value}`);
  return { host: m[1]!, port };
}

/** 262144, 256K, 256KiB, 1M, 1MiB, 1G. */
export function parseBytes(value: string, option = '--piece-length'): number {
  const m = /^(\d+)\s*([kKmMgG])?(i?[bB])?$/.exec(value.trim());
  if (!m) throw new UsageError(`${option}: expected a size such as 262144, 256K or 1M, got ${JSON.stringify(value)}`);
  const mult = { k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Number(m[1]) * mult;
}

/** Collects a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
