/**
 * Every panel of the dashboard in a real browser (issue 16, item 6):
 * headless Chromium (/usr/bin/chromium) driven by playwright-core, against
 * the BUILT commands: a daemon `peer start` (A, with the embedded tracker,
 * a DHT node bootstrapped from B) and a seeder `peer seed --api` (B, upload
 * limited so that A's download is seen under way).
 *
 * One rig, one test, the panels checked in turn: adding by .torrent file,
 * magnet and drag and drop; the trackers (one working, one refused); the
 * peers; a message B sends; the details (ratio, ETA, pieces map);
 * sorting and filtering the table; global limits; the DHT; the key-value
 * store (put then get); the catalogue. A screenshot of each panel goes to
 * test-artifacts/dashboard-<panel>.png.
 */
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Page } from 'playwright-core';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { clients, clientTest } from './helpers/clients.js';
import { pollUntil } from './helpers/poll.js';
import { fixtureBytes, freePort, REPO_ROOT, spawnPeer, tempDir, writeFixture } from './helpers/swarm.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const A = '127.0.0.1';
const B = '127.0.0.2';
const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');

interface Made {
  name: string;
  bytes: Buffer;
  hex: string;
  content: string;
  length: number;
  pieces: number;
}

async function made(dir: string, name: string, length: number, seed: number, announce: string[] = []): Promise<Made> {
  const content = path.join(dir, 'content', name);
  await writeFixture(content, fixtureBytes(length, seed));
  const { torrent } = await makeTorrent(content, { pieceLength: 65536, threads: 1, ...(announce.length ? { announce } : {}) });
  const meta = parseTorrent(torrent);
  return { name, bytes: Buffer.from(torrent), hex: meta.infoHashHex, content, length, pieces: meta.info.pieceCount };
}

async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** What the page's script recorded (window.swarmDashboard). */
function dash<T>(page: Page, key: string): Promise<T> {
  return page.evaluate((k) => (globalThis as any).swarmDashboard[k], key);
}

async function shot(page: Page, panel: string): Promise<void> {
  await page.locator(`#${panel}-panel`).screenshot({ path: path.join(ARTIFACTS, `dashboard-${panel}.png`) });
}

clientTest([clients.chromium], 'every dashboard panel works against the built daemon: add (file, magnet, drop), trackers, peers, messages, details, sort, filter, limits, DHT, KV, catalogue', async (t) => {
  t.timeout(110_000);
  const dir = await tempDir(t, 'dashboard-panels-');
  await mkdir(ARTIFACTS, { recursive: true });
  const [portA, apiA, trackerA] = [await freePort([A]), await freePort([A]), await freePort([A])];
  const [portB, apiB] = [await freePort([B]), await freePort([A])];
  const trackerUrl = `http://${A}:${trackerA}/announce`;
  // Nothing listens on port 1: the first tier fails at once, the second answers.
  const deadTracker = `http://${A}:1/announce`;

  const alpha = await made(dir, 'alpha-seeded.bin', 300_000, 1);
  const beta = await made(dir, 'beta-download.bin', 3 * 1024 * 1024 + 5, 2, [deadTracker, trackerUrl]);
  const gamma = await made(dir, 'gamma-dropped.bin', 100_000, 3);
  const delta = await made(dir, 'delta-magnet.bin', 50_000, 4);
  const epsilonHex = 'e'.repeat(40);

  // A: the daemon, alpha in its watch folder with its content in place, gamma's content too (dropped later).
  const torrentsA = path.join(dir, 'a', 'torrents');
  const downloadsA = path.join(dir, 'a', 'downloads');
  await mkdir(torrentsA, { recursive: true });
  await mkdir(downloadsA, { recursive: true });
  await writeFile(path.join(torrentsA, 'alpha.torrent'), alpha.bytes);
  await copyFile(alpha.content, path.join(downloadsA, alpha.name));
  await copyFile(gamma.content, path.join(downloadsA, gamma.name));

  // B: seeds beta, upload-limited, with its API (to send A a message) and its DHT node (A's bootstrap).
  const betaTorrent = path.join(dir, 'beta.torrent');
  await writeFile(betaTorrent, beta.bytes);
  const seeder = spawnPeer(t, ['seed', betaTorrent, '--data', beta.content, '--host', B, '--port', String(portB), '--state', path.join(dir, 'b-state'), '--api', String(apiB), '--no-lsd', '--upload-limit', '192K', '--json']);
  const apiBUrl = `http://127.0.0.1:${apiB}`;
  await pollUntil(async () => (await json(`${apiBUrl}/api/session`).catch(() => ({ status: 0 }))).status === 200, 'the seeder\'s API', 30_000, 200);

  const daemon = spawnPeer(t, ['start', '--torrents', torrentsA, '--downloads', downloadsA, '--uploads', path.join(dir, 'a', 'uploads'), '--state', path.join(dir, 'a', 'state'),
    '--host', A, '--port', String(portA), '--api', String(apiA), '--tracker', String(trackerA), '--no-lsd', '--bootstrap', `${B}:${portB}`]);
  await daemon.waitForStderr(/dashboard: http:\/\/\S+/, 60_000);
  const base = `http://127.0.0.1:${apiA}`;

  const context = await chromium.launchPersistentContext(path.join(dir, 'chromium-profile'), { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 1100 }, timeout: 60_000 });
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
  await page.goto(`${base}/`, { timeout: 30_000 });
  const row = (hex: string) => page.locator(`#torrents tbody tr[data-infohash="${hex}"]`);
  await page.waitForFunction((h) => (globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.state`)?.textContent === 'seeding', alpha.hex, { timeout: 30_000 });

  // --- add by .torrent file (the file picker) ---------------------------------------
  const betaFile = path.join(dir, 'pick', 'beta.torrent');
  await mkdir(path.dirname(betaFile));
  await writeFile(betaFile, beta.bytes);
  await page.setInputFiles('#add-torrent-file', betaFile);
  await page.click('#add-torrent-form button[type="submit"]');
  await row(beta.hex).waitFor({ timeout: 30_000 });
  t.is(await dash<number>(page, 'added'), 1);
  // The added torrent is selected: its panels follow it.
  await page.waitForFunction((h) => (globalThis as any).document.querySelector(`tr.selected`)?.getAttribute('data-infohash') === h, beta.hex, { timeout: 10_000 });

  // --- trackers: the refused one and the embedded one that answered --------------------
  const working = page.locator(`#trackers tbody tr[data-url="${trackerUrl}"]`);
  await page.waitForFunction((u) => (globalThis as any).document.querySelector(`#trackers tr[data-url="${u}"] td.tracker-status`)?.textContent === 'working', trackerUrl, { timeout: 30_000 });
  t.regex((await working.locator('td').nth(6).textContent()) ?? '', /ago|just now/, 'last announce shown');
  await page.waitForFunction((u) => (globalThis as any).document.querySelector(`#trackers tr[data-url="${u}"] td.tracker-status`)?.textContent === 'error', deadTracker, { timeout: 30_000 });
  t.regex((await page.locator(`#trackers tbody tr[data-url="${deadTracker}"] td`).nth(8).textContent()) ?? '', /\S/, 'the refused tracker\'s error is shown');
  await shot(page, 'trackers');

  // --- peers, and a message from B ------------------------------------------------------
  await page.locator(`#peers tbody tr[data-address^="${B}:"]`).waitFor({ timeout: 30_000 });
  await page.waitForFunction((b) => /^[1-9]/.test((globalThis as any).document.querySelector(`#peers tr[data-address^="${b}:"] td.peer-downloaded`)?.textContent ?? ''), B, { timeout: 30_000 });
  await shot(page, 'peers');
  await page.locator(`#swarm-graph circle.peer[data-address^="${B}:"]`).waitFor({ timeout: 30_000 });
  await shot(page, 'swarm');
  await shot(page, 'traffic');
  const note = `hello from the seeder <b>${Date.now()}</b>`;
  await pollUntil(async () => {
    const r = await json(`${apiBUrl}/api/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ to: 'all', text: note }) });
    return r.status === 200 && r.body.sent > 0;
  }, 'B to reach A with a message', 30_000, 500);
  await page.waitForFunction((text) => [...(globalThis as any).document.querySelectorAll('#messages li')].some((li: any) => li.textContent.endsWith(text)), note, { timeout: 30_000 });
  t.is(await page.locator('#messages li b').count(), 0, 'a message is text, never HTML');
  await shot(page, 'messages');

  // --- details while downloading: ETA, ratio, the pieces map ---------------------------
  await page.waitForFunction(() => /^\d+ (s|min|h)/.test((globalThis as any).document.querySelector('#details dd[data-field="eta"]')?.textContent ?? ''), undefined, { timeout: 30_000 })
    .catch(() => t.log('the download ended before an ETA was seen'));
  t.regex((await page.textContent('#details dd[data-field="ratio"]')) ?? '', /^(\d+\.\d\d|—)$/);
  t.is(await page.textContent('#details dd[data-field="infoHash"]'), beta.hex);
  t.regex(await page.inputValue('#details-magnet'), new RegExp(`^magnet:\\?xt=urn:btih:${beta.hex}`));
  t.is(await page.textContent('#details dd[data-field="savePath"]'), path.join(downloadsA, beta.name));
  await page.waitForFunction((h) => (globalThis as any).swarmDashboard.pieces?.infoHash === h && (globalThis as any).swarmDashboard.pieces.drawn > 0, beta.hex, { timeout: 30_000 });
  await shot(page, 'details');

  // Complete: ETA "—", a ratio, and every column of the pieces map blue.
  await page.waitForFunction((h) => (globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.state`)?.textContent === 'seeding', beta.hex, { timeout: 60_000 });
  await page.waitForFunction((n) => (globalThis as any).swarmDashboard.pieces?.drawn === n, beta.pieces, { timeout: 10_000 });
  t.is(await page.textContent('#details dd[data-field="eta"]'), '—');
  t.regex((await page.textContent('#details dd[data-field="ratio"]')) ?? '', /^\d+\.\d\d$/);
  const pixels = await page.evaluate(() => {
    const c = (globalThis as any).document.getElementById('pieces-map');
    const d = c.getContext('2d').getImageData(0, c.height >> 1, c.width, 1).data as Uint8ClampedArray;
    let blue = 0;
    let grey = 0;
    for (let x = 0; x < c.width; x++) {
      const [r, g, b] = [d[4 * x]!, d[4 * x + 1]!, d[4 * x + 2]!];
      if (b > 200 && r < 80) blue++;
      else if (r > 200 && g > 200 && b > 200) grey++;
    }
    return { blue, grey, width: c.width };
  });
  t.true(pixels.blue > pixels.width * 0.9, `the pieces map is drawn, all had: ${JSON.stringify(pixels)}`);

  // --- add by magnet and by drag and drop ----------------------------------------------
  await page.fill('#magnet-text', `magnet:?xt=urn:btih:${delta.hex}&dn=${delta.name}`);
  await page.click('#magnet-form button[type="submit"]');
  await page.locator(`#torrents tbody tr.fetching[data-infohash="${delta.hex}"]`).waitFor({ timeout: 30_000 });
  await page.evaluate(
    ({ bytes, name }) => {
      const g = globalThis as any;
      const dt = new g.DataTransfer();
      dt.items.add(new g.File([new Uint8Array(bytes)], name, { type: 'application/x-bittorrent' }));
      g.document.body.dispatchEvent(new g.DragEvent('dragenter', { dataTransfer: dt, bubbles: true, cancelable: true }));
      g.document.body.dispatchEvent(new g.DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
    },
    { bytes: [...gamma.bytes], name: 'gamma.torrent' },
  );
  await row(gamma.hex).waitFor({ timeout: 30_000 });
  t.is(await dash<number>(page, 'added'), 3, 'file, magnet and drop each added one');
  t.true(await page.locator('#drop-zone').isHidden(), 'the drop hint is gone after the drop');
  await page.waitForFunction((h) => (globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.state`)?.textContent === 'seeding', gamma.hex, { timeout: 30_000 });

  // --- sort: by name both ways, then by size ---------------------------------------------
  const names = async () => page.locator('#torrents tbody tr.torrent td.name').allTextContents();
  await page.click('#torrents th[data-sort="name"]');
  t.deepEqual(await names(), [alpha.name, beta.name, gamma.name]);
  t.is(await page.getAttribute('#torrents th[data-sort="name"]', 'aria-sort'), 'ascending');
  await page.click('#torrents th[data-sort="name"]');
  t.deepEqual(await names(), [gamma.name, beta.name, alpha.name], 'a second click sorts descending');
  await page.click('#torrents th[data-sort="length"]');
  t.deepEqual(await dash<string[]>(page, 'order'), [gamma.hex, alpha.hex, beta.hex], 'by size, smallest first');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard.updates > 0);
  t.deepEqual(await names(), [gamma.name, alpha.name, beta.name], 'the order holds across refreshes');

  // --- filter: by text, by state -----------------------------------------------------------
  await page.fill('#filter-text', 'ALPHA');
  t.deepEqual(await names(), [alpha.name]);
  t.regex((await page.textContent('#filter-count')) ?? '', /^1 of 3 shown$/);
  await page.fill('#filter-text', '');
  await row(gamma.hex).locator('button[data-action="pause"]').click();
  await page.waitForFunction((h) => (globalThis as any).document.querySelector(`tr[data-infohash="${h}"] td.state`)?.textContent === 'paused', gamma.hex, { timeout: 10_000 });
  await page.selectOption('#filter-state', 'paused');
  t.deepEqual(await names(), [gamma.name]);
  await page.selectOption('#filter-state', 'downloading');
  t.deepEqual(await names(), []);
  t.is(await page.locator(`#torrents tbody tr.fetching[data-infohash="${delta.hex}"]`).count(), 1, 'a magnet fetching its metadata counts as downloading');
  await page.selectOption('#filter-state', 'seeding');
  t.deepEqual((await names()).sort(), [alpha.name, beta.name]);
  t.is(await page.locator('#torrents tbody tr.fetching').count(), 0, 'the fetching magnet is hidden too');
  await shot(page, 'torrents');
  // The sort and the state filter survive a reload (kept in this browser).
  await page.reload({ timeout: 30_000 });
  await row(alpha.hex).waitFor({ timeout: 30_000 });
  t.is(await page.inputValue('#filter-state'), 'seeding');
  t.is(await page.getAttribute('#torrents th[data-sort="length"]', 'aria-sort'), 'ascending');
  t.deepEqual(await names(), [alpha.name, beta.name], 'seeding only, by size');
  await page.selectOption('#filter-state', 'all');

  // --- global limits ------------------------------------------------------------------------
  await page.fill('#gl-down', '500');
  await page.fill('#gl-up', '');
  await page.click('#gl-apply');
  await page.waitForFunction(() => ((globalThis as any).swarmDashboard.globalApplied ?? 0) >= 1, undefined, { timeout: 10_000 });
  t.deepEqual((await json(`${base}/api/limits`)).body, { uploadBytesPerS: 0, downloadBytesPerS: 500 * 1024 });
  t.regex((await page.textContent('#global-limits')) ?? '', /↓ 500\.0 KiB\/s · ↑ unlimited/);
  await shot(page, 'limits');

  // --- DHT: A's node knows B's -----------------------------------------------------------------
  await page.waitForFunction(() => {
    const cell = (globalThis as any).document.querySelector('#dht td[data-family="IPv4"][data-field="nodes"]')?.textContent ?? '';
    return Number(cell.split('/')[1]) >= 1;
  }, undefined, { timeout: 30_000 });
  const dht = (await json(`${base}/api/dht`)).body;
  t.is(await page.textContent('#dht td[data-family="IPv4"][data-field="nodeId"]'), dht.nodeId);
  t.regex((await page.textContent('#dht td[data-family="IPv4"][data-field="queries"]')) ?? '', /^\d+ \/ [1-9]\d*$/, 'queries in / out');
  t.regex((await page.textContent('#dht td[data-family="IPv4"][data-field="items"]')) ?? '', /^\d+$/);
  await shot(page, 'dht');

  // --- the key-value store: put, then get back -----------------------------------------------
  await page.fill('#kv-key', 'greeting');
  await page.fill('#kv-namespace', 'dashboard-test');
  await page.fill('#kv-value', 'hello, swarm');
  await page.click('#kv-put');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard.kv?.op === 'put' && /^(stored|[^s])/.test((globalThis as any).swarmDashboard.kv.text) && !/…$/.test((globalThis as any).swarmDashboard.kv.text), undefined, { timeout: 45_000 });
  const put = await dash<{ ok: boolean; text: string }>(page, 'kv');
  t.true(put.ok, put.text);
  t.regex(put.text, /^stored greeting = hello, swarm/);
  await page.fill('#kv-value', '');
  await page.click('#kv-get');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard.kv?.op === 'get' && !/…$/.test((globalThis as any).swarmDashboard.kv.text), undefined, { timeout: 45_000 });
  const got = await dash<{ ok: boolean; text: string }>(page, 'kv');
  t.true(got.ok, got.text);
  t.is(await page.inputValue('#kv-value'), 'hello, swarm');
  t.regex((await page.textContent('#kv-result')) ?? '', /^greeting = hello, swarm/);
  await shot(page, 'kv');
  // Listed, then deleted: a get after says so (the one 404 this page is expected to meet).
  await page.click('#kv-list');
  await page.locator('#kv-keys li button', { hasText: 'greeting' }).waitFor({ timeout: 45_000 });
  page.once('dialog', (d) => void d.accept());
  await page.click('#kv-del');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard.kv?.op === 'del' && !/…$/.test((globalThis as any).swarmDashboard.kv.text), undefined, { timeout: 45_000 });
  t.true((await dash<{ ok: boolean; text: string }>(page, 'kv')).ok, (await page.textContent('#kv-result')) ?? '');
  await page.click('#kv-get');
  await page.waitForFunction(() => (globalThis as any).swarmDashboard.kv?.op === 'get' && !/…$/.test((globalThis as any).swarmDashboard.kv.text), undefined, { timeout: 45_000 });
  t.is(await page.locator('#kv-keys li').count(), 0, 'the deleted key left the list');
  t.false((await dash<{ ok: boolean }>(page, 'kv')).ok);
  t.regex((await page.textContent('#kv-result')) ?? '', /"greeting" was deleted/);
  const expected404 = problems.findIndex((p) => /^HTTP 404 for .*\/api\/kv\/greeting\?namespace=dashboard-test$/.test(p));
  t.not(expected404, -1, problems.join('\n'));
  problems.splice(expected404, 1);
  // Chromium logs every failed load on the console too.
  const logged = problems.indexOf('console: Failed to load resource: the server responded with a status of 404 (Not Found)');
  if (logged >= 0) problems.splice(logged, 1);

  // --- the catalogue (when this build serves it): an entry put under a name, listed, fetched --------
  if ((await json(`${base}/api/catalogue?namespace=dashboard-empty`).catch(() => ({ status: 0 }))).status !== 404) {
    const entry = { magnet: `magnet:?xt=urn:btih:${epsilonHex}&dn=epsilon.bin`, length: 123_456, files: 1, added: 0 };
    const put = await json(`${base}/api/kv/epsilon.bin?namespace=dashboard-catalogue`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: JSON.stringify(entry) }) });
    t.is(put.status, 200, JSON.stringify(put.body));
    await page.fill('#catalogue-namespace', 'dashboard-catalogue');
    await page.click('#catalogue-refresh');
    await page.waitForFunction(() => (globalThis as any).swarmDashboard.catalogue !== undefined, undefined, { timeout: 70_000 });
    t.is(await dash<number>(page, 'catalogue'), 1, (await page.textContent('#catalogue-status')) ?? '');
    const entryRow = page.locator('#catalogue tbody tr[data-name="epsilon.bin"]');
    t.is(await entryRow.locator('td').nth(1).textContent(), '120.6 KiB');
    await entryRow.locator('button').click();
    await page.locator(`#torrents tbody tr.fetching[data-infohash="${epsilonHex}"]`).waitFor({ timeout: 30_000 });
  } else t.log('no /api/catalogue in this build: the catalogue panel was not exercised');
  await shot(page, 'catalogue');
  await shot(page, 'files');
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-all.png'), fullPage: true });

  t.deepEqual(problems, [], 'no script errors, CSP violations or failed requests');
  t.is(await dash<string | null>(page, 'lastError'), null);
  daemon.kill('SIGINT');
  seeder.kill('SIGINT');
  t.is((await daemon.waitExit(30_000)).code, 0, daemon.describe());
  await seeder.waitExit(30_000);
});
