import { Command } from 'commander';
import { addCommonOptions } from './common.js';
import { runSwarm } from './swarm.js';
import { parseBytes } from './parse.js';

/** --upload-limit / --download-limit of seed and leech: this torrent's own limits, parsed as `peer start` parses its global ones. */
export function parseRateLimits(opts: Record<string, unknown>): { uploadBytesPerS?: number; downloadBytesPerS?: number } | undefined {
  const up = opts.uploadLimit as string | undefined;
  const down = opts.downloadLimit as string | undefined;
  if (up === undefined && down === undefined) return undefined;
  return {
    ...(up !== undefined ? { uploadBytesPerS: parseBytes(up, '--upload-limit') } : {}),
    ...(down !== undefined ? { downloadBytesPerS: parseBytes(down, '--download-limit') } : {}),
  };
}

export function registerSeed(program: Command): void {
  addCommonOptions(
    program
      .command('seed')
      .description('serve a torrent\'s content to peers (verifies the data first unless its resume state is trusted)')
      .argument('<torrent>', 'the .torrent file')
      .option('--data <path>', 'the content itself, as given to make-torrent: the file, or the folder of a multi-file torrent (default downloads/<name>)')
      .option('--upload-limit <rate>', 'upload at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .option('--download-limit <rate>', 'download at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .option('--recheck', 'ignore the resume state and verify every piece on disk before starting (without it, a resume state whose files are unchanged is trusted, and each piece it claims is hashed before its first upload)')
      .option('--allow-partial', 'seed even when only some pieces of --data match the torrent (without it, that is an error: exit 2)'),
    {
      examples: [
        'peer seed torrents/video.mkv.torrent --data ./video.mkv             # verify, then serve (Ctrl-C to stop)',
        'peer seed torrents/video.mkv.torrent --data ./video.mkv --tracker   # and be the LAN\'s tracker too',
        'peer seed big.torrent --data ./big --upload-limit 1M --json         # limited; JSON events on stdout',
      ],
    },
  ).action(async (torrent: string, opts: Record<string, unknown>) => {
    await runSwarm({ mode: 'seed', target: torrent, dataPath: opts.data as string | undefined, recheck: opts.recheck === true, allowPartial: opts.allowPartial === true, limits: parseRateLimits(opts), raw: opts as never });
  });
}
