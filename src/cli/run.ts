/**
 * Runs a commander program with the contract's exit codes:
 * 0 success, 1 failure at run time, 2 bad usage or bad input.
 */
import { Command, CommanderError } from 'commander';
import { SwarmError, errorMessage } from '../errors.js';
import { rootLogger } from '../log.js';
import { describeError } from './system-errors.js';

export async function runCli(program: Command, argv: string[] = process.argv): Promise<void> {
  // `peer info x.torrent | head`: a reader that went away is not an error of ours.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  program.exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s), writeOut: (s) => process.stdout.write(s) });
  for (const sub of program.commands) sub.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.exitCode = exitCodeOf(err);
    if (err instanceof CommanderError) return; // commander already printed its message
    const json = argv.includes('--json');
    // A raw system error (EACCES, ENOSPC, getaddrinfo ENOTFOUND...) is said as a sentence with the fix.
    const described = describeError(err);
    if (described) process.exitCode = described.exitCode;
    const message = described?.message ?? errorMessage(err);
    if (json) process.stdout.write(JSON.stringify({ event: 'error', message }) + '\n');
    process.stderr.write(`error: ${message}\n`);
    if (!(err instanceof SwarmError) || described) rootLogger.debug(err instanceof Error ? (err.stack ?? message) : message);
  }
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
    return 2;
  }
  if (err instanceof SwarmError) return err.exitCode;
  return 1;
}
