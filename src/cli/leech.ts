import { Command } from 'commander';
import { addCommonOptions } from './common.js';
import { runSwarm } from './swarm.js';
import { parseRateLimits } from './seed.js';
import { collect } from './parse.js';

export function registerLeech(program: Command): void {
  addCommonOptions(
    program
      .command('leech')
      .description('download a torrent, then keep seeding it (resumes where it stopped after a crash or restart)')
      .argument('<torrent>', 'the .torrent file or a magnet link')
      .option('--out <dir>', 'save the content as DIR/<name>', 'downloads')
      .option('--exit-on-complete', 'exit once the download is complete and verified instead of seeding')
      .option('--only <glob>', 'download only the files this glob matches (repeatable; e.g. "*.mkv", "season1/**"); the rest is skipped', collect)
      .option('--skip <glob>', 'do not download the files this glob matches (repeatable); without --only/--skip the last run\'s choice is kept', collect)
      .option('--sequential', 'download pieces in order (a read-ahead window first, rarest first beyond it), to play a file while it downloads')
      .option('--upload-limit <rate>', 'upload at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .option('--download-limit <rate>', 'download at most RATE bytes per second, e.g. 500K or 2M (0 = unlimited)')
      .option('--recheck', 'ignore the resume state and verify every piece on disk before starting (without it, a resume state whose files are unchanged is trusted, and each piece it claims is hashed before its first upload)'),
    {
      examples: [
        'peer leech torrents/video.mkv.torrent --out downloads --exit-on-complete',
        "peer leech 'magnet:?xt=urn:btih:...' --bootstrap 192.168.1.10:6881   # peers from the DHT",
        "peer leech show.torrent --only '*.mkv' --sequential                  # some files, in order",
      ],
    },
  ).action(async (torrent: string, opts: Record<string, unknown>) => {
    await runSwarm({
      mode: 'leech',
      target: torrent,
      outDir: opts.out as string,
      exitOnComplete: opts.exitOnComplete === true,
      recheck: opts.recheck === true,
      sequential: opts.sequential === true,
      limits: parseRateLimits(opts),
      ...(opts.only || opts.skip ? { select: { only: (opts.only as string[] | undefined) ?? [], skip: (opts.skip as string[] | undefined) ?? [] } } : {}),
      raw: opts as never,
    });
  });
}
