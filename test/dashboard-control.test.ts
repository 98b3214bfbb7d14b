/**
 * The dashboard's per-torrent controls in a real browser (headless
 * Chromium at /usr/bin/chromium, the launch flags of
 * dashboard-browser.test.ts): the limits column shows a torrent's own
 * limits, the control form changes them through the API (PATCH), and
 * Recheck verifies the data again.
 */
import path from 'node:path';
import { chromium } from 'playwright-core';
import { clients, clientTest } from './helpers/clients.js';
import { pollUntil } from './helpers/poll.js';
import { writeContent } from './daemon-helpers.js';
import { sizedTorrent, startApiDaemon } from './torrent-control-fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

clientTest([clients.chromium], 'the dashboard shows a torrent\'s limits and changes them, and rechecks it', async (t) => {
  t.timeout(120_000);
  const tt = sizedTorrent(40, 200_000);
  const node = await startApiDaemon(t, '127.0.0.1');
  await writeContent(node.downloadsDir, tt);
  t.is((await node.call('POST', '/api/torrents', tt.bytes)).status, 201);
  const hex = tt.meta.infoHashHex;
  await pollUntil(() => node.daemon.session.torrent(hex)?.state === 'seeding', 'the torrent to seed');
  t.is((await node.call('PATCH', `/api/torrents/${hex}`, { uploadLimit: 100 * 1024 })).status, 200);

  const context = await chromium.launchPersistentContext(path.join(node.root, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1000 }, timeout: 60_000 });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`http://127.0.0.1:${node.apiPort}/`, { timeout: 30_000 });

  const row = page.locator(`#torrents tbody tr[data-infohash="${hex}"]`);
  await row.waitFor({ timeout: 30_000 });
  await page.waitForFunction((h) => /↑ 100\.0 KiB\/s/.test((globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.limits`)?.textContent ?? ''), hex, { timeout: 30_000 });
  t.regex((await row.locator('td.limits').textContent()) ?? '', /↓ ∞/, 'no download limit shown as ∞');

  // The control form of the selected torrent is filled from it.
  await page.locator('#control-form').waitFor({ state: 'visible', timeout: 30_000 });
  t.is(await page.locator('#control-title').textContent(), tt.name);
  t.is(await page.inputValue('#ctl-up'), '100');
  await page.fill('#ctl-down', '300');
  await page.fill('#ctl-up', '');
  await page.fill('#ctl-ratio', '2.5');
  await page.fill('#ctl-time', '3600');
  await page.click('#ctl-apply');
  await page.waitForFunction(() => ((globalThis as any).swarmDashboard?.applied ?? 0) >= 1, undefined, { timeout: 30_000 });
  const detail = (await node.call('GET', `/api/torrents/${hex}`)).json();
  t.is(detail.downloadLimit, 300 * 1024);
  t.is(detail.uploadLimit, 0, 'an emptied field lifts the limit');
  t.is(detail.seedRatioLimit, 2.5);
  t.is(detail.seedTimeLimitS, 3600);
  const t0 = node.daemon.session.torrent(hex)!;
  t.is(t0.rateLimits.downloadBytesPerS, 300 * 1024, 'the torrent itself has the new limit');
  await page.waitForFunction((h) => /↓ 300\.0 KiB\/s/.test((globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.limits`)?.textContent ?? ''), hex, { timeout: 30_000 });
  t.regex((await row.locator('td.limits').textContent()) ?? '', /ratio 2\.5/);

  // Recheck from the page: every piece read again, all good.
  await page.click('#ctl-recheck');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard?.rechecked !== undefined, undefined, { timeout: 30_000 });
  t.is(await page.evaluate(() => (globalThis as any).swarmDashboard.rechecked), `${tt.meta.info.pieceCount}/${tt.meta.info.pieceCount}`);
  t.regex((await page.locator('#status').textContent()) ?? '', /rechecked: \d+\/\d+ pieces/, 'the answer stays on the page');
  t.not(node.daemon.session.torrent(hex), t0, 'the torrent was opened again');
  t.is(node.daemon.session.torrent(hex)!.rateLimits.downloadBytesPerS, 300 * 1024, 'its limits survive the recheck');
  t.deepEqual(problems, [], 'no script errors');
});

clientTest([clients.chromium], 'the dashboard lists a torrent\'s files with a link each, changes a file\'s priority and turns sequential on', async (t) => {
  t.timeout(120_000);
  const tt = sizedTorrent(41, 300_000);
  const node = await startApiDaemon(t, '127.0.0.1');
  await writeContent(node.downloadsDir, tt);
  t.is((await node.call('POST', '/api/torrents', tt.bytes)).status, 201);
  const hex = tt.meta.infoHashHex;
  await pollUntil(() => node.daemon.session.torrent(hex)?.state === 'seeding', 'the torrent to seed');

  const context = await chromium.launchPersistentContext(path.join(node.root, 'chromium-profile-files'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1200 }, timeout: 60_000 });
  t.teardown(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  await page.goto(`http://127.0.0.1:${node.apiPort}/`, { timeout: 30_000 });

  const fileRow = page.locator('#files tbody tr[data-index="0"]');
  await fileRow.waitFor({ timeout: 30_000 });
  t.is(await fileRow.locator('a').textContent(), tt.name);
  t.is(await fileRow.locator('a').getAttribute('href'), `/download/${hex}`);
  await page.waitForFunction(() => (globalThis as any).document.querySelector('#files td.file-done')?.textContent === '100.0%', undefined, { timeout: 30_000 });

  await page.selectOption('#files tbody tr[data-index="0"] select', '2');
  await page.waitForFunction(() => ((globalThis as any).swarmDashboard?.filesChanged ?? 0) >= 1, undefined, { timeout: 30_000 });
  t.deepEqual(node.daemon.session.torrent(hex)!.filePriorities, [2]);

  await page.check('#ctl-sequential');
  await page.waitForFunction(() => ((globalThis as any).swarmDashboard?.sequentialChanged ?? 0) >= 1, undefined, { timeout: 30_000 });
  t.true(node.daemon.session.torrent(hex)!.sequential);
  t.deepEqual(problems, [], 'no script errors');
});
