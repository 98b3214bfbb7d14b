/**
 * One voice for system errors (issue 16): an `EACCES`, `ENOSPC`,
 * `EADDRINUSE`, `getaddrinfo ENOTFOUND`... that reaches the command line is
 * said as a sentence naming the thing and the fix, with the contract's exit
 * code (2 when the user must change an input, 1 when the machine failed at
 * run time). Errors the program already words (a SwarmError) keep their
 * words; only the raw system text at their end, when there is one, is
 * replaced by the sentence.
 */
import { SwarmError, errorMessage } from '../errors.js';

interface SystemErrorLike {
  code: string;
  syscall?: string;
  path?: string;
  dest?: string;
  address?: string;
  port?: number;
  hostname?: string;
  message: string;
}

/** The first error in `err`'s cause chain that carries a system error code (`ENOENT`, `EAI_AGAIN`...). */
export function systemErrorOf(err: unknown): SystemErrorLike | undefined {
  for (let e = err, depth = 0; e && depth < 8; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z_]+$/.test(code) && (e as { errno?: unknown }).errno !== undefined) return e as SystemErrorLike;
    if (typeof code === 'string' && /^(ENOTFOUND|EAI_[A-Z]+)$/.test(code)) return e as SystemErrorLike;
  }
  return undefined;
}

/** `host:port` of a socket error, IPv6 in brackets. */
function where(e: SystemErrorLike): string {
  const host = e.address ?? e.hostname ?? '';
  const h = host.includes(':') ? `[${host}]` : host;
  return e.port !== undefined ? `${h}:${e.port}` : h;
}

/** The sentence and exit code for a system error, or undefined when it is not one we know. */
export function explainSystemError(e: SystemErrorLike): { text: string; exitCode: 1 | 2 } | undefined {
  const path = e.path;
  switch (e.code) {
    case 'ENOTFOUND':
    case 'EAI_NONAME':
    case 'EAI_NODATA':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
      return {
        text: `unknown host ${e.hostname ?? ''}: no address found for this name${e.code === 'EAI_AGAIN' ? ' (the name server did not answer)' : ''}; check the spelling, or give an IP address such as 127.0.0.1`,
        exitCode: 2,
      };
    case 'EADDRINUSE':
      return { text: `${where(e) || 'the address'} is in use: choose another port (--port, --tracker PORT or --api PORT), or stop the program that holds it`, exitCode: 2 };
    case 'EADDRNOTAVAIL':
      return { text: `${e.address ?? 'the address'} is not an address of this machine: give one of its own with --host (or leave --host out)`, exitCode: 2 };
    case 'EACCES':
    case 'EPERM':
      if (e.syscall === 'bind' || e.syscall === 'listen') return { text: `not allowed to listen on ${where(e)}: ports below 1024 need privileges; choose a port above 1023`, exitCode: 2 };
      return { text: `permission denied: ${path ?? 'a file'}: give a path you may ${e.syscall === 'open' || e.syscall === 'read' || e.syscall === 'scandir' ? 'read' : 'write'}, or change its permissions`, exitCode: 2 };
    case 'ENOENT':
      return { text: `no such file or folder: ${path ?? '?'}: check the path`, exitCode: 2 };
    case 'ENOTDIR':
      return { text: `not a folder: a part of ${path ?? 'the path'} is a file: check the path`, exitCode: 2 };
    case 'EISDIR':
      return { text: `${path ?? 'the path'} is a folder where a file was expected: give the file`, exitCode: 2 };
    case 'EEXIST':
      return { text: `${path ?? 'the path'} already exists: remove it or choose another path`, exitCode: 2 };
    case 'EROFS':
      return { text: `${path ?? 'the path'} is on a read-only file system: choose a folder you can write`, exitCode: 2 };
    case 'ENAMETOOLONG':
      return { text: `the path is too long: ${path ?? ''}`, exitCode: 2 };
    case 'ENOSPC':
    case 'EDQUOT':
      return { text: `no space left on the disk${path ? ` for ${path}` : ''}: free some space, or choose a folder on another disk`, exitCode: 1 };
    case 'EMFILE':
    case 'ENFILE':
      return { text: 'too many open files: raise the limit (ulimit -n) or run fewer torrents at once', exitCode: 1 };
    case 'ECONNREFUSED':
      return { text: `connection refused by ${where(e)}: is the program running there, on that port?`, exitCode: 1 };
    case 'EIO':
      return { text: `input/output error${path ? ` on ${path}` : ''}: the disk or file system failed`, exitCode: 1 };
    default:
      return undefined;
  }
}

/**
 * What the command line prints for `err`, and its exit code: a system error
 * as a sentence; a SwarmError whose message ends with a raw system message
 * gets the sentence instead of that tail. Undefined: print it as it is.
 */
export function describeError(err: unknown): { message: string; exitCode: 1 | 2 } | undefined {
  const sys = systemErrorOf(err);
  if (!sys) return undefined;
  const explained = explainSystemError(sys);
  if (!explained) return undefined;
  if (err instanceof SwarmError) {
    const message = err.message;
    const raw = errorMessage(sys);
    if (raw && message.endsWith(raw) && message.length > raw.length) {
      return { message: message.slice(0, message.length - raw.length) + explained.text, exitCode: err.exitCode };
    }
    return undefined;
  }
  return { message: explained.text, exitCode: explained.exitCode };
}
