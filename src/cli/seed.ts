import { Command } from 'commander';
import { addCommonOptions } from './common.js';
import { runSwarm } from './swarm.js';

export function registerSeed(program: Command): void {
  addCommonOptions(
    program
      .command('seed')
      .description('serve a torrent\'s content to peers (verifies the data first unless its resume state is trusted)')
      .argument('<torrent>', 'the .torrent file')
      .option('--data <path>', 'the content itself, as given to make-torrent: the file, or the folder of a multi-file torrent (default downloads/<name>)')
      .option('--recheck', 'ignore the resume state and verify every piece on disk before starting (without it, a resume state whose files are unchanged is trusted, and each piece it claims is hashed before its first upload)'),
  ).action(async (torrent: string, opts: Record<string, unknown>) => {
    await runSwarm({ mode: 'seed', target: torrent, dataPath: opts.data as string | undefined, recheck: opts.recheck === true, raw: opts as never });
  });
}
