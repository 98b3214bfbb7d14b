/**
 * `peer info <torrent|magnet> [--json]`: what a .torrent or a magnet link
 * holds. Human output on stdout; `--json` prints exactly the contract's keys
 * (../shared/DESIGN.md), with null for what a magnet link does not carry.
 */
import { Command, Option } from 'commander';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../log.js';
import { loadTorrentFile } from '../metainfo/load.js';
import { userFiles } from '../metainfo/layout.js';
import { isMagnet, magnetOf, parseMagnet, trackersOf } from '../metainfo/magnet.js';
import type { FileEntry, MagnetLink, Metainfo } from '../metainfo/types.js';
import { examplesText, printJson } from './common.js';
import { formatBytes } from './progress.js';

export interface InfoJson {
  infoHash: string;
  name: string | null;
  length: number | null;
  pieceLength: number | null;
  pieces: number | null;
  files: { path: string; length: number }[] | null;
  announce: string[];
  private: boolean | null;
}

/**
 * The `--json` object of a torrent. File paths are joined with `/`, under the
 * torrent's name. `files` lists the user's files only (no BEP 47 pad files,
 * no symlinks); `length` is the total the torrent declares, pad bytes
 * included, as libtorrent's `total_size()` and transmission-show's "Total
 * Size" report it (it is what `pieces` x `pieceLength` covers).
 */
export function torrentInfoJson(meta: Metainfo): InfoJson {
  return {
    infoHash: meta.infoHashHex,
    name: meta.info.name,
    length: meta.info.length,
    pieceLength: meta.info.pieceLength,
    pieces: meta.info.pieceCount,
    files: userFiles(meta.info).map((f) => ({ path: f.path.join('/'), length: f.length })),
    announce: trackersOf(meta),
    private: meta.info.private,
  };
}

export function magnetInfoJson(m: MagnetLink): InfoJson {
  return { infoHash: m.infoHashHex, name: m.name ?? null, length: null, pieceLength: null, pieces: null, files: null, announce: m.trackers, private: null };
}

interface TreeNode {
  children: Map<string, TreeNode>;
  length: number;
  isFile: boolean;
}

/** Files as an indented tree with sizes; folders show the size of what they hold. */
export function renderFileTree(files: readonly FileEntry[]): string[] {
  const root: TreeNode = { children: new Map(), length: 0, isFile: false };
  for (const f of files) {
    let node = root;
    node.length += f.length;
    f.path.forEach((c, i) => {
      let next = node.children.get(c);
      if (!next) {
        next = { children: new Map(), length: 0, isFile: i === f.path.length - 1 };
        node.children.set(c, next);
      }
      next.length += f.length;
      node = next;
    });
  }
  const lines: string[] = [];
  const visit = (node: TreeNode, prefix: string): void => {
    const entries = [...node.children.entries()];
    entries.forEach(([name, child], i) => {
      const last = i === entries.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${name}${child.isFile ? '' : '/'}  (${formatBytes(child.length)})`);
      if (!child.isFile) visit(child, prefix + (last ? '    ' : '│   '));
    });
  };
  visit(root, '');
  return lines;
}

export function renderTorrentInfo(meta: Metainfo): string {
  const i = meta.info;
  const files = userFiles(i);
  const padBytes = i.files.reduce((n, f) => n + (f.pad ? f.length : 0), 0);
  const links = i.files.filter((f) => f.symlink);
  const lines = [
    `name:          ${i.name}${i.multiFile ? '/' : ''}`,
    `info-hash:     ${meta.infoHashHex}`,
    `size:          ${formatBytes(i.length)} (${i.length} bytes) in ${files.length} file${files.length === 1 ? '' : 's'}` +
      (padBytes > 0 ? ` + ${padBytes} bytes of padding (BEP 47 pad files, never written to disk)` : ''),
    `pieces:        ${i.pieceCount} x ${formatBytes(i.pieceLength)} (${i.pieceLength} bytes)`,
    `private:       ${i.private ? 'yes (trackers only: no DHT, no PEX)' : 'no'}`,
  ];
  if (meta.creationDate !== undefined) lines.push(`created:       ${new Date(meta.creationDate * 1000).toISOString()}`);
  if (meta.createdBy !== undefined) lines.push(`created by:    ${meta.createdBy}`);
  if (meta.comment !== undefined) lines.push(`comment:       ${meta.comment}`);
  if (meta.announceList.length === 0) lines.push('trackers:      none');
  else {
    lines.push('trackers:');
    meta.announceList.forEach((tier, t) => tier.forEach((url) => lines.push(`  tier ${t + 1}: ${url}`)));
  }
  if (meta.urlList.length) {
    lines.push('web seeds:');
    for (const u of meta.urlList) lines.push(`  ${u}`);
  }
  lines.push('files:');
  if (i.multiFile) {
    lines.push(`  ${i.name}/`);
    for (const l of renderFileTree(files)) lines.push(`  ${l}`);
    if (links.length) {
      lines.push('symlinks (never created from a torrent):');
      for (const f of links) lines.push(`  ${f.path.join('/')} -> ${f.symlink!.join('/')}`);
    }
  } else {
    lines.push(`  ${i.name}  (${formatBytes(i.length)})`);
  }
  lines.push(`magnet:        ${magnetOf(meta)}`);
  return lines.join('\n') + '\n';
}

export function renderMagnetInfo(m: MagnetLink): string {
  const lines = [
    `name:          ${m.name ?? '(unknown until the metadata is fetched from peers)'}`,
    `info-hash:     ${m.infoHashHex}`,
    'size, pieces, files: unknown (a magnet link carries only the info-hash; `peer leech` fetches the rest from peers, BEP 9)',
  ];
  if (m.trackers.length) {
    lines.push('trackers:');
    for (const t of m.trackers) lines.push(`  ${t}`);
  } else lines.push('trackers:      none');
  if (m.peers.length) {
    lines.push('peers:');
    for (const p of m.peers) lines.push(`  ${p}`);
  }
  return lines.join('\n') + '\n';
}

interface RawInfo {
  json?: boolean;
  logLevel: LogLevel;
}

export async function runInfo(target: string, raw: RawInfo): Promise<void> {
  setLogLevel(raw.logLevel);
  if (isMagnet(target)) {
    const m = parseMagnet(target);
    if (raw.json) printJson(magnetInfoJson(m));
    else process.stdout.write(renderMagnetInfo(m));
    return;
  }
  const meta = await loadTorrentFile(target);
  if (raw.json) printJson(torrentInfoJson(meta));
  else process.stdout.write(renderTorrentInfo(meta));
}

/** `peer info`. */
export function registerInfo(program: Command): void {
  program
    .command('info')
    .description('show what a .torrent file or a magnet link holds')
    .argument('<torrent|magnet>', 'a .torrent file or a magnet: link')
    .option('--json', 'print one JSON object: infoHash, name, length, pieceLength, pieces, files, announce, private (null when a magnet link does not say)')
    .addOption(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS as string[]).default('warn'))
    .addHelpText(
      'after',
      '\nExit code 2 when the file is missing or is not a valid torrent; the message names the field at fault.' +
        examplesText(['peer info torrents/video.mkv.torrent', "peer info 'magnet:?xt=urn:btih:...&dn=video.mkv' --json"]),
    )
    .action((target: string, raw: RawInfo) => runInfo(target, raw));
}
