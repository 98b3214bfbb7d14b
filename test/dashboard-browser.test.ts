/**
 * The dashboard in a real browser: headless Chromium (Debian's package at
 * /usr/bin/chromium) driven by playwright-core.
 *
 * - `npm start` as package.json declares it (the built dist/peer.js), in a
 *   temp folder as a fresh clone would be: the dashboard at the URL it prints
 *   renders the torrent of its watch folder.
 * - The page of a daemon whose torrent is downloading: the torrent row, its
 *   progress, the traffic chart, the peers and the swarm graph are shown, the
 *   page ran without script or CSP errors, and the token in the page's
 *   address is passed on to the API. A screenshot is kept in
 *   test-artifacts/dashboard.png.
 */
import type { ExecutionContext } from 'ava';
import { copyFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { freePort, REPO_ROOT, singleFileTorrent, spawnJson, tempDir } from './helpers/swarm.js';
import { clients, clientTest } from './helpers/clients.js';
import { startApi, startSession } from './api-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
/** Flags from ../shared/ENVIRONMENT.md: no sandbox in containers, and no background traffic to hosts it cannot reach. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium with a fresh profile in `dir`, closed in teardown; its page collects errors and requests elsewhere than `origin`. */
async function browser(t: ExecutionContext, dir: string, origin: string): Promise<{ context: BrowserContext; page: Page; problems: string[]; external: string[] }> {
  const context = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 1000 },
    timeout: 60_000,
  });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('response', (res) => {
    if (res.status() >= 400) problems.push(`HTTP ${res.status()} for ${res.url()}`);
  });
  const external: string[] = [];
  page.on('request', (req) => {
    if (!req.url().startsWith(origin)) external.push(req.url());
  });
  return { context, page, problems, external };
}

clientTest([clients.chromium], 'npm start (the start script of package.json, from dist/) serves the dashboard at the URL it prints, showing its watch folder', async (t) => {
  t.timeout(120_000);
  const pkg = JSON.parse(await readFile(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const script = pkg.scripts.start!.trim().split(/\s+/);
  t.is(script[0], 'node', `scripts.start runs node: ${pkg.scripts.start}`);
  // npm runs scripts from the package root: the script's file is taken from there, while the
  // process runs in a temp folder laid out as a fresh clone (torrents/, downloads/), so its
  // default watch and download folders are temp ones.
  const [file, ...scriptArgs] = script.slice(1);
  const bin = path.resolve(REPO_ROOT, file!);
  const cwd = await tempDir(t, 'npm-start-');
  const fx = await singleFileTorrent(path.join(cwd, 'fx'), { name: 'from-the-watch-folder.bin', length: 100_000, pieceLength: 16384 });
  await mkdir(path.join(cwd, 'torrents'));
  await mkdir(path.join(cwd, 'downloads'));
  await copyFile(fx.torrentPath, path.join(cwd, 'torrents', 'one.torrent'));
  await copyFile(fx.contentPath, path.join(cwd, 'downloads', fx.meta.info.name));
  // Only ports (others run tests at the same time: 6881, 8080, 6969 may be taken) and the state folder.
  const [port, apiPort, trackerPort] = [await freePort(['0.0.0.0']), await freePort(['127.0.0.1']), await freePort(['0.0.0.0'])];
  const extra = ['--port', String(port), '--api', String(apiPort), '--tracker', String(trackerPort), '--state', path.join(cwd, 'state')];
  const daemon = spawnJson(t, process.execPath, [bin, ...scriptArgs, ...extra], ['npm start', ...extra], { cwd });
  await daemon.waitForStderr(/dashboard: (http:\/\/\S+)/, 60_000);
  const url = /dashboard: (http:\/\/\S+)/.exec(daemon.stderr())![1]!;
  t.is(new URL(url).port, String(apiPort), 'the printed URL is the API port asked for');
  t.regex(daemon.stderr(), new RegExp(`tracker: http://\\S+:${trackerPort}/announce`), 'the start script runs the embedded tracker');

  const origin = new URL(url).origin + '/';
  const { page, problems, external } = await browser(t, cwd, origin);
  await page.goto(url, { timeout: 30_000 });
  const row = page.locator(`#torrents tbody tr[data-infohash="${fx.infoHashHex}"]`);
  await row.waitFor({ timeout: 30_000 });
  t.is(await row.locator('td.name').textContent(), 'from-the-watch-folder.bin');
  await page.waitForFunction((hex) => (globalThis as any).document.querySelector(`tr[data-infohash="${hex}"] td.state`)?.textContent === 'seeding', fx.infoHashHex, { timeout: 30_000 });
  t.is(await row.locator('.progress .label').textContent(), '100.0%');
  t.true(await page.locator('#no-torrents').isHidden(), 'the empty-folder hint is hidden');
  await page.waitForFunction(() => ((globalThis as unknown as { swarmDashboard?: { updates: number } }).swarmDashboard?.updates ?? 0) >= 2, undefined, { timeout: 30_000 });
  t.deepEqual(problems, [], 'no script errors, failed requests or CSP violations');
  t.deepEqual(external, [], 'the page loads nothing from elsewhere');

  daemon.kill('SIGINT');
  t.is((await daemon.waitExit(30_000)).code, 0, daemon.describe());
});

clientTest([clients.chromium], 'the dashboard shows a downloading torrent, its progress, peers, swarm graph and traffic chart', async (t) => {
  const dir = await tempDir(t, 'dashboard-test-');
  const { session: seeder } = await startSession(t, { host: SEEDER, dir });
  // Slow enough that the page sees the download under way.
  const { session: leecher } = await startSession(t, { host: LEECHER, dir, downloadLimit: 384 * 1024 });
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'dash <img src=x onerror=alert(1)> demo.bin', length: 4 * 1024 * 1024 + 77, pieceLength: 65536 });
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  const torrent = await leecher.addTorrent(fx.meta, { contentPath: path.join(dir, 'out', fx.meta.info.name), mode: 'leech', peers: [{ host: SEEDER, port: seeder.port }] });
  const token = 'dashboard-test-token-42-abcdef';
  const api = await startApi(t, leecher, path.join(dir, 'api'), { token });

  const { page, problems, external } = await browser(t, dir, `http://127.0.0.1:${api.port}/`);

  await page.goto(api.dashboardUrl, { timeout: 30_000 });
  const row = page.locator(`#torrents tbody tr[data-infohash="${fx.infoHashHex}"]`);
  await row.waitFor({ timeout: 30_000 });
  t.is(await row.locator('td.name').textContent(), 'dash <img src=x onerror=alert(1)> demo.bin', 'the name is shown as text, not HTML');

  // Progress under way: a bar between 0 and 100 %.
  await page.waitForFunction(
    (hex) => {
      const bar = (globalThis as any).document.querySelector(`tr[data-infohash="${hex}"] .progress`);
      const v = Number(bar?.getAttribute('aria-valuenow'));
      return v > 0 && v < 100;
    },
    fx.infoHashHex,
    { timeout: 30_000 },
  );
  t.false(torrent.complete, 'the page was checked while the transfer ran');
  t.is(await row.locator('td.state').textContent(), 'downloading');
  t.regex((await row.locator('.progress .label').textContent()) ?? '', /^\d+\.\d%$/);

  // The traffic chart: chart.js drew a line chart with download samples above zero.
  await page.waitForFunction(
    () => {
      const s = (globalThis as unknown as { swarmDashboard?: { chart?: { data: { labels: unknown[]; datasets: { data: number[] }[] } } } }).swarmDashboard;
      const c = s?.chart;
      return c !== undefined && c.data.labels.length >= 3 && c.data.datasets[0]!.data.some((v) => v > 0);
    },
    undefined,
    { timeout: 30_000 },
  );
  const chart = await page.evaluate(() => {
    const canvas = (globalThis as any).document.getElementById('traffic-chart') as { width: number; height: number };
    const c = (globalThis as unknown as { Chart: { getChart(el: unknown): { config: { type: string } } | undefined } }).Chart.getChart(canvas);
    return { type: c?.config.type, width: canvas.width, height: canvas.height };
  });
  t.is(chart.type, 'line');
  t.true(chart.width > 100 && chart.height > 100, JSON.stringify(chart));

  // The peers of the selected torrent and the swarm graph around this node.
  await page.locator(`#peers tbody tr[data-address^="${SEEDER}:"]`).waitFor({ timeout: 30_000 });
  await page.locator(`#swarm-graph circle.peer[data-address^="${SEEDER}:"]`).waitFor({ timeout: 30_000 });
  t.is(await page.locator('#swarm-graph circle.self').count(), 1);
  t.is(await page.locator('#swarm-graph line').count(), await page.locator('#swarm-graph circle.peer').count(), 'one edge per connected peer');

  const artifacts = path.join(REPO_ROOT, 'test-artifacts');
  await mkdir(artifacts, { recursive: true });
  await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
  t.log(`screenshot: ${path.join(artifacts, 'dashboard.png')}`);

  // The live updates follow the download to its end.
  await page.waitForFunction((hex) => (globalThis as any).document.querySelector(`tr[data-infohash="${hex}"] td.state`)?.textContent === 'seeding', fx.infoHashHex, { timeout: 60_000 });
  t.is(await row.locator('.progress .label').textContent(), '100.0%');

  t.deepEqual(problems, [], 'no script errors or CSP violations');
  t.deepEqual(external, [], 'the page loads nothing from elsewhere');
  const state = await page.evaluate(() => (globalThis as unknown as { swarmDashboard: { lastError: string | null; updates: number } }).swarmDashboard);
  t.is(state.lastError, null, 'the API accepted the token the page passed on');
  t.true(state.updates >= 3);
});
