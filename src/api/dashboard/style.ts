/** The dashboard's styles (served at /assets/style.css). */
export const DASHBOARD_CSS = `
:root { --bg: #f5f6f8; --panel: #fff; --ink: #1d2330; --muted: #6b7280; --down: #2563eb; --up: #16a34a; --bad: #dc2626; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, sans-serif; background: var(--bg); color: var(--ink); }
header { display: flex; gap: 1.5em; align-items: baseline; padding: .8em 1.2em; background: #1d2330; color: #fff; }
header h1 { font-size: 1.2em; margin: 0; }
.summary { color: #cbd5e1; }
.status { margin-left: auto; color: #fca5a5; }
main { display: grid; grid-template-columns: 1fr 1fr; gap: 1em; padding: 1em; }
.panel { background: var(--panel); border-radius: 6px; padding: .8em 1em; box-shadow: 0 1px 2px rgba(0,0,0,.08); min-width: 0; }
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
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
`;
