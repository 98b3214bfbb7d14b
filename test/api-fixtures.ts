/**
 * Shared set-up of the API tests (test/api-*.test.ts, metrics, dashboard):
 * in-process sessions on loopback addresses, an ApiServer over one, raw
 * HTTP requests (fetch normalises `..` away, which would hide the traversal
 * attempts these tests make), and a Prometheus text parser.
 */
import http from 'node:http';
import path from 'node:path';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { ApiServer, type ApiServerOptions } from '../src/api/server.js';
import type { SessionExtras, SessionLike } from '../src/api/session-like.js';
import { tempDir, type Teardown } from './helpers/swarm.js';

export async function startSession(
  t: Teardown,
  opts: { host?: string; dir?: string; downloadLimit?: number; uploadLimit?: number; dht?: boolean; trackerPort?: number } = {},
): Promise<{ session: Session; dir: string }> {
  const dir = opts.dir ?? (await tempDir(t, 'api-test-'));
  const session = new Session({
    settings: resolveSettings({ host: opts.host ?? '127.0.0.1', port: 0, ...(opts.downloadLimit ? { downloadLimitBytesPerS: opts.downloadLimit } : {}), ...(opts.uploadLimit ? { uploadLimitBytesPerS: opts.uploadLimit } : {}) }),
    stateDir: path.join(dir, `state-${Math.random().toString(36).slice(2)}`),
    logger: silentLogger,
    useTrackers: false,
    ...(opts.dht ? { dht: { bootstrap: [] } } : {}),
    ...(opts.trackerPort !== undefined ? { trackerPort: opts.trackerPort } : {}),
  });
  await session.start();
  t.teardown(() => session.stop());
  return { session, dir };
}

export async function startApi(t: Teardown, session: SessionLike, dir: string, opts: Partial<ApiServerOptions> = {}): Promise<ApiServer> {
  const api = new ApiServer({
    session,
    port: 0,
    downloadsDir: path.join(dir, 'downloads'),
    uploadsDir: path.join(dir, 'uploads'),
    logger: silentLogger,
    ...opts,
  });
  await api.start();
  t.teardown(() => api.stop());
  return api;
}

/**
 * The session with some members replaced (the parts the lead adds later:
 * dht, kv, sendMessage, messages). A Proxy rather than a copy: Session's
 * methods use private fields, so they must run with the real session as `this`.
 */
export function withExtras(session: Session, extras: SessionExtras): SessionLike {
  return new Proxy(session, {
    get(target, prop) {
      if (prop in extras) return (extras as Record<string | symbol, unknown>)[prop];
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  }) as unknown as SessionLike;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  text: string;
  json(): any;
}

/** One HTTP request with the path sent exactly as given. */
export function request(
  port: number,
  opts: { method?: string; path: string; headers?: Record<string, string | number>; body?: Buffer | string; host?: string },
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: opts.host ?? '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers ?? {}, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        const text = body.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, text, json: () => JSON.parse(text) });
      });
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`request ${opts.path} timed out`)));
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A multipart/form-data body with one file part. */
export function multipart(filename: string, content: Buffer, field = 'file'): { body: Buffer; headers: Record<string, string | number> } {
  const boundary = `----swarmtest${Math.random().toString(16).slice(2)}`;
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${field}"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const body = Buffer.concat([head, content, tail]);
  return { body, headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}`, 'Content-Length': body.length } };
}

export interface PromSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface PromText {
  samples: PromSample[];
  help: Map<string, string>;
  type: Map<string, string>;
}

/**
 * A strict reader of the Prometheus text format (0.0.4): every line is
 * `# HELP name text`, `# TYPE name counter|gauge|...`, another comment, or
 * `name{label="value",...} number`; anything else throws, naming the line.
 */
export function parsePrometheus(text: string): PromText {
  const out: PromText = { samples: [], help: new Map(), type: new Map() };
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const lines = text.split('\n').slice(0, -1);
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const sampleRe = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)(?: (-?\\d+))?$`);
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)/;
  lines.forEach((line, i) => {
    const where = `line ${i + 1}: ${JSON.stringify(line)}`;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME}) (.*)$`).exec(line);
      if (!m) {
        if (/^# (HELP|TYPE)/.test(line)) throw new Error(`malformed ${where}`);
        return;
      }
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3]!)) throw new Error(`bad type in ${where}`);
        if (out.type.has(m[2]!)) throw new Error(`second TYPE for ${m[2]} at ${where}`);
        out.type.set(m[2]!, m[3]!);
      } else out.help.set(m[2]!, m[3]!);
      return;
    }
    if (line.trim() === '') return;
    const m = sampleRe.exec(line);
    if (!m) throw new Error(`malformed sample at ${where}`);
    const labels: Record<string, string> = {};
    let rest = m[2] ?? '';
    while (rest.length) {
      const lm = labelRe.exec(rest);
      if (!lm) throw new Error(`malformed labels at ${where}`);
      labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
      rest = rest.slice(lm[0].length);
    }
    const raw = m[3]!;
    const value = raw === 'NaN' ? NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (!/^(NaN|[+-]Inf|-?\d+(\.\d+)?([eE][+-]?\d+)?)$/.test(raw)) throw new Error(`bad value at ${where}`);
    out.samples.push({ name: m[1]!, labels, value });
  });
  return out;
}

/** The value of one sample (labels matched exactly), or undefined. */
export function promValue(p: PromText, name: string, labels: Record<string, string> = {}): number | undefined {
  const want = JSON.stringify(Object.entries(labels).sort());
  return p.samples.find((s) => s.name === name && JSON.stringify(Object.entries(s.labels).sort()) === want)?.value;
}
