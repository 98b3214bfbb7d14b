/**
 * Prometheus metrics (text exposition format 0.0.4). Counters are kept from
 * the torrents' typed events and their byte totals; totals of removed
 * torrents are carried over so every counter only ever grows while the
 * daemon runs (a Prometheus counter may reset only with the process).
 */
import type { Torrent } from '../session/torrent.js';
import type { SessionLike } from './session-like.js';
import { sessionTotals } from './session-totals.js';

interface Counters {
  hashFailures: number;
  piecesVerified: number;
  peerConnections: number;
  peersBanned: number;
  trackerAnnounces: number;
}

/** One sample: a metric name, its labels and its value. */
interface Sample {
  labels?: Record<string, string>;
  value: number;
}

interface Family {
  name: string;
  help: string;
  type: 'counter' | 'gauge';
  samples: Sample[];
}

export class MetricsCollector {
  readonly #session: SessionLike;
  readonly #counters: Counters = { hashFailures: 0, piecesVerified: 0, peerConnections: 0, peersBanned: 0, trackerAnnounces: 0 };
  /** Byte totals of torrents no longer in the session. */
  #retired = { downloaded: 0, uploaded: 0 };
  readonly #watched = new Map<string, { torrent: Torrent; detach: () => void }>();
  readonly #onAdded = (t: Torrent): void => this.#watch(t);
  readonly #onRemoved = (hex: string): void => this.#unwatch(hex);
  #attached = false;

  constructor(session: SessionLike) {
    this.#session = session;
  }

  /** Idempotent: starts counting events of the session's torrents, present and future. */
  attach(): void {
    if (this.#attached) return;
    this.#attached = true;
    this.#session.on('torrent:added', this.#onAdded);
    this.#session.on('torrent:removed', this.#onRemoved);
    for (const t of this.#session.torrents) this.#watch(t);
  }

  /** Idempotent. */
  detach(): void {
    if (!this.#attached) return;
    this.#attached = false;
    this.#session.off('torrent:added', this.#onAdded);
    this.#session.off('torrent:removed', this.#onRemoved);
    for (const w of this.#watched.values()) w.detach();
    this.#watched.clear();
  }

  #watch(t: Torrent): void {
    if (this.#watched.has(t.infoHashHex)) return;
    const c = this.#counters;
    const onFailed = (): void => void c.hashFailures++;
    const onVerified = (): void => void c.piecesVerified++;
    const onConnected = (): void => void c.peerConnections++;
    const onBanned = (): void => void c.peersBanned++;
    const onAnnounced = (): void => void c.trackerAnnounces++;
    t.on('piece:failed', onFailed);
    t.on('piece:verified', onVerified);
    t.on('peer:connected', onConnected);
    t.on('peer:banned', onBanned);
    // Not in TorrentEvents yet: counted as soon as the torrent emits it (STYLE.md names it).
    const untyped = t as unknown as { on(name: string, l: () => void): void; off(name: string, l: () => void): void };
    untyped.on('tracker:announced', onAnnounced);
    const detach = (): void => {
      t.off('piece:failed', onFailed);
      t.off('piece:verified', onVerified);
      t.off('peer:connected', onConnected);
      t.off('peer:banned', onBanned);
      untyped.off('tracker:announced', onAnnounced);
    };
    this.#watched.set(t.infoHashHex, { torrent: t, detach });
  }

  #unwatch(hex: string): void {
    const w = this.#watched.get(hex);
    if (!w) return;
    // The torrent is stopped by now; its totals stay in the counters.
    const s = w.torrent.stats();
    this.#retired.downloaded += s.downloaded;
    this.#retired.uploaded += s.uploaded;
    w.detach();
    this.#watched.delete(hex);
  }

  /** The families as they stand now. */
  families(): Family[] {
    const { byState, peers, downloadRate: downRate, uploadRate: upRate, have: piecesHave, pieces: piecesTotal, ...now } = sessionTotals(this.#session.torrents);
    const downloaded = this.#retired.downloaded + now.downloaded;
    const uploaded = this.#retired.uploaded + now.uploaded;
    // Torrents that are running but not yet watched (attach() not called) still count their bytes above.
    const c = this.#counters;
    const out: Family[] = [
      { name: 'swarm_torrents', help: 'Torrents in the session, by state.', type: 'gauge', samples: Object.entries(byState).map(([state, value]) => ({ labels: { state }, value })) },
      { name: 'swarm_peers', help: 'Connected peers (handshake done), over all torrents.', type: 'gauge', samples: [{ value: peers }] },
      { name: 'swarm_downloaded_bytes_total', help: 'Payload bytes received and accepted since the daemon started.', type: 'counter', samples: [{ value: downloaded }] },
      { name: 'swarm_uploaded_bytes_total', help: 'Payload bytes sent since the daemon started.', type: 'counter', samples: [{ value: uploaded }] },
      { name: 'swarm_download_rate_bytes', help: 'Current download rate in bytes per second.', type: 'gauge', samples: [{ value: downRate }] },
      { name: 'swarm_upload_rate_bytes', help: 'Current upload rate in bytes per second.', type: 'gauge', samples: [{ value: upRate }] },
      { name: 'swarm_pieces', help: 'Pieces over all torrents: held, and in total.', type: 'gauge', samples: [{ labels: { kind: 'have' }, value: piecesHave }, { labels: { kind: 'total' }, value: piecesTotal }] },
      { name: 'swarm_pieces_verified_total', help: 'Pieces whose SHA-1 matched since the daemon started.', type: 'counter', samples: [{ value: c.piecesVerified }] },
      { name: 'swarm_hash_failures_total', help: 'Pieces whose SHA-1 did not match (bad data from a peer).', type: 'counter', samples: [{ value: c.hashFailures }] },
      { name: 'swarm_peer_connections_total', help: 'Peer connections that completed the handshake.', type: 'counter', samples: [{ value: c.peerConnections }] },
      { name: 'swarm_peers_banned_total', help: 'Peers banned for sending bad data.', type: 'counter', samples: [{ value: c.peersBanned }] },
      { name: 'swarm_tracker_announces_total', help: 'Announces to trackers that were answered.', type: 'counter', samples: [{ value: c.trackerAnnounces }] },
      {
        name: 'swarm_rate_limit_bytes',
        help: 'Global rate limits in bytes per second (0 = unlimited).',
        type: 'gauge',
        samples: [{ labels: { direction: 'upload' }, value: this.#session.limits.upload.rate }, { labels: { direction: 'download' }, value: this.#session.limits.download.rate }],
      },
    ];
    const dht = this.#session.dht?.stats() as { nodes?: unknown; goodNodes?: unknown; itemsStored?: unknown } | undefined;
    out.push({ name: 'swarm_dht_nodes', help: 'Nodes in the DHT routing table (0 without a DHT node).', type: 'gauge', samples: [{ value: numberOr0(dht?.nodes) }] });
    if (dht) {
      out.push({ name: 'swarm_dht_good_nodes', help: 'Good nodes in the DHT routing table (BEP 5).', type: 'gauge', samples: [{ value: numberOr0(dht.goodNodes) }] });
      out.push({ name: 'swarm_dht_items_stored', help: 'BEP 44 items this node stores for others.', type: 'gauge', samples: [{ value: numberOr0(dht.itemsStored) }] });
    }
    const tracker = this.#session.tracker;
    if (tracker) {
      const s = tracker.registry.stats();
      out.push({
        name: 'swarm_tracker_server_swarms',
        help: 'The embedded tracker: info-hashes and peers it tracks.',
        type: 'gauge',
        samples: [{ labels: { kind: 'torrents' }, value: s.torrents }, { labels: { kind: 'peers' }, value: s.peers }, { labels: { kind: 'seeds' }, value: s.seeds }],
      });
    }
    out.push({ name: 'swarm_messages_received', help: 'Peer messages held in the session.', type: 'gauge', samples: [{ value: this.#session.messages?.length ?? 0 }] });
    const mem = process.memoryUsage();
    const cpu = process.cpuUsage();
    out.push({ name: 'process_resident_memory_bytes', help: 'Resident memory size in bytes.', type: 'gauge', samples: [{ value: mem.rss }] });
    out.push({ name: 'process_cpu_seconds_total', help: 'User and system CPU time in seconds.', type: 'counter', samples: [{ value: (cpu.user + cpu.system) / 1e6 }] });
    return out;
  }

  /** The exposition text. */
  render(): string {
    return renderPrometheus(this.families());
  }
}

function numberOr0(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/** Label values escape backslash, double quote and newline (exposition format). */
function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export function renderPrometheus(families: readonly Family[]): string {
  const lines: string[] = [];
  for (const f of families) {
    lines.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`);
    lines.push(`# TYPE ${f.name} ${f.type}`);
    for (const s of f.samples) {
      const labels = s.labels ? `{${Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')}}` : '';
      lines.push(`${f.name}${labels} ${Number.isFinite(s.value) ? String(s.value) : 'NaN'}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
