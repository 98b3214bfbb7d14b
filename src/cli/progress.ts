/**
 * A progress display for long work (make-torrent, seed/leech verification,
 * downloads): a cli-progress bar on stderr with percent, rate and ETA when
 * stderr is a terminal; otherwise nothing until an optional final line, so
 * logs and pipes stay clean. Never writes to stdout (kept for `--json`).
 */
import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

// Loaded only when a bar is drawn: a non-interactive run (a pipe, a
// benchmark, a daemon) does not pay for the module's start-up.
const require = createRequire(import.meta.url);

export type ProgressUnit = 'bytes' | 'items';

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: ProgressUnit;
  /** Where to draw (default process.stderr). */
  stream?: NodeJS.WriteStream;
  /** Force the bar on or off (default: on when the stream is a TTY). */
  enabled?: boolean;
  /** On stop, print one summary line even when no bar was drawn (default false). */
  finalLine?: boolean;
}

export interface Progress {
  /** Sets the amount done; `extra` values are shown after the rate. */
  update(done: number, extra?: Record<string, string | number>): void;
  /** Idempotent. Clears the bar's line and prints the final line if asked. */
  stop(): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  if (i === 0) return `${n} B`;
  return `${Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[i]}`;
}

function formatAmount(n: number, unit: ProgressUnit): string {
  return unit === 'bytes' ? formatBytes(n) : String(n);
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)} s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const unit = opts.unit ?? 'bytes';
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? stream.isTTY === true;
  const started = Date.now();
  let done = 0;
  let stopped = false;
  let bar: CliProgress.SingleBar | undefined;

  const rateText = (): string => {
    const secs = (Date.now() - started) / 1000;
    return secs > 0 ? `${formatAmount(Math.round(done / secs), unit)}/s` : '-';
  };
  const extraText = (extra?: Record<string, string | number>): string =>
    extra ? Object.entries(extra).map(([k, v]) => ` | ${k} ${v}`).join('') : '';

  if (enabled) {
    const cliProgress = require('cli-progress') as typeof CliProgress;
    bar = new cliProgress.SingleBar(
      {
        stream,
        format: `${opts.label} [{bar}] {percentage}% | {amount} | {rate} | ETA {eta_formatted}{extra}`,
        barsize: 30,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 50,
        fps: 5,
        noTTYOutput: false,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(Math.max(1, opts.total), 0, { amount: `0/${formatAmount(opts.total, unit)}`, rate: '-', extra: '' });
  }

  return {
    update(value, extra) {
      if (stopped) return;
      done = value;
      bar?.update(value, { amount: `${formatAmount(value, unit)}/${formatAmount(opts.total, unit)}`, rate: rateText(), extra: extraText(extra) });
    },
    stop() {
      if (stopped) return;
      stopped = true;
      bar?.stop();
      if (opts.finalLine) {
        stream.write(`${opts.label}: ${formatAmount(done, unit)} in ${formatDuration(Date.now() - started)} (${rateText()})\n`);
      }
    },
  };
}
