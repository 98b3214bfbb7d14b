/**
 * `peer message TO TEXT [--api URL | --api-port N] [--token T] [--json]`:
 * sends a short text to a connected peer (`host:port`) or to every one
 * (`all`) through a running daemon's HTTP API (`POST /api/messages`); the
 * daemon carries it over its BEP 10 message extension.
 *
 * --json -> {"to","sent"}. Exit 2 for bad input (the daemon answered 4xx
 * about the request or the token), 1 when the daemon cannot be reached or
 * cannot deliver (no such peer, messaging unavailable).
 */
import { Command } from 'commander';
import { DEFAULT_SETTINGS } from '../settings.js';
import { SwarmError, UsageError, errorMessage } from '../errors.js';
import { MAX_MESSAGE_BYTES } from '../session/extensions.js';
import { examplesText, printJson } from './common.js';
import { daemonApiBase } from './daemon-api.js';

interface MessageRaw {
  api?: string;
  apiPort?: string;
  token?: string;
  json?: boolean;
}

export function registerMessage(program: Command): void {
  program
    .command('message')
    .description("send a short text to a connected peer through a running daemon's API")
    .argument('<to>', 'a connected peer as host:port, or "all"')
    .argument('<text>', `the message (at most ${MAX_MESSAGE_BYTES} bytes of UTF-8)`)
    .option('--api <url>', `the daemon's API (default http://127.0.0.1:${DEFAULT_SETTINGS.apiPort})`)
    .option('--api-port <n>', 'the API on 127.0.0.1 at this port')
    .option('--token <token>', 'the API token (default: $PEER_API_TOKEN)')
    .option('--json', 'print {"to","sent"} on stdout')
    .addHelpText(
      'after',
      examplesText([
        'peer message all "new files in the share, have a look"      # every peer the daemon on :8080 is connected to',
        'peer message 192.168.1.20:6881 "hello" --api-port 8081',
      ]) + '\nThe peer that receives it prints "message from HOST:PORT: TEXT" on stderr (peer seed and leech;\npeer start logs it), or a "message" event with --json.',
    )
    .action(async (to: string, text: string, raw: MessageRaw) => {
      const result = await sendMessage(daemonApiBase(raw), to, text, raw.token ?? process.env.PEER_API_TOKEN);
      if (raw.json) printJson(result);
      else process.stdout.write(`sent to ${result.sent} peer${result.sent === 1 ? '' : 's'}\n`);
    });
}


export async function sendMessage(base: URL, to: string, text: string, token?: string): Promise<{ to: string; sent: number }> {
  if (to !== 'all' && !/^(\[[0-9a-fA-F:.]+\]|[^:\s]+):\d{1,5}$/.test(to)) throw new UsageError(`<to> must be a peer's host:port, or "all": got ${JSON.stringify(to)}`);
  if (text.length === 0) throw new UsageError('<text> is empty');
  const bytes = Buffer.byteLength(text);
  if (bytes > MAX_MESSAGE_BYTES) throw new UsageError(`<text> is ${bytes} bytes; a message holds at most ${MAX_MESSAGE_BYTES}`);
  const url = new URL('api/messages', base);
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ to, text }), signal: AbortSignal.timeout(15_000) });
  } catch (err) {
    const cause = (err as { cause?: unknown }).cause;
    const code = (cause as { code?: string } | undefined)?.code;
    const why = code === 'ECONNREFUSED' ? 'connection refused' : code === 'ENOTFOUND' ? 'unknown host' : (err as Error).name === 'TimeoutError' ? 'no answer within 15 s' : errorMessage(cause ?? err);
    throw new SwarmError(`cannot reach the daemon's API at ${url.origin}: ${why} (is \`peer start\` running, with its API there? --api URL or --api-port N say where)`, 'EAPI', 1);
  }
  let body: { error?: unknown; sent?: unknown } = {};
  try {
    body = (await res.json()) as typeof body;
  } catch {
    // An answer that is not JSON: reported by its status below.
  }
  if (!res.ok) {
    const message = `the daemon refused the message (HTTP ${res.status}): ${typeof body.error === 'string' ? body.error : res.statusText}`;
    if (res.status === 400 || res.status === 401 || res.status === 413) throw new UsageError(message);
    throw new SwarmError(message, 'EAPI', 1);
  }
  return { to, sent: typeof body.sent === 'number' ? body.sent : 0 };
}
