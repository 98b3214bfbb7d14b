/**
 * A progress display for long work (make-torrent, seed/leech verification):
 * on a terminal, one line on stderr (a bar, percent, amount, rate, and an
 * ETA once it means something) that fits the width and goes away on stop;
 * otherwise nothing until an optional final line, so logs and pipes stay
 * clean. Never writes to stdout (kept for `--json`).
 */
import { StatusLine, type StatusField } from './status-line.js';

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

/** Redraws at most this often (a hash of a fast disk reports hundreds of batches a second). */
const REDRAW_MS = 200;
/** No ETA before this much time went by: an early rate says little. */
const ETA_AFTER_MS = 2000;

function barText(fraction: number, width: number): string {
  const full = Math.max(0, Math.min(width, Math.round(fraction * width)));
  return `[${'#'.repeat(full)}${'-'.repeat(width - full)}]`;
}

export function createProgress(opts: ProgressOptions): Progress {
  const unit = opts.unit ?? 'bytes';
  const stream = opts.stream ?? process.stderr;
  const enabled = opts.enabled ?? stream.isTTY === true;
  const started = Date.now();
  let done = 0;
  let stopped = false;
  let drawnAt = 0;
  const line = enabled ? new StatusLine(stream) : undefined;

  const rate = (): number => {
    const secs = (Date.now() - started) / 1000;
    return secs > 0 ? done / secs : 0;
  };
  const rateText = (): string => (rate() > 0 ? `${formatAmount(Math.round(rate()), unit)}/s` : '-');

  const fields = (extra?: Record<string, string | number>): StatusField[] => {
    const total = Math.max(1, opts.total);
    const out: StatusField[] = [
      { text: opts.label, keep: 8 },
      { text: barText(done / total, 20), keep: 2 },
      { text: `${((100 * Math.min(done, total)) / total).toFixed(1)}%`, keep: 10 },
      { text: `${formatAmount(done, unit)}/${formatAmount(opts.total, unit)}`, keep: 5 },
      { text: rateText(), keep: 4 },
    ];
    // An ETA only once something was done for a while: never "ETA 0s" at 0%.
    const elapsed = Date.now() - started;
    if (done > 0 && done < opts.total && elapsed >= ETA_AFTER_MS && rate() > 0) out.push({ text: `ETA ${formatDuration(((opts.total - done) / rate()) * 1000)}`, keep: 7 });
    for (const [k, v] of Object.entries(extra ?? {})) out.push({ text: `${k} ${v}`, keep: 3 });
    return out;
  };

  return {
    update(value, extra) {
      if (stopped) return;
      done = value;
      if (!line || Date.now() - drawnAt < REDRAW_MS) return;
      drawnAt = Date.now();
      line.show(fields(extra));
    },
    stop() {
      if (stopped) return;
      stopped = true;
      line?.clear();
      if (opts.finalLine) {
        stream.write(`${opts.label}: ${formatAmount(done, unit)} in ${formatDuration(Date.now() - started)} (${rateText()})\n`);
      }
    },
  };
}
