/**
 * The dashboard's script (served at /assets/app.js): polls the JSON API
 * once a second and redraws. Plain browser JavaScript in a string (tsc
 * only ships .ts); every value from the daemon goes into the page with
 * textContent or attributes, never as HTML, since torrent names and peer
 * client strings come from strangers. The selected torrent's controls
 * (limits, seed limits, recheck, move) are filled when the selection
 * changes, never while the user types.
 */
export const DASHBOARD_JS = String.raw`'use strict';
(function () {
  var token = new URLSearchParams(location.search).get('token');
  var selected = null;
  var HISTORY = 120;
  var chart = null;
  var lastTorrents = [];
  var state = { updates: 0, lastError: null };
  var controlFor = null;
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
        if (!res.ok) throw new Error((body && body.error) || ('HTTP ' + res.status));
        return body;
      });
    });
  }

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
    var form = document.getElementById('control-form');
    if (!t) { form.hidden = true; controlFor = null; return; }
    form.hidden = false;
    if (controlFor === t.infoHash) return;
    controlFor = t.infoHash;
    document.getElementById('control-title').textContent = t.name;
    document.getElementById('ctl-down').value = kib(t.downloadLimit);
    document.getElementById('ctl-up').value = kib(t.uploadLimit);
    document.getElementById('ctl-ratio').value = t.seedRatioLimit === null || t.seedRatioLimit === undefined ? '' : String(t.seedRatioLimit);
    document.getElementById('ctl-time').value = t.seedTimeLimitS === null || t.seedTimeLimitS === undefined ? '' : String(t.seedTimeLimitS);
  }
  function setStatus(text) { document.getElementById('status').textContent = text || ''; }

  function progressBar(have, total, done) {
    var pct = total > 0 ? (100 * have) / total : 0;
    var bar = el('div', { className: 'bar' });
    bar.style.width = pct.toFixed(1) + '%';
    var box = el('div', { className: 'progress' + (done ? ' done' : ''), role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': pct.toFixed(1) }, [bar, el('span', { className: 'label', text: pct.toFixed(1) + '%' })]);
    return box;
  }

  function renderTorrents(list, fetching) {
    var tbody = document.querySelector('#torrents tbody');
    tbody.textContent = '';
    document.getElementById('no-torrents').style.display = list.length || fetching.length ? 'none' : '';
    if (!list.some(function (t) { return t.infoHash === selected; })) selected = list.length ? list[0].infoHash : null;
    list.forEach(function (t) {
      var action = el('button', { text: t.state === 'paused' ? 'Resume' : 'Pause', 'data-action': t.state === 'paused' ? 'resume' : 'pause' });
      var remove = el('button', { text: 'Remove', 'data-action': 'remove' });
      var purge = el('button', { text: 'Remove + data', 'data-action': 'remove-data', title: 'remove the torrent and delete its files' });
      var row = el('tr', { className: 'torrent' + (t.infoHash === selected ? ' selected' : ''), 'data-infohash': t.infoHash }, [
        el('td', { className: 'name', text: t.name, title: t.infoHash }),
        el('td', {}, [progressBar(t.have, t.pieces, t.complete)]),
        el('td', { className: 'state', text: t.state }),
        el('td', { text: String(t.peers) }),
        el('td', { text: rate(t.downloadRate) }),
        el('td', { text: rate(t.uploadRate) }),
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
    fetching.forEach(function (f) {
      tbody.appendChild(el('tr', { 'data-infohash': f.infoHash }, [
        el('td', { className: 'name', text: f.name || f.infoHash }), el('td', { text: 'fetching metadata…', colspan: '8', className: 'muted' }),
      ]));
    });
  }

  // Files of the selected torrent: rows kept between refreshes (an open priority menu is not rebuilt under the user).
  var filesFor = null;
  function renderFiles(files, torrent) {
    var tbody = document.querySelector('#files tbody');
    document.getElementById('files-title').textContent = torrent ? torrent.name : '';
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
          api('/api/torrents/' + torrent.infoHash + '/files', { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ files: [{ index: f.index, priority: Number(select.value) }] }) })
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

  function renderPeers(peers, torrent) {
    var tbody = document.querySelector('#peers tbody');
    tbody.textContent = '';
    document.getElementById('peers-title').textContent = torrent ? 'of ' + torrent.name : '';
    peers.forEach(function (p) {
      var flags = (p.amChoking ? 'C' : 'c') + (p.amInterested ? 'I' : 'i') + (p.peerChoking ? 'C' : 'c') + (p.peerInterested ? 'I' : 'i');
      tbody.appendChild(el('tr', { 'data-address': p.address }, [
        el('td', { text: p.address }), el('td', { text: p.client || p.peerId.slice(0, 16) }), el('td', { text: p.outgoing ? 'out' : 'in' }),
        el('td', { text: torrent ? ((100 * p.have) / Math.max(1, torrent.pieces)).toFixed(0) + '%' : String(p.have) }),
        el('td', { text: rate(p.downloadRate) }), el('td', { text: rate(p.uploadRate) }), el('td', { text: flags, title: 'am choking / am interested / peer choking / peer interested' }),
      ]));
    });
  }

  // This node in the middle, its peers on a circle around it, one edge per connection.
  function renderGraph(peers, torrent, session) {
    var g = document.getElementById('swarm-graph');
    g.textContent = '';
    document.getElementById('swarm-title').textContent = torrent ? torrent.name + ': ' + peers.length + ' peer(s)' : '';
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
      chart = new window.Chart(document.getElementById('traffic-chart'), {
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

  function renderMessages(list) {
    var ul = document.getElementById('messages');
    ul.textContent = '';
    list.slice(-50).forEach(function (m) {
      ul.appendChild(el('li', { text: new Date(m.at).toLocaleTimeString() + '  ' + m.from + ': ' + m.text }));
    });
  }

  var busy = false;
  function refresh() {
    if (busy) return Promise.resolve();
    busy = true;
    return Promise.all([api('/api/session'), api('/api/torrents')]).then(function (r) {
      var session = r[0], torrents = r[1];
      lastTorrents = torrents.torrents;
      document.getElementById('summary').textContent = torrents.torrents.length + ' torrent(s) · ' + session.peers + ' peer(s) · down ' + rate(session.downloadRate) + ' · up ' + rate(session.uploadRate) + ' · port ' + session.port;
      renderTorrents(torrents.torrents, torrents.fetching || []);
      fillControl(lastTorrents.filter(function (t) { return t.infoHash === selected; })[0] || null);
      pushTraffic(session);
      var torrent = lastTorrents.filter(function (t) { return t.infoHash === selected; })[0] || null;
      var peers = torrent ? api('/api/torrents/' + torrent.infoHash + '/peers').then(function (b) { return b.peers; }, function () { return []; }) : Promise.resolve([]);
      var files = torrent ? api('/api/torrents/' + torrent.infoHash + '/files').then(function (b) { return b.files; }, function () { return []; }) : Promise.resolve([]);
      var detail = torrent ? api('/api/torrents/' + torrent.infoHash).catch(function () { return null; }) : Promise.resolve(null);
      return Promise.all([peers, api('/api/messages').catch(function () { return { messages: [] }; }), files, detail]).then(function (x) {
        renderFiles(x[2], torrent);
        var seq = document.getElementById('ctl-sequential');
        if (x[3] && document.activeElement !== seq) seq.checked = x[3].sequential === true;
        renderPeers(x[0], torrent);
        renderGraph(x[0], torrent, session);
        renderMessages(x[1].messages);
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
    var v = document.getElementById(id).value.trim();
    return v === '' ? null : Number(v);
  }
  function wireControl() {
    document.getElementById('control-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (!controlFor) return;
      var body = {
        downloadLimit: Math.round((optionalNumber('ctl-down') || 0) * 1024),
        uploadLimit: Math.round((optionalNumber('ctl-up') || 0) * 1024),
        seedRatioLimit: optionalNumber('ctl-ratio'),
        seedTimeLimitS: optionalNumber('ctl-time'),
      };
      api('/api/torrents/' + controlFor, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
        .then(function () { setStatus('limits applied'); state.applied = (state.applied || 0) + 1; refresh(); }, function (e) { setStatus(e.message); });
    });
    document.getElementById('ctl-sequential').addEventListener('change', function (ev) {
      if (!controlFor) return;
      var on = ev.target.checked;
      api('/api/torrents/' + controlFor, { method: 'PATCH', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ sequential: on }) })
        .then(function () { setStatus(on ? 'sequential: pieces in order' : 'rarest first'); state.sequentialChanged = (state.sequentialChanged || 0) + 1; }, function (e) { setStatus(e.message); });
    });
    document.getElementById('ctl-recheck').addEventListener('click', function () {
      if (!controlFor) return;
      setStatus('rechecking…');
      api('/api/torrents/' + controlFor + '/recheck', { method: 'POST' }).then(function (t) { state.rechecked = t.have + '/' + t.pieces; setStatus('rechecked: ' + t.have + '/' + t.pieces + ' pieces'); refresh(); }, function (e) { setStatus(e.message); });
    });
    document.getElementById('ctl-move').addEventListener('click', function () {
      var to = document.getElementById('ctl-move-to').value.trim();
      if (!controlFor || !to) return;
      api('/api/torrents/' + controlFor + '/move', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ to: to }) })
        .then(function () { setStatus('moved to ' + to); refresh(); }, function (e) { setStatus(e.message); });
    });
  }

  function wireForms() {
    document.getElementById('upload-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var input = document.getElementById('upload-file');
      if (!input.files || !input.files[0]) return;
      var form = new FormData();
      form.append('file', input.files[0]);
      var out = document.getElementById('upload-result');
      out.textContent = 'uploading…';
      api('/upload', { method: 'POST', body: form }).then(function (b) { out.textContent = 'seeding ' + b.name + ': ' + b.magnet; refresh(); }, function (e) { out.textContent = e.message; });
    });
    document.getElementById('magnet-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var text = document.getElementById('magnet-text').value.trim();
      api('/api/torrents', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ magnet: text }) }).then(refresh, function (e) { setStatus(e.message); });
    });
    document.getElementById('message-form').addEventListener('submit', function (ev) {
      ev.preventDefault();
      var to = document.getElementById('message-to').value.trim() || 'all';
      var text = document.getElementById('message-text');
      api('/api/messages', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ to: to, text: text.value }) })
        .then(function () { text.value = ''; refresh(); }, function (e) { setStatus(e.message); });
    });
  }

  wireForms();
  wireControl();
  refresh();
  setInterval(refresh, 1000);
})();
`;
