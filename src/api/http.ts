/**
 * Small HTTP helpers of the API server (node:http, no framework): a typed
 * error carrying the status, JSON answers, bounded body reading, and the
 * security headers every answer gets.
 */
import type http from 'node:http';
import { SwarmError } from '../errors.js';

/** A request the API refuses; `status` is the HTTP status, the message goes out as `{error}`. */
export class ApiError extends SwarmError {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message, 'EAPI', status >= 500 ? 1 : 2);
    this.status = status;
  }
}

/**
 * The page loads nothing from elsewhere (LAN machines may have no
 * internet, and a dashboard that can drive the daemon must not run foreign
 * code): scripts, styles and fetches go to this server only.
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
  "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function baseHeaders(): Record<string, string> {
  return {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    // The token may sit in the page's query string: never send it onwards.
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Resource-Policy': 'same-origin',
  };
}

export function sendJson(res: http.ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, {
    ...baseHeaders(),
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': body.length,
    'Cache-Control': 'no-store',
  });
  res.end(body);
}

export function sendText(res: http.ServerResponse, status: number, contentType: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  res.writeHead(status, { ...baseHeaders(), 'Content-Type': contentType, 'Content-Length': buf.length, ...extra });
  res.end(buf);
}

/** Reads the whole body, refusing more than `maxBytes` (413) as soon as it is exceeded. */
export async function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) throw new ApiError(413, `the body is ${declared} bytes; at most ${maxBytes} are accepted here`);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > maxBytes) throw new ApiError(413, `the body is over ${maxBytes} bytes, the most accepted here`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Parses a JSON object body; anything else is a 400 that says what was expected. */
export async function readJsonObject(req: http.IncomingMessage, maxBytes: number): Promise<Record<string, unknown>> {
  const body = await readBody(req, maxBytes);
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ApiError(400, 'the body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ApiError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

/** The media type of a request, lower case, without parameters. */
export function mediaType(req: http.IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

const INFO_HASH = /^[0-9a-fA-F]{40}$/;

/** A v1 info-hash in hex (40 characters), lower-cased; anything else is a 400. */
export function checkInfoHash(value: string): string {
  if (!INFO_HASH.test(value)) throw new ApiError(400, `bad info-hash ${JSON.stringify(value.slice(0, 80))}: expected 40 hex characters`);
  return value.toLowerCase();
}
