/**
 * The one winston root logger. Logs go to stderr so that stdout stays free
 * for `--json` output. Components take `logger.child({ component })`.
 */
import winston from 'winston';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug'];
export type Logger = winston.Logger;

const line = winston.format.printf((info) => {
  const context = [info.component, info.torrent, info.peer].filter((v) => v !== undefined).map(String).join(' ');
  const component = context ? `[${context}] ` : '';
  return `${String(info.timestamp)} ${info.level} ${component}${String(info.message)}`;
});

export const rootLogger: Logger = winston.createLogger({
  level: process.env.LOG_LEVEL && (LOG_LEVELS as string[]).includes(process.env.LOG_LEVEL) ? process.env.LOG_LEVEL : 'warn',
  format: winston.format.combine(winston.format.timestamp({ format: 'HH:mm:ss.SSS' }), line),
  transports: [new winston.transports.Console({ stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'] })],
});

export function setLogLevel(level: LogLevel): void {
  rootLogger.level = level;
}

export function getLogger(component: string): Logger {
  return rootLogger.child({ component });
}

/** A logger that drops everything, for tests and library use without output. */
export const silentLogger: Logger = winston.createLogger({ silent: true, transports: [new winston.transports.Console({ silent: true })] });
