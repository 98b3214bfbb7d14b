/**
 * The dashboard page (GET /). Self-contained: its script, styles and
 * chart.js come from this server (/assets/...), no inline code, so the
 * Content-Security-Policy can forbid everything else. Kept as a string in a
 * TS module so that `tsc` ships it to dist/ with the rest.
 *
 * Panels: torrents (sort, filter, add by .torrent / magnet / drop, per-torrent
 * controls), then the selected torrent's details (with a pieces map), files,
 * trackers and peers; then the session's limits, traffic, swarm, DHT,
 * key-value store, catalogue and messages. Each panel is a <section> with an
 * id, so that tests and users can find it.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swarm-peer dashboard</title>
<link rel="stylesheet" href="/assets/style.css">
<script src="/assets/chart.js" defer></script>
<script src="/assets/app.js" defer></script>
</head>
<body>
<header>
  <h1>swarm-peer</h1>
  <div id="summary" class="summary">connecting…</div>
  <div id="status" class="status" role="status"></div>
</header>
<div id="drop-zone" class="drop-zone" hidden>Drop a .torrent file (or a magnet link) to add it</div>
<main>
  <section class="panel wide" id="torrents-panel">
    <h2>Torrents</h2>
    <div class="row toolbar">
      <label>Filter <input type="search" id="filter-text" size="24" placeholder="name or info-hash"></label>
      <label>Show <select id="filter-state">
        <option value="all">all</option>
        <option value="downloading">downloading</option>
        <option value="seeding">seeding</option>
        <option value="paused">paused</option>
        <option value="queued">queued</option>
        <option value="finished">finished</option>
        <option value="errored">errored</option>
      </select></label>
      <span id="filter-count" class="muted"></span>
    </div>
    <table id="torrents">
      <thead><tr>
        <th data-sort="name" class="sortable" aria-sort="none">Name</th>
        <th data-sort="progress" class="sortable" aria-sort="none">Progress</th>
        <th data-sort="state" class="sortable" aria-sort="none">State</th>
        <th data-sort="peers" class="sortable" aria-sort="none">Peers</th>
        <th data-sort="downloadRate" class="sortable" aria-sort="none">Down</th>
        <th data-sort="uploadRate" class="sortable" aria-sort="none">Up</th>
        <th data-sort="eta" class="sortable" aria-sort="none">ETA</th>
        <th data-sort="ratio" class="sortable" aria-sort="none">Ratio</th>
        <th data-sort="length" class="sortable" aria-sort="none">Size</th>
        <th>Limits</th><th></th>
      </tr></thead>
      <tbody></tbody>
    </table>
    <form id="control-form" class="row control" hidden>
      <strong id="control-title"></strong>
      <label>Down limit (KiB/s) <input type="number" id="ctl-down" min="0" step="1" size="7" placeholder="none"></label>
      <label>Up limit (KiB/s) <input type="number" id="ctl-up" min="0" step="1" size="7" placeholder="none"></label>
      <label>Seed ratio <input type="number" id="ctl-ratio" min="0" step="0.1" size="5" placeholder="default"></label>
      <label>Seed time (s) <input type="number" id="ctl-time" min="0" step="1" size="7" placeholder="default"></label>
      <button type="submit" id="ctl-apply">Apply</button>
      <button type="button" id="ctl-recheck">Recheck</button>
      <label>Move to <input type="text" id="ctl-move-to" size="28" placeholder="/absolute/folder"></label>
      <button type="button" id="ctl-move">Move</button>
      <label title="pieces in order, to play a file while it downloads"><input type="checkbox" id="ctl-sequential"> Sequential</label>
    </form>
    <p id="no-torrents" class="muted">No torrents yet: drop a .torrent onto this page, choose one below, or add a magnet link.</p>
    <div id="add-panel">
      <form id="add-torrent-form" class="row">
        <label>Add a .torrent file <input type="file" id="add-torrent-file" accept=".torrent,application/x-bittorrent"></label>
        <button type="submit">Add</button>
      </form>
      <form id="magnet-form" class="row">
        <label>Add a magnet link <input type="text" id="magnet-text" size="60" placeholder="magnet:?xt=urn:btih:…"></label>
        <button type="submit">Add</button>
      </form>
      <form id="upload-form" class="row">
        <label>Share a file <input type="file" id="upload-file" name="file"></label>
        <button type="submit">Upload and seed</button>
        <span id="upload-result" class="muted"></span>
      </form>
      <p class="muted hint">Or drop a .torrent file anywhere on the page.</p>
    </div>
  </section>
  <section class="panel wide" id="details-panel">
    <h2>Details <span id="details-title" class="muted"></span></h2>
    <p id="details-none" class="muted">Select a torrent above: its details, files, trackers and peers show here.</p>
    <dl id="details" class="details"></dl>
    <div class="pieces-box" id="pieces-box">
      <canvas id="pieces-map" width="1000" height="36" aria-label="pieces: have (blue) and missing (grey)"></canvas>
      <div id="pieces-legend" class="muted"></div>
    </div>
  </section>
  <section class="panel wide" id="files-panel">
    <h2>Files <span id="files-title" class="muted"></span></h2>
    <table id="files">
      <thead><tr><th>File</th><th>Size</th><th>Done</th><th>Priority</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="panel wide" id="trackers-panel">
    <h2>Trackers <span id="trackers-title" class="muted"></span></h2>
    <table id="trackers">
      <thead><tr><th>Tier</th><th>URL</th><th>Status</th><th>Seeders</th><th>Leechers</th><th>Peers</th><th>Last announce</th><th>Next announce</th><th>Message</th></tr></thead>
      <tbody></tbody>
    </table>
    <p id="sources" class="muted"></p>
  </section>
  <section class="panel wide" id="peers-panel">
    <h2>Peers <span id="peers-title" class="muted"></span></h2>
    <table id="peers">
      <thead><tr><th>Address</th><th>Client</th><th>Dir</th><th>Has</th><th>Down</th><th>Up</th><th>Downloaded</th><th>Uploaded</th><th>Flags</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="panel" id="limits-panel">
    <h2>Global limits</h2>
    <p class="muted">Shared by every torrent; a torrent's own limits (above) apply as well.</p>
    <form id="global-limits-form" class="row">
      <label>Down (KiB/s) <input type="number" id="gl-down" min="0" step="1" size="7" placeholder="none"></label>
      <label>Up (KiB/s) <input type="number" id="gl-up" min="0" step="1" size="7" placeholder="none"></label>
      <button type="submit" id="gl-apply">Apply</button>
    </form>
    <p id="global-limits" class="limits-now"></p>
  </section>
  <section class="panel" id="traffic-panel">
    <h2>Traffic</h2>
    <div class="chart-box"><canvas id="traffic-chart" aria-label="upload and download rate over time"></canvas></div>
  </section>
  <section class="panel" id="swarm-panel">
    <h2>Swarm <span id="swarm-title" class="muted"></span></h2>
    <svg id="swarm-graph" viewBox="0 0 400 300" role="img" aria-label="this node and its peers"></svg>
  </section>
  <section class="panel" id="dht-panel">
    <h2>DHT</h2>
    <table id="dht" class="vertical"></table>
    <p id="dht-off" class="muted" hidden>This daemon runs no DHT node (--no-dht).</p>
  </section>
  <section class="panel" id="kv-panel">
    <h2>Key-value store <span class="muted">(BEP 44, on the DHT)</span></h2>
    <form id="kv-form" class="kv-form">
      <label>Key <input type="text" id="kv-key" size="20" maxlength="64"></label>
      <label>Namespace <input type="text" id="kv-namespace" size="14" placeholder="(your identity)"></label>
      <label class="kv-value">Value <textarea id="kv-value" rows="3" cols="40" placeholder="text, up to 64 KiB"></textarea></label>
      <div class="row">
        <button type="button" id="kv-get">Get</button>
        <button type="button" id="kv-put">Put</button>
        <button type="button" id="kv-del">Delete</button>
        <button type="button" id="kv-list" title="the keys put under this namespace (or your identity)">List keys</button>
      </div>
    </form>
    <pre id="kv-result" class="kv-result"></pre>
    <ul id="kv-keys"></ul>
  </section>
  <section class="panel" id="catalogue-panel">
    <h2>Catalogue <span class="muted">(files shared by name)</span></h2>
    <form id="catalogue-form" class="row">
      <label>Namespace <input type="text" id="catalogue-namespace" size="14" value="files"></label>
      <button type="submit" id="catalogue-refresh">List</button>
      <span id="catalogue-status" class="muted"></span>
    </form>
    <table id="catalogue">
      <thead><tr><th>Name</th><th>Size</th><th></th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="panel wide" id="messages-panel">
    <h2>Messages</h2>
    <ul id="messages"></ul>
    <form id="message-form" class="row">
      <label>To <input type="text" id="message-to" value="all" size="22"></label>
      <label>Text <input type="text" id="message-text" maxlength="1024" size="50"></label>
      <button type="submit">Send</button>
    </form>
  </section>
</main>
</body>
</html>
`;
