/**
 * The dashboard page (GET /). Self-contained: its script, styles and
 * chart.js come from this server (/assets/...), no inline code, so the
 * Content-Security-Policy can forbid everything else. Kept as a string in a
 * TS module so that `tsc` ships it to dist/ with the rest.
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
<main>
  <section class="panel wide">
    <h2>Torrents</h2>
    <table id="torrents">
      <thead><tr><th>Name</th><th>Progress</th><th>State</th><th>Peers</th><th>Down</th><th>Up</th><th>Size</th><th>Limits</th><th></th></tr></thead>
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
    <p id="no-torrents" class="muted">No torrents yet: drop a .torrent into the watch folder or upload a file below.</p>
    <form id="upload-form" class="row">
      <label>Share a file <input type="file" id="upload-file" name="file"></label>
      <button type="submit">Upload and seed</button>
      <span id="upload-result" class="muted"></span>
    </form>
    <form id="magnet-form" class="row">
      <label>Add a magnet link <input type="text" id="magnet-text" size="60" placeholder="magnet:?xt=urn:btih:…"></label>
      <button type="submit">Add</button>
    </form>
  </section>
  <section class="panel wide">
    <h2>Files <span id="files-title" class="muted"></span></h2>
    <table id="files">
      <thead><tr><th>File</th><th>Size</th><th>Done</th><th>Priority</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="panel">
    <h2>Traffic</h2>
    <div class="chart-box"><canvas id="traffic-chart" aria-label="upload and download rate over time"></canvas></div>
  </section>
  <section class="panel">
    <h2>Swarm <span id="swarm-title" class="muted"></span></h2>
    <svg id="swarm-graph" viewBox="0 0 400 300" role="img" aria-label="this node and its peers"></svg>
  </section>
  <section class="panel wide">
    <h2>Peers <span id="peers-title" class="muted"></span></h2>
    <table id="peers">
      <thead><tr><th>Address</th><th>Client</th><th>Dir</th><th>Has</th><th>Down</th><th>Up</th><th>Flags</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
  <section class="panel wide">
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
