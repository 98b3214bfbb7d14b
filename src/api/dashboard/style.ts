/** The dashboard's styles (served at /assets/style.css). */
export const DASHBOARD_CSS = `
:root { --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #6b7280; --down: #2563eb; --up: #16a34a; --bad: #dc2626; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .8em 1.2em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
.summary { color: #cbd5e1; }
.status { margin-left: auto; color: #fca5a5; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; padding: 1em; }
.panel { background: var(--panel); border-radius: 6px; padding: .8em 1em; box-shadow: 0 1px 2px rgba(0,0,0,.08); min-width: 0; overflow-x: auto; }
.panel.wide { grid-column: 1 / -1; }
h2 { font-size: 1em; margin: 0 0 .6em; }
table { width: 100%; border-collapse: collapse; }
th, td { text-align: left; padding: .3em .5em; border-bottom: 1px solid #eee; white-space: nowrap; }
td.name { white-space: normal; word-break: break-all; }
tbody tr.torrent { cursor: pointer; }
tbody tr.selected { background: #eef2ff; }
.progress { position: relative; width: 160px; height: 14px; background: #e5e7eb; border-radius: 7px; overflow: hidden; }
.progress > .bar { position: absolute; inset: 0 auto 0 0; background: var(--down); }
.progress.done > .bar { background: var(--up); }
.progress > .label { position: absolute; inset: 0; text-align: center; font-size: 11px; line-height: 14px; color: #111; }
.muted { color: var(--muted); font-weight: normal; }
.row { display: flex; gap: .6em; align-items: center; margin-top: .6em; flex-wrap: wrap; }
.chart-box { position: relative; height: 240px; }
#swarm-graph { width: 100%; height: 300px; }
#swarm-graph line { stroke: #94a3b8; stroke-width: 1.5; }
#swarm-graph line.active { stroke: var(--down); stroke-width: 2.5; }
#swarm-graph circle.self { fill: #1d2330; }
#swarm-graph circle.peer { fill: var(--up); }
#swarm-graph circle.peer.partial { fill: #f59e0b; }
#swarm-graph text { font-size: 10px; fill: var(--ink); }
#messages { list-style: none; padding: 0; margin: 0; max-height: 12em; overflow: auto; }
#messages li { padding: .2em 0; border-bottom: 1px solid #f0f0f0; }
button { cursor: pointer; }
.control { background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 6px; padding: .5em .7em; }
.control[hidden] { display: none; }
td.limits { font-size: 12px; color: var(--muted); }
#files tr.skipped td { color: var(--muted); }
#files tr.skipped td.name a { text-decoration: line-through; }
td.state { text-transform: none; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable:hover { color: var(--down); }
th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
.toolbar { margin: 0 0 .5em; }
tr.errored td.state { color: var(--bad); }
.hint { margin: .4em 0 0; font-size: 12px; }
.drop-zone { position: fixed; inset: 0; z-index: 10; display: flex; align-items: center; justify-content: center; background: rgba(37,99,235,.12); border: 4px dashed var(--down); font-size: 1.4em; color: var(--down); pointer-events: none; }
.drop-zone[hidden] { display: none; }
.details { display: grid; grid-template-columns: max-content 1fr max-content 1fr max-content 1fr; gap: .25em .8em; margin: 0 0 .6em; }
.details[hidden], .pieces-box[hidden], #details-none[hidden] { display: none; }
.details dt { color: var(--muted); }
.details dd { margin: 0; word-break: break-all; min-width: 0; }
.details dd[data-field="magnet"] input { width: 100%; font: 12px monospace; }
.pieces-box canvas { width: 100%; height: 36px; display: block; border-radius: 4px; image-rendering: pixelated; }
#trackers td.tracker-status { text-transform: none; }
#trackers td.url { white-space: normal; overflow-wrap: anywhere; }
#trackers tr.tracker-working td.tracker-status { color: var(--up); }
#trackers tr.tracker-error td.tracker-status { color: var(--bad); }
#dht th[scope=row] { color: var(--muted); font-weight: normal; width: 11em; }
#dht td.node-id { font: 12px monospace; white-space: normal; word-break: break-all; }
.kv-form { display: flex; flex-wrap: wrap; gap: .4em .8em; align-items: center; }
.kv-value { display: flex; flex-direction: column; width: 100%; }
.kv-value textarea { width: 100%; font: inherit; }
.kv-result { background: #f8fafc; border: 1px solid #e5e7eb; border-radius: 4px; padding: .4em .6em; min-height: 2.2em; white-space: pre-wrap; word-break: break-all; margin: .6em 0 0; }
.kv-result.bad { color: var(--bad); }
#kv-keys { list-style: none; padding: 0; margin: .4em 0 0; display: flex; flex-wrap: wrap; gap: .3em; }
button.link { background: none; border: 1px solid #cbd5e1; border-radius: 3px; color: var(--down); }
@media (max-width: 1100px) { .details { grid-template-columns: max-content 1fr; } }
@media (max-width: 900px) { main { grid-template-columns: minmax(0, 1fr); } }
`;
