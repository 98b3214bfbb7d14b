/**
 * The dashboard's script (served at /assets/app.js): polls the JSON API
 * once a second and redraws. Plain browser JavaScript in a string (tsc
 * only ships .ts); every value from the daemon goes into the page with
 * textContent or attributes, never as HTML, since torrent names, tracker
 * messages, peer client strings, DHT values and peer messages come from
 * strangers. Inputs are never overwritten while the user is in them: the
 * selected torrent's controls are filled when the selection changes, the
 * global limits when the page loads and after Apply.
 *
 * `window.swarmDashboard` exposes what the page did (refreshes, the last
 * error, the chart, what was drawn and added) for the browser tests.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token');
  var selected = null;
  var HISTORY = 120;
  var chart = null;
  var lastTorrents = [];
  var sort = { key: null, dir: 1 };
  var state = { updates: 0, lastError: null, added: 0, order: [], pieces: null, kv: null, dht: null, trackers: 0 };
  var controlFor = null;
  var limitsFilled = false;
  window.swarmDashboard = state;

  function api(path, opts) {
    opts = opts || {};
    var headers = opts.headers || {};
    if (token) headers['Authorization'] = 'Bearer ' + token;
    opts.headers = headers;
    return fetch(path, opts).then(function (res) {
      return res.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: text }; }
        if (!res.ok) { var err = new Error((body && body.error) || ('HTTP ' + res.status)); err.status = res.status; throw err; }
        return body;
      });
    });
  }
  function jsonBody(method, value) {
    return { method: method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(value) };
  }
  function $(id) { return document.getElementById(id); }

  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) {
      if (k === 'text') e.textContent = attrs[k];
      else if (k === 'className') e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { e.appendChild(c); });
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS('http://www.w3.org/2000/svg', tag);
    Object.keys(attrs || {}).forEach(function (k) { if (k === 'text') e.textContent = attrs[k]; else e.setAttribute(k, attrs[k]); });
    return e;
  }
  function bytes(n) {
    var units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    var i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
  }
  function rate(n) { return bytes(n) + '/s'; }
  function duration(s) {
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(s / 86400) + ' d ' + Math.floor((s % 86400) / 3600) + ' h';
  }
  function ago(ms) {
    if (!ms) return '';
    var s = Math.round((Date.now() - ms) / 1000);
    return s <= 0 ? 'just now' : duration(s) + ' ago';
  }
  function until(ms) {
    if (!ms) return '';
    var s = Math.round((ms - Date.now()) / 1000);
    return s <= 0 ? 'now' : 'in ' + duration(s);
  }
  // The same rules as GET /api/torrents/:ih/details (torrent-info-routes.ts).
  function etaOf(t) {
    if (t.left === 0) return 0;
    if (t.state !== 'downloading' || !(t.downloadRate > 0)) return null;
    return Math.ceil(t.left / t.downloadRate);
  }
  function ratioOf(t) {
    var held = t.wanted - t.left;
    if (t.downloaded > 0) return t.uploaded / t.downloaded;
    if (held > 0) return t.uploaded / held;
    return null;
  }
  function etaText(eta) { return eta === 0 ? '—' : eta === null ? '∞' : duration(eta); }
  function ratioText(r) { return r === null ? '—' : r.toFixed(2); }
  function limitText(t) {
    var parts = [];
    parts.push('↓ ' + (t.downloadLimit ? rate(t.downloadLimit) : '∞'));
    parts.push('↑ ' + (t.uploadLimit ? rate(t.uploadLimit) : '∞'));
    if (t.seedRatioLimit !== null && t.seedRatioLimit !== undefined) parts.push('ratio ' + (t.seedRatioLimit || '∞'));
    if (t.seedTimeLimitS !== null && t.seedTimeLimitS !== undefined) parts.push('time ' + (t.seedTimeLimitS ? t.seedTimeLimitS + ' s' : '∞'));
    return parts.join(' · ');
  }
  function kib(n) { return n ? String(Math.round(n / 1024)) : ''; }
  function fillControl(t) {
    var form = $('control-form');
    if (!t) { form.hidden = true; controlFor = null; return; }
    form.hidden = false;
    if (controlFor === t.infoHash) return;
    controlFor = t.infoHash;
    $('control-title').textContent = t.name;
    $('ctl-down').value = kib(t.downloadLimit);
    $('ctl-up').value = kib(t.uploadLimit);
    $('ctl-ratio').value = t.seedRatioLimit === null || t.seedRatioLimit === undefined ? '' : String(t.seedRatioLimit);
    $('ctl-time').value = t.seedTimeLimitS === null || t.seedTimeLimitS === undefined ? '' : String(t.seedTimeLimitS);
  }
  function setStatus(text) { $('status').textContent = text || ''; }

  function progressBar(have, total, done) {
    var pct = total > 0 ? (100 * have) / total : 0;
    var bar = el('div', { className: 'bar' });
    bar.style.width = pct.toFixed(1) + '%';
    return el('div', { className: 'progress' + (done ? ' done' : ''), role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct.toFixed(1) }, [bar, el('span', { className: 'label', text: pct.toFixed(1) + '%' })]);
  }

  // --- the torrent table: filter, sort, rows --------------------------------------------

  var SORT_VALUE = {
    name: function (t) { return t.name.toLowerCase(); },
    progress: function (t) { return t.pieces ? t.have / t.pieces : 0; },
    state: function (t) { return t.state; },
    peers: function (t) { return t.peers; },
    downloadRate: function (t) { return t.downloadRate; },
    uploadRate: function (t) { return t.uploadRate; },
    eta: function (t) { var e = etaOf(t); return e === null ? Infinity : e; },
    ratio: function (t) { var r = ratioOf(t); return r === null ? -1 : r; },
    length: function (t) { return t.length; },
  };
  function matchesFilter(t) {
    var want = $('filter-state').value;
    if (want === 'errored') { if (!t.error) return false; }
    else if (want !== 'all' && t.state !== want) return false;
    return matchesText(t.name || '', t.infoHash);
  }
  function matchesText(name, infoHash) {
    var text = $('filter-text').value.trim().toLowerCase();
    return !text || name.toLowerCase().indexOf(text) >= 0 || infoHash.indexOf(text) === 0;
  }
  // A magnet still fetching its metadata counts as downloading.
  function fetchingShown(f) {
    var want = $('filter-state').value;
    return (want === 'all' || want === 'downloading') && matchesText(f.name || '', f.infoHash);
  }
  function sorted(list) {
    if (!sort.key) return list;
    var f = SORT_VALUE[sort.key];
    return list.map(function (t, i) { return { t: t, i: i, v: f(t) }; }).sort(function (a, b) {
      if (a.v < b.v) return -sort.dir;
      if (a.v > b.v) return sort.dir;
      return a.i - b.i;
    }).map(function (x) { return x.t; });
  }
  // The sort and the state filter are kept in this browser (localStorage) across reloads.
  var PREFS = 'swarm-dashboard-view';
  function savePrefs() {
    try { localStorage.setItem(PREFS, JSON.stringify({ sortKey: sort.key, sortDir: sort.dir, state: $('filter-state').value })); } catch (e) { /* private mode: not kept */ }
  }
  function showSort() {
    Array.prototype.forEach.call(document.querySelectorAll('#torrents th.sortable'), function (h) {
      h.setAttribute('aria-sort', h.getAttribute('data-sort') === sort.key ? (sort.dir > 0 ? 'ascending' : 'descending') : 'none');
    });
  }
  function wireSort() {
    try {
      var p = JSON.parse(localStorage.getItem(PREFS) || 'null');
      if (p && SORT_VALUE[p.sortKey]) { sort.key = p.sortKey; sort.dir = p.sortDir === -1 ? -1 : 1; }
      if (p && document.querySelector('#filter-state option[value="' + String(p.state).replace(/[^a-z]/g, '') + '"]')) $('filter-state').value = p.state;
    } catch (e) { /* nothing kept */ }
    showSort();
    Array.prototype.forEach.call(document.querySelectorAll('#torrents th.sortable'), function (th) {
      function toggle() {
        var key = th.getAttribute('data-sort');
        sort.dir = sort.key === key ? -sort.dir : 1;
        sort.key = key;
        showSort();
        savePrefs();
        renderTorrents(lastTorrents, lastFetching);
      }
      th.setAttribute('tabindex', '0');
      th.setAttribute('title', 'sort by this column (again: the other way)');
      th.addEventListener('click', toggle);
      th.addEventListener('keydown', function (ev) { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); toggle(); } });
    });
    $('filter-text').addEventListener('input', function () { renderTorrents(lastTorrents, lastFetching); });
    $('filter-state').addEventListener('change', function () { savePrefs(); renderTorrents(lastTorrents, lastFetching); });
  }

  var lastFetching = [];
  function renderTorrents(list, fetching) {
    var tbody = document.querySelector('#torrents tbody');
    tbody.textContent = '';
    $('no-torrents').style.display = list.length || fetching.length ? 'none' : '';
    if (!list.some(function (t) { return t.infoHash === selected; })) selected = list.length ? list[0].infoHash : null;
    var shown = sorted(list.filter(matchesFilter));
    state.order = shown.map(function (t) { return t.infoHash; });
    $('filter-count').textContent = shown.length === list.length ? '' : shown.length + ' of ' + list.length + ' shown';
    shown.forEach(function (t) {
      var action = el('button', { text: t.state === 'paused' ? 'Resume' : 'Pause', 'data-action': t.state === 'paused' ? 'resume' : 'pause' });
      var remove = el('button', { text: 'Remove', 'data-action': 'remove' });
      var purge = el('button', { text: 'Remove + data', 'data-action': 'remove-data', title: 'remove the torrent and delete its files' });
      var row = el('tr', { className: 'torrent' + (t.infoHash === selected ? ' selected' : '') + (t.error ? ' errored' : ''), 'data-infohash': t.infoHash }, [
        el('td', { className: 'name', text: t.name, title: t.infoHash }),
        el('td', {}, [progressBar(t.have, t.pieces, t.complete)]),
        el('td', { className: 'state', text: t.state, title: t.error || '' }),
        el('td', { className: 'peers', text: String(t.peers) + (t.seeds ? ' (' + t.seeds + ' seeds)' : '') }),
        el('td', { text: rate(t.downloadRate) }),
        el('td', { text: rate(t.uploadRate) }),
        el('td', { className: 'eta', text: etaText(etaOf(t)) }),
        el('td', { className: 'ratio', text: ratioText(ratioOf(t)) }),
        el('td', { text: bytes(t.length) }),
        el('td', { className: 'limits', text: limitText(t) }),
        el('td', {}, [action, remove, purge]),
      ]);
      row.addEventListener('click', function (ev) {
        var a = ev.target && ev.target.getAttribute && ev.target.getAttribute('data-action');
        if (a === 'remove') {
          if (!confirm('Remove ' + t.name + '? Its data is kept.')) return;
          api('/api/torrents/' + t.infoHash, { method: 'DELETE' }).then(refresh, function (e) { setStatus(e.message); });
        } else if (a === 'remove-data') {
          if (!confirm('Remove ' + t.name + ' and delete its files?')) return;
          api('/api/torrents/' + t.infoHash + '?deleteData=1', { method: 'DELETE' }).then(refresh, function (e) { setStatus(e.message); });
        } else if (a) {
          api('/api/torrents/' + t.infoHash + '/' + a, { method: 'POST' }).then(refresh, function (e) { setStatus(e.message); });
        } else {
          selected = t.infoHash;
          refresh();
        }
      });
      tbody.appendChild(row);
    });
    fetching.filter(fetchingShown).forEach(function (f) {
      tbody.appendChild(el('tr', { 'data-infohash': f.infoHash, className: 'fetching' }, [
        el('td', { className: 'name', text: f.name || f.infoHash }), el('td', { text: 'fetching metadata…', colspan: '10', className: 'muted' }),
      ]));
    });
  }

  // --- the selected torrent: details and pieces map, files, trackers, peers -------------

  var DETAIL_FIELDS = [
    ['state', 'State'], ['size', 'Size'], ['done', 'Done'], ['downloaded', 'Downloaded'], ['uploaded', 'Uploaded'],
    ['ratio', 'Ratio'], ['eta', 'ETA'], ['rates', 'Rates'], ['peers', 'Peers'], ['pieces', 'Pieces'],
    ['savePath', 'Save path'], ['infoHash', 'Info-hash'], ['magnet', 'Magnet'], ['sources', 'Peer sources'], ['error', 'Error'],
  ];
  function renderDetails(d, torrent) {
    var dl = $('details');
    $('details-title').textContent = torrent ? torrent.name : '';
    $('details-none').hidden = !!d;
    dl.hidden = !d;
    $('pieces-box').hidden = !d;
    if (!dl.firstChild) DETAIL_FIELDS.forEach(function (f) {
      dl.appendChild(el('dt', { text: f[1] }));
      dl.appendChild(f[0] === 'magnet' ? el('dd', { 'data-field': f[0] }, [el('input', { type: 'text', readonly: '', id: 'details-magnet', 'aria-label': 'magnet link' })]) : el('dd', { 'data-field': f[0] }));
    });
    var v = d ? {
      state: d.state,
      size: bytes(d.length) + (d.wanted !== d.length ? ' (' + bytes(d.wanted) + ' wanted)' : ''),
      done: bytes(d.done) + ' (' + (d.wanted ? ((100 * d.done) / d.wanted).toFixed(1) : '100.0') + '%)',
      downloaded: bytes(d.downloaded), uploaded: bytes(d.uploaded),
      ratio: ratioText(d.ratio), eta: etaText(d.etaS),
      rates: '↓ ' + rate(d.downloadRate) + ' · ↑ ' + rate(d.uploadRate),
      peers: d.peers + ' connected, ' + d.seeds + ' seed(s)',
      pieces: d.have + ' / ' + d.pieces + ' × ' + bytes(d.pieceLength),
      savePath: d.savePath, infoHash: d.infoHash, sources: (d.sources || []).join(', ') || 'none', error: d.error || '—',
    } : {};
    DETAIL_FIELDS.forEach(function (f) {
      var dd = dl.querySelector('dd[data-field="' + f[0] + '"]');
      if (f[0] === 'magnet') { var input = $('details-magnet'); if (document.activeElement !== input) input.value = d ? d.magnet : ''; }
      else dd.textContent = v[f[0]] !== undefined ? v[f[0]] : '';
    });
    drawPieces(d);
  }

  // One cell per piece when they fit; else each column shows the share of its pieces we have.
  function drawPieces(d) {
    var canvas = $('pieces-map');
    var ctx = canvas.getContext('2d');
    var w = canvas.width, h = canvas.height;
    ctx.fillStyle = '#e5e7eb';
    ctx.fillRect(0, 0, w, h);
    if (!d) { state.pieces = null; $('pieces-legend').textContent = ''; return; }
    var raw = atob(d.bitfield);
    function has(i) { return (raw.charCodeAt(i >> 3) & (0x80 >> (i & 7))) !== 0; }
    var n = d.pieces, count = 0;
    ctx.fillStyle = '#2563eb';
    if (n <= w) {
      var cw = w / n;
      for (var i = 0; i < n; i++) if (has(i)) { count++; ctx.fillRect(Math.floor(i * cw), 0, Math.max(1, Math.ceil(cw) - (cw > 3 ? 1 : 0)), h); }
    } else {
      for (var x = 0; x < w; x++) {
        var from = Math.floor((x * n) / w), to = Math.floor(((x + 1) * n) / w), k = 0;
        for (var j = from; j < to; j++) if (has(j)) k++;
        count += k;
        if (k) { ctx.globalAlpha = 0.25 + (0.75 * k) / (to - from); ctx.fillRect(x, 0, 1, h); }
      }
      ctx.globalAlpha = 1;
    }
    state.pieces = { infoHash: d.infoHash, pieces: n, drawn: count };
    $('pieces-legend').textContent = count + ' of ' + n + ' pieces here (blue), ' + (n - count) + ' missing (grey)';
  }

  // Files of the selected torrent: rows kept between refreshes (an open priority menu is not rebuilt under the user).
  var filesFor = null;
  function renderFiles(files, torrent) {
    var tbody = document.querySelector('#files tbody');
    $('files-title').textContent = torrent ? torrent.name : '';
    if (!torrent) { tbody.textContent = ''; filesFor = null; return; }
    var key = torrent.infoHash + ':' + files.length;
    if (filesFor !== key) {
      filesFor = key;
      tbody.textContent = '';
      files.forEach(function (f) {
        var single = files.length === 1 && f.path === torrent.name;
        var href = '/download/' + torrent.infoHash + (single ? '' : '/' + f.path.split('/').map(encodeURIComponent).join('/'));
        var select = el('select', { 'data-index': String(f.index), 'aria-label': 'priority of ' + f.path }, ['skip', 'normal', 'high'].map(function (n, i) { return el('option', { value: String(i), text: n }); }));
        select.addEventListener('change', function () {
          api('/api/torrents/' + torrent.infoHash + '/files', jsonBody('PUT', { files: [{ index: f.index, priority: Number(select.value) }] }))
            .then(function () { setStatus(f.path + ': ' + select.options[select.selectedIndex].text); state.filesChanged = (state.filesChanged || 0) + 1; refresh(); }, function (e) { setStatus(e.message); });
        });
        tbody.appendChild(el('tr', { 'data-index': String(f.index) }, [
          el('td', { className: 'name' }, [el('a', { href: href, text: f.path, title: 'open (streams while it downloads)' })]),
          el('td', { text: bytes(f.length) }),
          el('td', { className: 'file-done' }),
          el('td', {}, [select]),
        ]));
      });
    }
    files.forEach(function (f) {
      var row = tbody.querySelector('tr[data-index="' + f.index + '"]');
      if (!row) return;
      row.querySelector('td.file-done').textContent = f.length > 0 ? ((100 * f.done) / f.length).toFixed(1) + '%' : '100.0%';
      var select = row.querySelector('select');
      if (document.activeElement !== select) select.value = String(f.priority);
      row.className = f.priority === 0 ? 'skipped' : '';
    });
  }

  function renderTrackers(info, torrent) {
    var tbody = document.querySelector('#trackers tbody');
    tbody.textContent = '';
    $('trackers-title').textContent = torrent ? torrent.name : '';
    var list = info ? info.trackers : [];
    state.trackers = list.length;
    list.forEach(function (tr) {
      tbody.appendChild(el('tr', { 'data-url': tr.url, className: 'tracker-' + tr.status }, [
        el('td', { text: String(tr.tier + 1) }),
        el('td', { className: 'url', text: tr.url }),
        el('td', { className: 'tracker-status', text: tr.status === 'idle' ? 'not contacted' : tr.status }),
        el('td', { text: tr.seeders === undefined ? '' : String(tr.seeders) }),
        el('td', { text: tr.leechers === undefined ? '' : String(tr.leechers) }),
        el('td', { text: tr.peers === undefined ? '' : String(tr.peers) }),
        el('td', { text: ago(tr.lastAnnounceAt) }),
        el('td', { text: until(tr.nextAnnounceAt) }),
        el('td', { className: 'name', text: tr.error || tr.warning || '' }),
      ]));
    });
    var extra = [];
    if (info && info.sources) extra.push('peer sources: ' + (info.sources.join(', ') || 'none'));
    if (info && info.webSeeds && info.webSeeds.length) extra.push('web seeds: ' + info.webSeeds.map(function (w) { return w.url + (w.banned ? ' (banned)' : '') + ' ' + bytes(w.downloaded); }).join(', '));
    if (torrent && !list.length) extra.unshift('this torrent names no tracker');
    $('sources').textContent = extra.join(' · ');
  }

  function renderPeers(peers, torrent) {
    var tbody = document.querySelector('#peers tbody');
    tbody.textContent = '';
    $('peers-title').textContent = torrent ? 'of ' + torrent.name : '';
    peers.forEach(function (p) {
      var flags = (p.amChoking ? 'C' : 'c') + (p.amInterested ? 'I' : 'i') + (p.peerChoking ? 'C' : 'c') + (p.peerInterested ? 'I' : 'i');
      tbody.appendChild(el('tr', { 'data-address': p.address }, [
        el('td', { text: p.address }), el('td', { text: p.client || p.peerId.slice(0, 16) }), el('td', { text: p.outgoing ? 'out' : 'in' }),
        el('td', { text: torrent ? ((100 * p.have) / Math.max(1, torrent.pieces)).toFixed(0) + '%' : String(p.have) }),
        el('td', { text: rate(p.downloadRate) }), el('td', { text: rate(p.uploadRate) }),
        el('td', { className: 'peer-downloaded', text: bytes(p.downloaded || 0) }), el('td', { text: bytes(p.uploaded || 0) }),
        el('td', { text: flags, title: 'am choking / am interested / peer choking / peer interested' }),
      ]));
    });
  }

  // This node in the middle, its peers on a circle around it, one edge per connection.
  function renderGraph(peers, torrent, session) {
    var g = $('swarm-graph');
    g.textContent = '';
    $('swarm-title').textContent = torrent ? torrent.name + ': ' + peers.length + ' peer(s)' : '';
    var cx = 200, cy = 150, r = 110;
    peers.forEach(function (p, i) {
      var a = (2 * Math.PI * i) / Math.max(1, peers.length) - Math.PI / 2;
      var x = cx + r * Math.cos(a), y = cy + r * Math.sin(a);
      var active = p.downloadRate > 0 || p.uploadRate > 0;
      g.appendChild(svg('line', { x1: cx, y1: cy, x2: x.toFixed(1), y2: y.toFixed(1), 'class': active ? 'active' : '' }));
      var seed = torrent && p.have >= torrent.pieces;
      g.appendChild(svg('circle', { cx: x.toFixed(1), cy: y.toFixed(1), r: 9, 'class': 'peer' + (seed ? '' : ' partial'), 'data-address': p.address }));
      g.appendChild(svg('text', { x: (x + 11).toFixed(1), y: (y + 4).toFixed(1), text: p.address }));
    });
    g.appendChild(svg('circle', { cx: cx, cy: cy, r: 14, 'class': 'self' }));
    g.appendChild(svg('text', { x: cx - 24, y: cy + 28, text: 'this node' + (session ? ' :' + session.port : '') }));
  }

  function pushTraffic(session) {
    if (!chart && window.Chart) {
      chart = new window.Chart($('traffic-chart'), {
        type: 'line',
        data: { labels: [], datasets: [
          { label: 'download', data: [], borderColor: '#2563eb', backgroundColor: 'rgba(37,99,235,.15)', fill: true, pointRadius: 0, tension: 0.2 },
          { label: 'upload', data: [], borderColor: '#16a34a', backgroundColor: 'rgba(22,163,74,.15)', fill: true, pointRadius: 0, tension: 0.2 },
        ] },
        options: { animation: false, responsive: true, maintainAspectRatio: false,
          scales: { y: { beginAtZero: true, title: { display: true, text: 'KiB/s' } } }, plugins: { legend: { position: 'bottom' } } },
      });
      state.chart = chart;
    }
    if (!chart) return;
    var d = chart.data;
    d.labels.push(new Date().toLocaleTimeString());
    d.datasets[0].data.push(session.downloadRate / 1024);
    d.datasets[1].data.push(session.uploadRate / 1024);
    if (d.labels.length > HISTORY) { d.labels.shift(); d.datasets[0].data.shift(); d.datasets[1].data.shift(); }
    chart.update('none');
  }

  // --- the session: limits, DHT, messages ------------------------------------------------

  function renderLimits(limits) {
    $('global-limits').textContent = 'now: ↓ ' + (limits.downloadBytesPerS ? rate(limits.downloadBytesPerS) : 'unlimited') + ' · ↑ ' + (limits.uploadBytesPerS ? rate(limits.uploadBytesPerS) : 'unlimited');
    if (limitsFilled) return;
    limitsFilled = true;
    $('gl-down').value = kib(limits.downloadBytesPerS);
    $('gl-up').value = kib(limits.uploadBytesPerS);
  }

  // One column per family (IPv4, and IPv6 beside it on ::), one row per figure: fits half the page.
  var DHT_ROWS = [
    ['nodeId', 'Node id', function (f) { return f.nodeId; }],
    ['address', 'Address', function (f) { return (f.host && f.host.indexOf(':') >= 0 ? '[' + f.host + ']' : f.host) + ':' + f.port; }],
    ['nodes', 'Nodes (good / all)', function (f) { return f.goodNodes + ' / ' + f.nodes; }],
    ['items', 'Items stored', function (f) { return String(f.itemsStored); }],
    ['publishing', 'Items we publish', function (f) { return String(f.publishing || 0); }],
    ['peers', 'Peers stored', function (f) { return f.peersStored + ' (' + f.infoHashes + ' torrents)'; }],
    ['queries', 'Queries in / out', function (f) { return f.queriesReceived + ' / ' + f.queriesSent; }],
  ];
  function renderDht(d) {
    state.dht = d;
    var table = $('dht');
    table.textContent = '';
    $('dht-off').hidden = !!(d && d.enabled);
    if (!d || !d.enabled) return;
    var families = d.families || [Object.assign({ family: 'IPv4' }, d)];
    table.appendChild(el('thead', {}, [el('tr', {}, [el('th')].concat(families.map(function (f) { return el('th', { text: f.family }); })))]));
    var tbody = el('tbody');
    DHT_ROWS.forEach(function (r) {
      tbody.appendChild(el('tr', {}, [el('th', { text: r[1], scope: 'row' })].concat(families.map(function (f) {
        return el('td', { 'data-family': f.family, 'data-field': r[0], className: r[0] === 'nodeId' ? 'node-id' : '', title: r[0] === 'nodeId' ? f.nodeId : '', text: r[2](f) });
      }))));
    });
    table.appendChild(tbody);
  }

  function renderMessages(list) {
    var ul = $('messages');
    ul.textContent = '';
    list.slice(-50).forEach(function (m) {
      ul.appendChild(el('li', { 'data-from': m.from, text: new Date(m.at).toLocaleTimeString() + '  ' + m.from + ': ' + m.text }));
    });
  }

  var busy = false;
  var ticks = 0;
  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    ticks++;
    return Promise.all([api('/api/session'), api('/api/torrents')]).then(function (r) {
      var session = r[0], torrents = r[1];
      lastTorrents = torrents.torrents;
      lastFetching = torrents.fetching || [];
      $('summary').textContent = torrents.torrents.length + ' torrent(s) · ' + session.peers + ' peer(s) · down ' + rate(session.downloadRate) + ' · up ' + rate(session.uploadRate) + ' · port ' + session.port;
      renderTorrents(lastTorrents, lastFetching);
      renderLimits(session.limits);
      var torrent = lastTorrents.filter(function (t) { return t.infoHash === selected; })[0] || null;
      fillControl(torrent);
      pushTraffic(session);
      var base = torrent ? '/api/torrents/' + torrent.infoHash : null;
      var none = function () { return null; };
      return Promise.all([
        base ? api(base + '/peers').then(function (b) { return b.peers; }, function () { return []; }) : [],
        api('/api/messages').catch(function () { return { messages: [] }; }),
        base ? api(base + '/files').then(function (b) { return b.files; }, function () { return []; }) : [],
        base ? api(base).catch(none) : null,
        base ? api(base + '/details').catch(none) : null,
        base ? api(base + '/trackers').catch(none) : null,
        ticks % 2 === 1 || !state.dht ? api('/api/dht').catch(none) : state.dht,
      ]).then(function (x) {
        renderFiles(x[2], torrent);
        var seq = $('ctl-sequential');
        if (x[3] && document.activeElement !== seq) seq.checked = x[3].sequential === true;
        renderDetails(x[4], torrent);
        renderTrackers(x[5], torrent);
        renderPeers(x[0], torrent);
        renderGraph(x[0], torrent, session);
        renderMessages(x[1].messages);
        renderDht(x[6]);
        state.updates++;
        // Clears a lost-connection notice; the answer to the user's last action stays.
        if (state.lastError !== null) setStatus('');
        state.lastError = null;
      });
    }).catch(function (e) {
      state.lastError = e.message;
      setStatus('cannot reach the daemon: ' + e.message);
    }).then(function () { busy = false; });
  }

  function optionalNumber(id) {
    var v = $(id).value.trim();
    return v === '' ? null : Number(v);
  }
  function wireControl() {
    $('control-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!controlFor) return;
      var body = {
        downloadLimit: Math.round((optionalNumber('ctl-down') || 0) * 1024),
        uploadLimit: Math.round((optionalNumber('ctl-up') || 0) * 1024),
        seedRatioLimit: optionalNumber('ctl-ratio'),
        seedTimeLimitS: optionalNumber('ctl-time'),
      };
      api('/api/torrents/' + controlFor, jsonBody('PATCH', body))
        .then(function () { setStatus('limits applied'); state.applied = (state.applied || 0) + 1; refresh(); }, function (e) { setStatus(e.message); });
    });
    $('ctl-sequential').addEventListener('change', function (ev) {
      if (!controlFor) return;
      var on = ev.target.checked;
      api('/api/torrents/' + controlFor, jsonBody('PATCH', { sequential: on }))
        .then(function () { setStatus(on ? 'sequential: pieces in order' : 'rarest first'); state.sequentialChanged = (state.sequentialChanged || 0) + 1; }, function (e) { setStatus(e.message); });
    });
    $('ctl-recheck').addEventListener('click', function () {
      if (!controlFor) return;
      setStatus('rechecking…');
      api('/api/torrents/' + controlFor + '/recheck', { method: 'POST' }).then(function (t) { state.rechecked = t.have + '/' + t.pieces; setStatus('rechecked: ' + t.have + '/' + t.pieces + ' pieces'); refresh(); }, function (e) { setStatus(e.message); });
    });
    $('ctl-move').addEventListener('click', function () {
      var to = $('ctl-move-to').value.trim();
      if (!controlFor || !to) return;
      api('/api/torrents/' + controlFor + '/move', jsonBody('POST', { to: to }))
        .then(function () { setStatus('moved to ' + to); refresh(); }, function (e) { setStatus(e.message); });
    });
    $('global-limits-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = { downloadBytesPerS: Math.round((optionalNumber('gl-down') || 0) * 1024), uploadBytesPerS: Math.round((optionalNumber('gl-up') || 0) * 1024) };
      api('/api/limits', jsonBody('PUT', body)).then(function (l) {
        limitsFilled = false;
        renderLimits(l);
        setStatus('global limits applied');
        state.globalApplied = (state.globalApplied || 0) + 1;
      }, function (e) { setStatus(e.message); });
    });
  }

  // --- adding torrents: a .torrent file (picker or drop), a magnet link -----------------

  function added(what) {
    return function (b) {
      state.added++;
      setStatus('added ' + (b && b.name ? b.name : what) + (b && b.status ? ' (' + b.status + ')' : ''));
      // A magnet has no row to select until its metadata is in: the selection stays.
      if (b && b.infoHash && !b.status) selected = b.infoHash;
      refresh();
    };
  }
  function addTorrentFile(file) {
    return api('/api/torrents', { method: 'POST', headers: { 'Content-Type': 'application/x-bittorrent' }, body: file })
      .then(added(file.name), function (e) { setStatus(file.name + ': ' + e.message); });
  }
  function addMagnet(text) {
    return api('/api/torrents', jsonBody('POST', { magnet: text })).then(added('magnet'), function (e) { setStatus(e.message); });
  }
  function isTorrentFile(f) { return /\.torrent$/i.test(f.name) || f.type === 'application/x-bittorrent'; }
  function wireAdd() {
    $('add-torrent-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('add-torrent-file');
      if (!input.files || !input.files[0]) { setStatus('choose a .torrent file first'); return; }
      addTorrentFile(input.files[0]).then(function () { input.value = ''; });
    });
    $('magnet-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = $('magnet-text').value.trim();
      if (!text) return;
      addMagnet(text).then(function () { $('magnet-text').value = ''; });
    });
    $('upload-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = $('upload-file');
      if (!input.files || !input.files[0]) return;
      var form = new FormData();
      form.append('file', input.files[0]);
      var out = $('upload-result');
      out.textContent = 'uploading…';
      api('/upload', { method: 'POST', body: form }).then(function (b) { out.textContent = 'seeding ' + b.name + ': ' + b.magnet; refresh(); }, function (e) { out.textContent = e.message; });
    });
    // Drag and drop anywhere on the page: .torrent files, or a magnet link dragged as text.
    var zone = $('drop-zone');
    var depth = 0;
    document.addEventListener('dragenter', function (ev) { ev.preventDefault(); depth++; zone.hidden = false; });
    document.addEventListener('dragover', function (ev) { ev.preventDefault(); if (ev.dataTransfer) ev.dataTransfer.dropEffect = 'copy'; });
    document.addEventListener('dragleave', function () { depth = Math.max(0, depth - 1); if (!depth) zone.hidden = true; });
    document.addEventListener('drop', function (ev) {
      ev.preventDefault();
      depth = 0;
      zone.hidden = true;
      var dt = ev.dataTransfer;
      if (!dt) return;
      var files = Array.prototype.filter.call(dt.files || [], isTorrentFile);
      if (files.length) { files.forEach(addTorrentFile); return; }
      if (dt.files && dt.files.length) { setStatus('not a .torrent file: ' + dt.files[0].name); return; }
      var text = (dt.getData('text/uri-list') || dt.getData('text/plain') || '').trim();
      if (/^magnet:\?/i.test(text)) addMagnet(text);
      else setStatus('drop a .torrent file or a magnet link');
    });
  }

  // --- the key-value store (BEP 44) and the catalogue ------------------------------------

  function kvPath(key) {
    var ns = $('kv-namespace').value.trim();
    return '/api/kv/' + encodeURIComponent(key) + (ns ? '?namespace=' + encodeURIComponent(ns) : '');
  }
  function kvShow(op, ok, text) {
    var out = $('kv-result');
    out.textContent = text;
    out.className = 'kv-result' + (ok ? '' : ' bad');
    state.kv = { op: op, ok: ok, text: text };
  }
  function wireKv() {
    function key() {
      var k = $('kv-key').value;
      if (!k) kvShow('none', false, 'give a key');
      return k;
    }
    $('kv-form').addEventListener('submit', function (ev) { ev.preventDefault(); });
    $('kv-get').addEventListener('click', function () {
      var k = key(); if (!k) return;
      kvShow('get', true, 'looking up ' + k + '…');
      api(kvPath(k)).then(function (b) {
        var r = b.result || {};
        $('kv-value').value = r.value !== undefined ? r.value : '';
        kvShow('get', true, k + ' = ' + (r.value !== undefined ? r.value : JSON.stringify(r)) + (r.seq !== undefined && r.seq !== null ? '  (seq ' + r.seq + ')' : ''));
      }, function (e) { kvShow('get', false, e.message); });
    });
    $('kv-put').addEventListener('click', function () {
      var k = key(); if (!k) return;
      var value = $('kv-value').value;
      kvShow('put', true, 'storing ' + k + '…');
      api(kvPath(k), jsonBody('PUT', { value: value })).then(function (b) {
        var r = b.result || {};
        kvShow('put', true, 'stored ' + k + ' = ' + value + (r.stored !== undefined ? ' on ' + r.stored + ' node(s)' : '') + (r.seq !== undefined && r.seq !== null ? ' (seq ' + r.seq + ')' : ''));
      }, function (e) { kvShow('put', false, e.message); });
    });
    $('kv-del').addEventListener('click', function () {
      var k = key(); if (!k) return;
      if (!confirm('Delete ' + k + '?')) return;
      kvShow('del', true, 'deleting ' + k + '…');
      api(kvPath(k), { method: 'DELETE' }).then(function () {
        $('kv-value').value = '';
        Array.prototype.forEach.call(document.querySelectorAll('#kv-keys li'), function (li) { if (li.textContent === k) li.remove(); });
        kvShow('del', true, 'deleted ' + k);
      }, function (e) { kvShow('del', false, e.message); });
    });
    $('kv-list').addEventListener('click', function () {
      var ns = $('kv-namespace').value.trim();
      var ul = $('kv-keys');
      api('/api/kv' + (ns ? '?namespace=' + encodeURIComponent(ns) : '')).then(function (b) {
        ul.textContent = '';
        (b.keys || []).forEach(function (k) {
          var name = typeof k === 'string' ? k : k.key;
          var li = el('li', {}, [el('button', { type: 'button', className: 'link', text: name })]);
          li.firstChild.addEventListener('click', function () { $('kv-key').value = name; $('kv-get').click(); });
          ul.appendChild(li);
        });
        kvShow('list', true, (b.keys || []).length + ' key(s) in ' + (ns || 'your identity'));
        state.kvKeys = (b.keys || []).length;
      }, function (e) { kvShow('list', false, e.message); });
    });
  }
  function wireCatalogue() {
    $('catalogue-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var ns = $('catalogue-namespace').value.trim() || 'files';
      var out = $('catalogue-status');
      var tbody = document.querySelector('#catalogue tbody');
      out.textContent = 'looking up ' + ns + '…';
      api('/api/catalogue?namespace=' + encodeURIComponent(ns)).then(function (b) {
        tbody.textContent = '';
        (b.files || []).forEach(function (f) {
          var fetchButton = el('button', { type: 'button', text: 'Fetch', 'data-magnet': f.magnet });
          fetchButton.addEventListener('click', function () { addMagnet(f.magnet); });
          tbody.appendChild(el('tr', { 'data-name': f.name }, [el('td', { className: 'name', text: f.name }), el('td', { text: f.length === undefined ? '' : bytes(f.length) }), el('td', {}, [fetchButton])]));
        });
        out.textContent = (b.files || []).length + ' file(s)' + (b.skipped && b.skipped.length ? ', ' + b.skipped.length + ' unreadable' : '');
        state.catalogue = (b.files || []).length;
      }, function (e) { out.textContent = e.message; state.catalogue = -1; });
    });
  }

  function wireMessages() {
    $('message-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var to = $('message-to').value.trim() || 'all';
      var text = $('message-text');
      api('/api/messages', jsonBody('POST', { to: to, text: text.value }))
        .then(function () { text.value = ''; refresh(); }, function (e) { setStatus(e.message); });
    });
  }

  wireSort();
  wireAdd();
  wireControl();
  wireKv();
  wireCatalogue();
  wireMessages();
  refresh();
  setInterval(refresh, 1000);
})();
`;
