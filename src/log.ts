/**
 * The one winston root logger. Logs go to stderr so that stdout stays free
 * for `--json` output. Components take `logger.child({ component })`.
 *
 * winston (with its streams) takes about a tenth of a second to load, longer
 * than the rest of a command's start-up, and a run at the default level
 * (warn) often logs nothing. So the root logger here is a thin front that
 * drops messages below the level itself and loads winston on the first
 * message that is actually written.
 */
import { createRequire } from 'node:module';
import type winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];

/** What components use of a logger; a winston logger is one too (tests pass theirs). */
export interface Logger {
  error(message: string): unknown;
  warn(message: string): unknown;
  info(message: string): unknown;
  debug(message: string): unknown;
  child(meta: Record<string, unknown>): Logger;
}

const RANK: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const require = createRequire(import.meta.url);

let level: LogLevel = process.env.LOG_LEVEL && (LOG_LEVELS as string[]).includes(process.env.LOG_LEVEL) ? (process.env.LOG_LEVEL as LogLevel) : 'warn';
let winstonRoot: winston.Logger | undefined;

function realRoot(): winston.Logger {
  if (winstonRoot) return winstonRoot;
  const w = require('winston') as typeof winston;
  const line = w.format.printf((info) => {
    const context = [info.component, info.torrent, info.peer].filter((v) => v !== undefined).map(String).join(' ');
    const component = context ? `[${context}] ` : '';
    return `${String(info.timestamp)} ${info.level} ${component}${String(info.message)}`;
  });
  winstonRoot = w.createLogger({
    level,
    format: w.format.combine(w.format.timestamp({ format: 'HH:mm:ss.SSS' }), line),
    transports: [new w.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'] })],
  });
  return winstonRoot;
}

/** A logger of the root (or a child with `meta`): checks the level, then writes through winston. */
class LazyLogger implements Logger {
  readonly #meta: Record<string, unknown> | undefined;
  #real: winston.Logger | undefined;

  constructor(meta?: Record<string, unknown>) {
    this.#meta = meta;
  }

  #write(l: LogLevel, message: string): void {
    if (RANK[l] > RANK[level]) return;
    this.#real ??= this.#meta ? realRoot().child(this.#meta) : realRoot();
    this.#real.log(l, message);
  }

  error(message: string): void {
    this.#write('error', message);
  }

  warn(message: string): void {
    this.#write('warn', message);
  }

  info(message: string): void {
    this.#write('info', message);
  }

  debug(message: string): void {
    this.#write('debug', message);
  }

  child(meta: Record<string, unknown>): Logger {
    return new LazyLogger({ ...this.#meta, ...meta });
  }
}

export const rootLogger: Logger = new LazyLogger();

export function setLogLevel(l: LogLevel): void {
  level = l;
  if (winstonRoot) winstonRoot.level = l;
}

export function getLogger(component: string): Logger {
  return rootLogger.child({ component });
}

class SilentLogger implements Logger {
  error(): void {}
  warn(): void {}
  info(): void {}
  debug(): void {}
  child(): Logger {
    return this;
  }
}

/** A logger that drops everything, for tests and library use without output. */
export const silentLogger: Logger = new SilentLogger();
