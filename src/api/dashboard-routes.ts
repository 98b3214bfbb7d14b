/**
 * `GET /` (the dashboard page) and the files it loads, all served from here:
 * LAN machines may have no internet, so no CDN.
 */
import type http from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { ApiError, baseHeaders, CONTENT_SECURITY_POLICY, sendText } from './http.js';
import type { Route } from './routes.js';
import { DASHBOARD_HTML } from './dashboard/page.js';
import { DASHBOARD_JS } from './dashboard/app.js';
import { DASHBOARD_CSS } from './dashboard/style.js';

export function dashboardRoutes(): Route[] {
  let chartJs: Promise<Buffer> | undefined;
  /** chart.js's UMD build, from node_modules, found from this module (works from src/ and dist/). */
  const chartJsBytes = (): Promise<Buffer> => {
    chartJs ??= (async () => {
      const main = createRequire(import.meta.url).resolve('chart.js');
      return readFile(join(dirname(main), 'chart.umd.min.js'));
    })();
    chartJs.catch(() => (chartJs = undefined));
    return chartJs;
  };
  return [
    { pattern: /^\/$/, methods: { GET: (_q, res) => dashboard(res) } },
    // Browsers ask for it on their own; no icon, and no 404 in their console.
    { pattern: /^\/favicon\.ico$/, public: true, methods: { GET: (_q, res) => void res.writeHead(204, baseHeaders()).end() } },
    { pattern: /^\/assets\/([a-z.]+)$/, public: true, methods: { GET: (_q, res, [name]) => asset(res, name!, chartJsBytes) } },
  ];
}

function dashboard(res: http.ServerResponse): void {
  sendText(res, 200, 'text/html; charset=utf-8', DASHBOARD_HTML, { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-store' });
}

async function asset(res: http.ServerResponse, name: string, chartJsBytes: () => Promise<Buffer>): Promise<void> {
  const headers = { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, 'Cache-Control': 'no-cache' };
  switch (name) {
    case 'app.js':
      return sendText(res, 200, 'text/javascript; charset=utf-8', DASHBOARD_JS, headers);
    case 'style.css':
      return sendText(res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS, headers);
    case 'chart.js':
      return sendText(res, 200, 'text/javascript; charset=utf-8', await chartJsBytes(), { ...headers, 'Cache-Control': 'max-age=3600' });
    default:
      throw new ApiError(404, `no asset ${name}`);
  }
}
