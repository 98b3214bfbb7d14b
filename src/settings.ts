/**
 * One settings table with defaults (STYLE.md habit 12). Units are in the
 * names. CLI flags and the HTTP API map onto these keys; nothing else
 * defines a tunable. Add new keys here with a doc comment.
 */
import { UsageError } from './errors.js';

export const DEFAULT_SETTINGS = {
  // --- network identity -------------------------------------------------
  /** Address to listen on and send from (TCP, UDP, tracker announces, DHT). */
  host: '0.0.0.0',
  /** Peer wire TCP port; the DHT uses the same UDP port. */
  port: 6881,
  /** Embedded tracker port when `--tracker` is given without a value. */
  trackerPort: 6969,
  /** HTTP API port when `--api` is given without a value. */
  apiPort: 8080,

  // --- peer wire ---------------------------------------------------------
  /** Bytes per block requested (BEP 3 convention: 16 KiB; some clients refuse more). */
  blockBytes: 16 * 1024,
  /** Largest block a remote may request from us; larger requests close the connection. */
  maxRequestBytes: 128 * 1024,
  /** Time allowed for the remote's handshake after we connect (incoming connections: incomingHandshakeTimeoutMs). */
  handshakeTimeoutMs: 10_000,
  /** Drop a connection when nothing arrives for this long (keep-alives count). */
  idleTimeoutMs: 180_000,
  /** Send a keep-alive when we have sent nothing for this long (BEP 3: under 2 minutes). */
  keepAliveIntervalMs: 60_000,
  /** A request unanswered for this long is re-issued elsewhere. */
  requestTimeoutMs: 30_000,
  /** Connection attempt timeout. */
  connectTimeoutMs: 8_000,
  /** Connected peers per torrent. */
  maxPeersPerTorrent: 60,
  /** Connected peers in the whole session. */
  maxPeersTotal: 500,
  /** Starting number of block requests in flight per peer; adapts to the link. */
  initialQueueDepth: 64,
  /** Upper bound of block requests in flight per peer. */
  maxQueueDepth: 512,
  /** Requests a remote may queue on us before we refuse more (advertised as `reqq`). */
  maxRemoteRequests: 2000,
  /**
   * Pieces received but not yet written, per torrent (memory while the disk
   * lags); past it no more is requested. At least 2 pieces. 16 MiB is 30 ms
   * of a 500 MiB/s download: a page-cache write keeps up, and more only held
   * memory (the leecher's anonymous RSS went over 100 MiB at 32 MiB).
   */
  maxUnwrittenBytes: 16 * 1024 * 1024,
  /** Whole pieces kept in memory per torrent to serve requests from (read ahead, LRU); at least 2 pieces. */
  uploadCacheBytes: 16 * 1024 * 1024,
  /**
   * Bytes queued for one peer's socket (blocks, answers, messages) past
   * which the peer is dropped: it does not read. Serving stops at 1 MiB and
   * writes at most 1 MiB more at once, so only a peer that does not read
   * while it makes us answer (rejects, chokes, ...) gets here.
   */
  maxUnsentBytesPerPeer: 4 * 1024 * 1024,
  /**
   * Bytes waiting in one peer's socket past which we stop serving it until
   * it drains (`congested`). The stream's own mark (16 KiB, one block) would
   * stall the upload after every block and leave the link idle between them.
   */
  sendBufferBytesPerPeer: 1024 * 1024,
  /**
   * Blocks waiting unsent in the sockets of all the peers a torrent serves
   * (each keeps its piece image in memory); past it a peer waits its turn,
   * except that a peer with nothing waiting may always get one block. 0 = no
   * bound. 2 MiB is twice one fast peer's buffer (loopback is not slowed),
   * and 0.8 s of a 20 Mbit link on top of what the kernel's socket buffers
   * hold: a seeder serving 99 LAN peers queued over 12 MiB without it.
   */
  sendBufferBytesTotal: 2 * 1024 * 1024,
  /**
   * Our requests one peer still owes a late answer for (cancelled, dropped by
   * a choke, timed out): its block or reject is then accepted and ignored.
   * Past this many the memory is cleared, and a block for a forgotten one
   * closes the connection as unrequested.
   */
  maxLateRequestsPerPeer: 8192,
  /** BEP 6 allowed-fast and suggested pieces kept per peer (libtorrent sends about 10; a hostile peer could send millions). */
  maxFastSetPiecesPerPeer: 64,
  /** A peer whose socket has taken nothing of what waits for it for this long is dropped (keep-alives and our buffers alike). */
  sendStallTimeoutMs: 60_000,
  /** Queued requests one peer may cancel per minute before it is dropped as a request/cancel flood (an endgame cancels at most a queue's worth). */
  maxRemoteCancelsPerMinute: 8_000,
  /** ut_metadata (BEP 9) pieces we send one peer per minute: at least this many, or twice the metadata's pieces; requests beyond are rejected, and a peer asking four times that is dropped. */
  metadataRepliesPerPeerPerMinute: 16,
  /** ut_metadata pieces sent to one peer that have not left for the kernel yet; further requests wait (each piece once) until they have. */
  metadataRepliesInFlight: 2,
  /** BEP 11 PEX messages taken from one peer per minute (the BEP allows one); more are ignored. */
  pexMessagesPerPeerPerMinute: 2,

  // --- connection slots ----------------------------------------------------
  /** Connections per torrent with one remote IP address (libtorrent allows one). */
  maxConnectionsPerAddress: 1,
  /** The same for loopback addresses (127.0.0.0/8, ::1), where tests and local tools run several peers on one address. */
  maxConnectionsPerLoopbackAddress: 4,
  /** Incoming connections of the whole session waiting for their handshake; past it the oldest is closed. */
  maxPendingHandshakes: 50,
  /** Incoming connections from one address waiting for their handshake; more from it are refused. */
  maxPendingHandshakesPerAddress: 8,
  /** Time an incoming connection has to send its 68-byte handshake. */
  incomingHandshakeTimeoutMs: 5_000,
  /**
   * A full torrent makes room for a newcomer by closing the least useful
   * peer: connected this long, no payload either way for this long, and not
   * waiting for our data (not interested, or unchoked and taking nothing).
   * Keep-alives do not count.
   */
  evictionGraceMs: 10_000,
  /** A peer with no interest either way and no payload for this long is closed, keep-alives notwithstanding (libtorrent's inactivity_timeout). */
  inactivityTimeoutMs: 600_000,

  /** Hash failures after which a peer that sent bad data is banned. */
  banAfterHashFailures: 2,

  // --- session: one torrent's swarm -----------------------------------------
  /** How often a torrent closes inactive peers, dials known ones, tops up requests and sends PEX. */
  torrentTickMs: 1_000,
  /** Peer addresses a torrent remembers (from trackers, the DHT, PEX, LSD, `--peer`); more are ignored. */
  maxKnownPeers: 2_000,
  /** A failed connection attempt is tried again after this, doubled per failure in a row up to connectRetryMaxMs. */
  connectRetryInitialMs: 1_000,
  connectRetryMaxMs: 60_000,
  /** Failed attempts in a row after which a learned peer is forgotten (peers given with `--peer` are kept). */
  maxConnectFailures: 5,
  /** A peer that disconnected is dialled again after this long. */
  reconnectAfterCloseMs: 30_000,
  /** The same for peers given with `--peer`. */
  pinnedReconnectAfterCloseMs: 5_000,
  /** Requests kept in flight with a peer cover this long at its download rate (within initialQueueDepth..maxQueueDepth). */
  requestQueueTimeMs: 500,
  /** Sequential download (`--sequential`): bytes of the first missing pieces taken in order; beyond, rarest first. */
  sequentialWindowBytes: 8 * 1024 * 1024,
  /** Streaming a file still downloading (`GET /download`): bytes past the reader's position asked for first. */
  streamReadAheadBytes: 4 * 1024 * 1024,
  /**
   * When a reader starts waiting for a piece, requests queued at a peer
   * beyond this many (for pieces nobody waits for) are cancelled and asked
   * again later, so the waited-for blocks are not stuck behind a full
   * pipeline (at 100 KB/s, 1 MiB of queue is 10 s of waiting).
   */
  expediteKeepRequests: 4,
  /** Work held back by a rate limit is tried again when its tokens are there, waiting at least and at most this long. */
  rateLimitRetryMinMs: 10,
  rateLimitRetryMaxMs: 1_000,
  /** Distinct pieces one peer's request queue reads ahead for uploading (fewer when uploadCacheBytes holds fewer). */
  uploadReadAheadPieces: 4,
  /** Piece reads for uploading under way at once, per torrent. */
  maxConcurrentPieceReads: 8,
  /** Most bytes of blocks written to one peer's socket in one go (the uploader stops when 1 MiB waits unsent). */
  maxUploadWriteBytes: 1024 * 1024,
  /** Seeds we left because we are a seed too, still named in PEX messages for droppedSeedPexMs; at most this many. */
  maxDroppedSeeds: 200,
  droppedSeedPexMs: 30 * 60_000,
  /** BEP 11: PEX messages sent to one peer at most this often. */
  pexIntervalMs: 60_000,
  /** swarm_msg texts taken from, and sent to, one peer per minute; more are dropped. */
  messagesPerPeerPerMinute: 20,
  /** On stop, pieces already received get this long to be hashed and written (and a daemon's metadata fetches to end). */
  stopDrainMs: 5_000,
  /** A daemon saves which torrents are paused this often when it changed. */
  daemonSaveIntervalMs: 2_000,
  /** Saved torrents a daemon reopens at once on start. */
  daemonRestoreConcurrency: 8,

  /** Global upload limit of a session in bytes/s; 0 = unlimited. Changeable at run time. */
  uploadLimitBytesPerS: 0,
  /** Global download limit of a session in bytes/s; 0 = unlimited. Changeable at run time. */
  downloadLimitBytesPerS: 0,

  // --- magnets and the watch folder ----------------------------------------
  /** Peers asked for the metadata (BEP 9) at once while resolving a magnet. */
  metadataFetchParallel: 8,
  /** Peers remembered while resolving a magnet. */
  metadataFetchMaxKnownPeers: 1000,
  /** A peer that has not delivered the metadata in this time is dropped. */
  metadataPeerTimeoutMs: 20_000,
  /**
   * A peer whose metadata attempt failed is tried again when it is announced
   * again, at most this often: on a LAN where every host got the magnet at
   * once, the first peers heard are other fetchers or a seeder not yet
   * serving, and a single try left hosts stuck for good.
   */
  metadataRetryAfterMs: 5_000,
  /** How often a magnet's info-hash is looked up on the DHT until its metadata is in. */
  magnetDhtLookupIntervalMs: 5000,
  /** How often the daemon's watch folder is rescanned (besides file-system events). */
  watchRescanIntervalMs: 2000,
  /** .torrent files the watch folder looks at, at most. */
  watchMaxFiles: 10_000,

  // --- choker (BEP 3 tit-for-tat) ----------------------------------------
  /** Regular unchoke slots. */
  unchokeSlots: 4,
  /** Choker rounds. */
  chokeIntervalMs: 10_000,
  /** Optimistic unchoke rotation. */
  optimisticUnchokeIntervalMs: 30_000,
  /**
   * Leeching, regular unchoke slots (of unchokeSlots) that go to the
   * interested peers furthest behind (fewest pieces) instead of the next
   * fastest uploaders to us, so a leecher that fell behind is not choked
   * everywhere for having little to trade (picker/choker.ts). 0: pure tit-for-tat.
   */
  laggardUnchokeSlots: 1,
  /**
   * Seeding, blocks' worth of pieces suggested (BEP 6) to each leecher we
   * unchoke, pieces no other peer was given or has (session/seed-spreading.ts):
   * the seed's upload goes out as distinct pieces, each once, before any goes
   * out twice. About a leecher's request queue (initialQueueDepth). 0: off.
   * Off by default: on the LAN bench (1 + 20 at 40 Mbit) every piece left
   * the seed after 16 s instead of 20 s, but the swarm did not finish
   * sooner (5 of 5 paired runs slower, its leechers being CPU-bound there).
   */
  seedSuggestBlocks: 0,
  /** At most this many pieces suggested to one leecher at a time (libtorrent keeps its 16 newest). */
  seedSuggestMaxPieces: 16,
  /** A suggested piece the leecher has not asked for within this long may be suggested to another. */
  seedSuggestAssignMs: 3_000,
  /**
   * `have` messages to peers we choke are gathered and sent at most this
   * often (0: each at once). A peer we choke cannot ask us for the piece
   * yet; each `have` sent alone was a packet of its own (and an ACK back):
   * on a LAN swarm of 20, about 1,500 a second per leecher, 2% of a
   * 40 Mbit uplink and much of the kernel's work. Every peer hears at once
   * when we complete.
   */
  haveBatchMs: 100,
  /**
   * The same for peers we unchoke (0: each at once). They may ask us for
   * the piece as soon as they hear of it, so the wait is short; it still
   * turns a packet per piece per peer into one per batch.
   */
  haveBatchUnchokedMs: 100,

  // --- storage -----------------------------------------------------------
  /**
   * Largest single write() of piece data. Measured on these VMs: 1 MiB
   * pwrites into new page-cache pages cost ~10x the CPU of 128 KiB ones
   * (the kernel's copy into large folios), about half the leecher's CPU.
   */
  writeChunkBytes: 128 * 1024,
  /** Open file handles kept per store (LRU). */
  maxOpenFiles: 64,
  /** Open data-file handles of a whole daemon (`peer start`): each new store gets this divided by the torrents it runs (at least 2, at most maxOpenFiles). */
  maxOpenFilesTotal: 1024,
  /**
   * How often a downloading torrent fsyncs its data and saves its resume
   * state (also at completion and on stop). Each save forces every write
   * since the last one to the disk, which competes with the download (every
   * 5 s cost a fast 4 GiB transfer a quarter of its speed here). Between saves
   * nothing is at risk: after a crash the files no longer match the saved
   * state, so they are verified again and every piece on disk is kept.
   */
  resumeFlushIntervalMs: 30_000,
  /**
   * A write that fails because the disk is full or unusable (ENOSPC,
   * EDQUOT, EROFS, EIO) pauses the download: nothing more is requested, the
   * pieces already received wait in memory, and the write is tried again
   * after this delay, doubled on each failure up to diskRetryMaxMs (or at
   * once on resume()).
   */
  diskRetryInitialMs: 2_000,
  diskRetryMaxMs: 60_000,

  // --- trackers ----------------------------------------------------------
  /** Peers asked of a tracker per announce. */
  numwant: 50,
  /** Announce interval our tracker hands out. */
  trackerIntervalS: 120,
  /** Largest `numwant` our tracker honours. */
  trackerMaxNumwant: 200,
  /** Info-hashes our tracker tracks at once; announces for new ones are refused beyond this. */
  trackerMaxTorrents: 10_000,
  /** Peers our tracker records per info-hash; more are answered but not recorded. */
  trackerMaxPeersPerTorrent: 5_000,
  /** Requests per second our tracker accepts from one address (token bucket refill). */
  trackerRateLimitPerS: 50,
  /** Requests one quiet address may send to our tracker at once (token bucket size). */
  trackerRateBurst: 200,
  /** `min interval` our tracker hands out (at most trackerIntervalS). */
  trackerMinIntervalS: 30,
  /** Swarms one address may be recorded in by our tracker; its announces for more are answered but not recorded. */
  trackerMaxTorrentsPerHost: 500,
  /** When our tracker is full, an address recorded in at most this many swarms counts as an ordinary peer in choosing a lonely swarm to evict. */
  trackerLightHostTorrents: 16,
  /** Oldest swarms our tracker looks at for one eviction, so the work per new swarm stays bounded. */
  trackerEvictionScanSwarms: 1_024,
  /** A swarm of more addresses than this is never evicted as lonely (and bounds the work of the check). */
  trackerLonelySwarmMaxHosts: 64,
  /** Rate-limit buckets our tracker keeps before pruning the idle ones (bounds memory under spoofed floods). */
  trackerMaxRateLimitedAddresses: 50_000,
  /** Our tracker's UDP receive buffer (SO_RCVBUF; Linux caps it at net.core.rmem_max): a burst of 1,000 connects at once must not overflow the default ~200 KiB. */
  trackerUdpRecvBufferBytes: 4 * 1024 * 1024,
  /** Our tracker's UDP connection ids remembered per secret, so an announce skips the HMAC (bounded: a spoofed flood computes instead of growing it). */
  trackerConnectionIdsRemembered: 50_000,
  /** Our tracker's UDP connection-id secret rotates this often; an id is valid for one to two rotations (BEP 15: clients reconnect after a minute). */
  trackerConnectionIdRotateMs: 60_000,
  /** Our tracker's HTTP side: idle keep-alive timeout, time to send the headers, time to send the whole request, and most headers taken. */
  trackerHttpKeepAliveTimeoutMs: 30_000,
  trackerHttpHeadersTimeoutMs: 10_000,
  trackerHttpRequestTimeoutMs: 10_000,
  trackerHttpMaxHeaders: 50,
  /** Bound on one announce or scrape we send to a tracker (HTTP or UDP). */
  trackerTimeoutMs: 15_000,
  /** Bound on the `stopped` announces sent on stop, so shutdown never hangs. */
  trackerStopTimeoutMs: 3_000,
  /** First retry after every tracker of a torrent failed; doubles per failure up to trackerDefaultIntervalS. */
  trackerRetryInitialMs: 5_000,
  /** Announce interval assumed before any tracker answered, and the longest interval obeyed. */
  trackerDefaultIntervalS: 1_800,
  /** `min interval` assumed when a tracker gives none (at most its interval). */
  trackerAssumedMinIntervalS: 30,
  /** Early re-announces (at `min interval`) while a download has fewer peers than numwant. */
  trackerEagerAnnounces: 4,
  /** A tracker reply larger than this is refused (200 peers in dict form are ~15 KiB). */
  trackerMaxReplyBytes: 1024 * 1024,
  /** BEP 15: a UDP tracker request unanswered is sent again after this x 2^n (n = 0..8). */
  trackerUdpRetransmitMs: 15_000,
  /** BEP 15: we use a UDP tracker's connection id for this long. */
  trackerUdpConnectionIdTtlMs: 60_000,
  /** UDP connection ids cached (per tracker and local address) past which the expired ones are pruned. */
  trackerMaxCachedConnectionIds: 1_000,

  // --- DHT ---------------------------------------------------------------
  /** Bucket size (BEP 5). */
  dhtK: 8,
  /**
   * Nodes each BEP 44 item is stored on by a put, a republish and a graceful
   * leave: the closest that many that answer. More than the bucket size k,
   * which still bounds a get's lookup: the extra copies sit just past the k
   * closest, so when the k nodes closest to an item all go (half of a LAN
   * shut down at once: bench:dht-durability step (b)), the nodes a get then
   * finds closest are among those that hold it.
   */
  dhtStoreReplicas: 16,
  /** Parallel queries in a lookup. */
  dhtAlpha: 3,
  /** Per-query timeout. */
  dhtQueryTimeoutMs: 2_000,
  /** Most queries one iterative lookup may send (bounds a lookup in a hostile or huge network). */
  dhtMaxLookupQueries: 200,
  /** A node quiet this long is questionable; a bucket untouched this long is refreshed (BEP 5: 15 min). */
  dhtQuestionableAfterMs: 15 * 60_000,
  /** How often the node pings questionable nodes, refreshes quiet buckets and sweeps its stores. */
  dhtMaintenanceIntervalMs: 60_000,
  /** The token secret rotates this often; tokens from the previous secret are still accepted (BEP 5). */
  dhtTokenRotateMs: 5 * 60_000,
  /** Announced peers are forgotten after this long unless announced again. */
  dhtPeerTtlMs: 30 * 60_000,
  /** Info-hashes and peers per info-hash kept for announce_peer (memory caps). */
  dhtMaxInfoHashes: 5_000,
  dhtMaxPeersPerInfoHash: 500,
  /** BEP 44 items expire after this long unless put again (BEP 44: about 2 hours). */
  dhtItemTtlMs: 2 * 60 * 60_000,
  /** BEP 44 items stored for others (a memory cap: new items are refused when full). */
  dhtMaxItems: 5_000,
  /** Bytes of BEP 44 items stored for others (values, keys, signatures; a memory and state-file cap beside dhtMaxItems). */
  dhtMaxItemBytes: 8 * 1024 * 1024,
  /** Stored items are saved in --state this long after a change (one write per burst of puts), and on stop. */
  dhtItemSaveDelayMs: 5_000,
  /** On stop (SIGTERM, Ctrl-C), a node hands the items it stores to the nodes now closest to them for at most this long. 0: no handoff. */
  dhtLeaveTimeoutMs: 5_000,
  /** Items handed on at once during a graceful leave (a lookup and puts each). */
  dhtLeaveConcurrency: 16,
  /**
   * BEP 44 puts accepted from one IP address per minute (libtorrent blocks
   * an address past 5 queries a second). Not lower: a value split into
   * chunks (up to 66 items for 64 KiB) and a graceful leave handing on a
   * node's items are bursts of puts from one honest address.
   */
  dhtMaxPutsPerAddressPerMinute: 300,
  /** A running publisher puts its items again this often, well before dhtItemTtlMs (BEP 44: hourly). */
  dhtRepublishIntervalMs: 60 * 60_000,
  /** Items a node keeps putting again (its list in --state, kv-published.bencode): a cap on memory and on the file. */
  kvMaxPublishedItems: 10_000,
  /** Bytes of those items (a 64 KiB KV value is about 70 items of 1 KB). */
  kvMaxPublishedBytes: 32 * 1024 * 1024,
  /** Chunks of a big KV value put or fetched at once. */
  kvChunkConcurrency: 8,
  /** Tries of the read-modify-write (with cas) that updates a namespace's key index on put and delete. */
  kvIndexRetries: 5,
  /** After a restart, published items no node took (no DHT found yet) are tried again after this long, then 2x, 4x... (5 tries). */
  kvRestartRetryMs: 15_000,
  /** A torrent's DHT source looks up and announces this often (BEP 5 peers expire after 30 min). */
  dhtAnnounceIntervalMs: 15 * 60_000,
  /**
   * Routing-table nodes per IP address (libtorrent: one), and nodes per IP
   * among a lookup's closest: a host that offers many node ids gets one
   * place, not the whole table. 0: no limit.
   */
  dhtMaxNodesPerAddress: 1,
  /**
   * The same for loopback addresses (127.0.0.0/8), where tests, benchmarks
   * and local tools run many nodes on one address. 0 (default): no limit.
   */
  dhtMaxNodesPerLoopbackAddress: 0,
  /**
   * Nodes of one public /24 per routing-table bucket and per lookup's
   * closest set (libtorrent: one). Private and link-local networks are
   * exempt: a LAN of real machines is often one /24. 0: no limit.
   */
  dhtMaxNodesPerSubnet: 1,
  /**
   * BEP 42: refuse nodes on public addresses whose id does not match their
   * IP (libtorrent's dht_enforce_node_id, off by default: many clients
   * predate BEP 42). Off, such nodes are kept but never displace matching ones.
   */
  dhtEnforceNodeId: false,
  /** Queries in a row that time out after which a node is bad (BEP 5: "fails to respond to multiple queries in a row"). */
  dhtBadAfterFailures: 3,
  /**
   * A lookup's query with no answer after dhtStallRttMultiplier smoothed
   * round-trip times (at least dhtStallFloorMs, at most dhtQueryTimeoutMs) is
   * stalled: the lookup asks the next node while the query runs on to its timeout.
   */
  dhtStallRttMultiplier: 3,
  dhtStallFloorMs: 250,
  /** Node addresses whose round-trip time is remembered; the least recently measured are forgotten first. */
  dhtRttMaxAddresses: 4_096,
  /** Sparse buckets a join fills with a lookup of a random id in each, after looking up our own id. */
  dhtJoinRefreshBuckets: 2,
  /** Questionable nodes pinged per maintenance round (BEP 5). */
  dhtPingsPerMaintenance: 8,
  /** Peers one get_peers answer of ours carries at most (`values`). */
  dhtMaxValuesPerReply: 50,
  /** Addresses whose puts are counted at once (dhtMaxPutsPerAddressPerMinute); a memory cap: past it, puts from new addresses are dropped until a minute is over. */
  dhtMaxPutRateAddresses: 10_000,
  /** A torrent's DHT source tries a round that found no peer or reached no node again after this, doubling up to dhtAnnounceIntervalMs. */
  dhtEmptyRoundRetryMs: 5_000,

  // --- progress ----------------------------------------------------------
  /** At most one progress event per torrent per this interval. */
  progressIntervalMs: 1_000,

  // --- local service discovery (BEP 14, src/discovery/lsd.ts) -------------
  /**
   * Multicast local service discovery. Off in the library (tests and
   * embedders stay quiet on the network); the CLI turns it on unless
   * `--no-lsd`. A loopback `--host` has no LAN and runs none.
   */
  lsdEnabled: false,
  /** Time between announces of one torrent (BEP 14: at most one a minute). */
  lsdAnnounceIntervalMs: 60_000,
  /**
   * Soonest our DHT-node rendezvous announce answers a sender not heard
   * recently, after our previous one (a short-lived `peer kv` finds the
   * LAN's DHT within seconds). Torrents are never answered early.
   */
  lsdDhtReplyMinIntervalMs: 2_000,
  /** LSD datagrams read per sender address per minute; the rest are dropped (a host flooding the group). */
  lsdMaxDatagramsPerSourcePerMinute: 200,
  /** How long `peer kv` without `--bootstrap` looks for a DHT node on the LAN (LSD, and the daemon on its own host). */
  lsdKvWaitMs: 3_000,
  /**
   * After the first LAN DHT node answers (usually the daemon of its own
   * host), `peer kv` keeps listening over LSD this long for more (until
   * dhtK answered), so that its lookups start from the LAN rather than from
   * one daemon's routing table (src/discovery/lsd-dht.ts). Within lsdKvWaitMs.
   */
  lsdKvMoreNodesMs: 1_000,

  // --- web seeds (BEP 19, src/session/web-seed.ts) ----------------------------
  /** A web seed request with no answer or no bytes for this long fails and is retried later (0: no timeout). */
  webSeedTimeoutMs: 20_000,
  /** HTTP redirects followed per web seed request (to the same scheme only). */
  webSeedMaxRedirects: 5,
  /** Wait after a web seed failed (HTTP error, refused, timed out), doubled per failure in a row, up to 16 times this. */
  webSeedRetryMs: 5_000,
  /** Bytes asked of a web seed in one run (one Range request per file it crosses); at least one block. */
  webSeedMaxRunBytes: 4 * 1024 * 1024,
  /** Runs in flight per web seed, each on its own HTTP connection (0: web seeds are not used). */
  webSeedRequestsInFlight: 2,

  // --- daemon queue and seed limits (peer start) ------------------------
  /** Torrents the daemon downloads at once; the others wait ('queued') in the order they came (0 = no limit). */
  maxActiveDownloads: 5,
  /** Complete torrents the daemon seeds at once; the others wait ('queued') in order (0 = no limit). */
  maxActiveSeeds: 0,
  /** A torrent stops seeding ('finished') once it uploaded this many times its size (0 = never); a torrent may override it. */
  seedRatioLimit: 0,
  /** A torrent stops seeding ('finished') after seeding this many seconds in all (0 = never); a torrent may override it. */
  seedTimeLimitS: 0,
  /** How often the daemon looks at its queue and seed limits (also at once on a completion or removal). */
  daemonQueueIntervalMs: 1_000,
  /**
   * The daemon starts a magnet link's metadata fetch over when no metadata
   * came in this long, so that peers heard of before they had the metadata
   * (a LAN where every host got the magnet at once) are tried again (0 = never).
   */
  daemonMagnetRestartMs: 30_000,
};

export type Settings = typeof DEFAULT_SETTINGS;

/** Keys for which 0 cannot work (a block of no bytes, a timer that fires at once forever, ...). */
const POSITIVE: ReadonlySet<string> = new Set([
  'blockBytes',
  'maxRequestBytes',
  'handshakeTimeoutMs',
  'idleTimeoutMs',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'initialQueueDepth',
  'maxQueueDepth',
  'sendBufferBytesPerPeer',
  'maxUnsentBytesPerPeer',
  'incomingHandshakeTimeoutMs',
]);

function checkSetting(key: string, value: unknown): void {
  const bad = (why: string): never => {
    throw new UsageError(`invalid setting ${key}: ${why}, got ${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
  };
  if (!Object.hasOwn(DEFAULT_SETTINGS, key)) throw new UsageError(`unknown setting ${key}`);
  const def: unknown = DEFAULT_SETTINGS[key as keyof Settings];
  if (typeof value !== typeof def) bad(`must be a ${typeof def}`);
  if (typeof value !== 'number') return;
  if (!Number.isFinite(value)) bad('must be a finite number');
  if (Number.isInteger(def) && !Number.isInteger(value)) bad('must be an integer');
  if (/port$/i.test(key) && value > 65535) bad('must be a port number (0-65535)');
  if (POSITIVE.has(key) || key.endsWith('IntervalMs')) {
    if (value <= 0) bad('must be greater than 0');
  } else if (value < 0) bad('must not be negative');
}

/**
 * The defaults with `overrides` applied (undefined values are skipped).
 * Throws a UsageError naming the key for an unknown key, a value of the
 * wrong type, a negative or fractional count, or settings that contradict
 * each other.
 */
export function resolveSettings(overrides: Partial<Settings> = {}): Settings {
  const out: Settings = { ...DEFAULT_SETTINGS };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) continue;
    checkSetting(k, v);
    (out as Record<string, unknown>)[k] = v;
  }
  if (out.initialQueueDepth > out.maxQueueDepth) {
    throw new UsageError(`invalid settings: initialQueueDepth (${out.initialQueueDepth}) is larger than maxQueueDepth (${out.maxQueueDepth})`);
  }
  // Serving stops at sendBufferBytesPerPeer; an honest peer must not reach the drop bound before that.
  if (out.sendBufferBytesPerPeer >= out.maxUnsentBytesPerPeer) {
    throw new UsageError(`invalid settings: sendBufferBytesPerPeer (${out.sendBufferBytesPerPeer}) must be less than maxUnsentBytesPerPeer (${out.maxUnsentBytesPerPeer})`);
  }
  return out;
}
