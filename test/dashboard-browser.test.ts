/**
 * The dashboard in a real browser: headless Chromium (Debian's package at
 * /usr/bin/chromium) driven by playwright-core loads the page of a daemon
 * whose torrent is downloading, and the test checks that the torrent row,
 * its progress, the traffic chart, the peers and the swarm graph are shown,
 * that the page ran without script or CSP errors, and that the token in the
 * page's address is passed on to the API. A screenshot is kept in
 * test-artifacts/dashboard.png.
 */
import test from 'ava';
import { access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { REPO_ROOT, singleFileTorrent, tempDir } from './helpers/swarm.js';
import { startApi, startSession } from './api-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
/** Flags from ../shared/ENVIRONMENT.md: no sandbox in containers, and no background traffic to hosts it cannot reach. */
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

test('the dashboard shows a downloading torrent, its progress, peers, swarm graph and traffic chart', async (t) => {
  try {
    await access(CHROMIUM);
  } catch {
    t.log(`SKIPPED: ${CHROMIUM} is absent (apt-get install -y chromium); the browser test did not run`);
    t.pass();
    return;
  }
  const dir = await tempDir(t, 'dashboard-test-');
  const { session: seeder } = await startSession(t, { host: SEEDER, dir });
  // Slow enough that the page sees the download under way.
  const { session: leecher } = await startSession(t, { host: LEECHER, dir, downloadLimit: 384 * 1024 });
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'dash <img src=x onerror=alert(1)> demo.bin', length: 4 * 1024 * 1024 + 77, pieceLength: 65536 });
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  const torrent = await leecher.addTorrent(fx.meta, { contentPath: path.join(dir, 'out', fx.meta.info.name), mode: 'leech', peers: [{ host: SEEDER, port: seeder.port }] });
  const token = 'dashboard-test-token-42-abcdef';
  const api = await startApi(t, leecher, path.join(dir, 'api'), { token });

  const context = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: FLAGS,
    viewport: { width: 1280, height: 1000 },
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
    if (!req.url().startsWith(`http://127.0.0.1:${api.port}/`)) external.push(req.url());
  });

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
