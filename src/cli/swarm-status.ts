/**
 * What the status line of `peer seed` / `peer leech` says (issue 16): the
 * fields from a torrent's stats, most important kept longest when the
 * terminal is narrow; and the closing summaries.
 */
import type { TorrentStats } from '../session/torrent.js';
import { formatBytes, formatDuration } from './progress.js';
import { cutToWidth, type StatusField } from './status-line.js';

/** ETA from the current download rate, only once it means something (some data in, a rate, a few seconds in). */
export function etaMs(s: TorrentStats, elapsedMs: number): number | undefined {
  if (s.left <= 0 || s.downloadRate <= 0 || elapsedMs < 3000 || s.downloaded === 0) return undefined;
  return (s.left / s.downloadRate) * 1000;
}

/** The line while downloading: `45.1%  name  120 MiB/256 MiB  down 12 MiB/s  up 1.2 MiB/s  peers 5 (2 seeds)  ETA 11.0 s`. */
export function downloadFields(name: string, s: TorrentStats, elapsedMs: number): StatusField[] {
  const doneBytes = Math.max(0, s.wanted - s.left);
  const pct = s.wanted > 0 ? (100 * doneBytes) / s.wanted : 100;
  const eta = etaMs(s, elapsedMs);
  const fields: StatusField[] = [
    { text: `${pct.toFixed(1)}%`, keep: 9 },
    { text: cutToWidth(name, 30), keep: 2 },
    { text: `${formatBytes(doneBytes)}/${formatBytes(s.wanted)}`, keep: 4 },
    { text: `down ${formatBytes(s.downloadRate)}/s`, keep: 8 },
    { text: `up ${formatBytes(s.uploadRate)}/s`, keep: 3 },
    { text: s.peers === 0 ? 'no peers yet' : `peers ${s.peers}${s.seeds ? ` (${s.seeds} seed${s.seeds > 1 ? 's' : ''})` : ''}`, keep: 6 },
  ];
  if (eta !== undefined) fields.push({ text: `ETA ${formatDuration(eta)}`, keep: 7 });
  return fields;
}

/** The line while seeding: `seeding name  peers 3  up 2.1 MiB/s  uploaded 1.2 GiB`. */
export function seedFields(name: string, s: TorrentStats): StatusField[] {
  return [
    { text: `seeding ${cutToWidth(name, 30)}`, keep: 9 },
    { text: `peers ${s.peers}`, keep: 8 },
    { text: `up ${formatBytes(s.uploadRate)}/s`, keep: 7 },
    { text: `uploaded ${formatBytes(s.uploaded)}`, keep: 6 },
  ];
}

/** The line at the end of a download: where, how much, how long, how fast, from how many. */
export function completeLine(name: string, contentPath: string, s: TorrentStats, elapsedMs: number, peersSeen: number, seeding: boolean): string {
  const avg = elapsedMs > 0 ? (s.downloaded * 1000) / elapsedMs : 0;
  return (
    `complete: ${name} -> ${contentPath} (${formatBytes(s.wanted)}), ${formatBytes(s.downloaded)} downloaded in ${formatDuration(elapsedMs)}` +
    ` (${formatBytes(Math.round(avg))}/s) from ${peersSeen} peer${peersSeen === 1 ? '' : 's'}${seeding ? '; seeding (Ctrl-C to stop)' : ''}`
  );
}

/** The line on Ctrl-C / SIGTERM: what moved, the ratio, and how to go on when unfinished. */
export function stopLine(s: TorrentStats, done: boolean): string {
  const ratio = s.downloaded > 0 ? (s.uploaded / s.downloaded).toFixed(2) : s.uploaded > 0 ? 'inf' : '0.00';
  const pct = s.wanted > 0 ? ((100 * (s.wanted - s.left)) / s.wanted).toFixed(1) : '100.0';
  return `stopped: downloaded ${formatBytes(s.downloaded)}, uploaded ${formatBytes(s.uploaded)}, ratio ${ratio}${done ? '' : `; ${pct}% done, run the same command to resume`}`;
}

export { printable } from '../util/printable.js';

/** A tracker's failure as the user reads it: without the URL repeated, system codes in words. */
export function trackerReason(error: string, url: string): string {
  let r = error.startsWith(`tracker ${url}: `) ? error.slice(`tracker ${url}: `.length) : error.startsWith(`${url}: `) ? error.slice(url.length + 2) : error;
  r = r.replace(/^connect ECONNREFUSED \S+$/, 'connection refused');
  r = r.replace(/^getaddrinfo (ENOTFOUND|EAI_AGAIN) (\S+)$/, 'unknown host $2');
  r = r.replace(/^connect (EHOSTUNREACH|ENETUNREACH) \S+$/, 'no route to the host');
  return r;
}
