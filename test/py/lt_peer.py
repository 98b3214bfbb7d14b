#!/usr/bin/python3
"""A libtorrent "machine" for the interop tests: one session in its own process.

Driven by test/helpers/libtorrent.ts. Prints one JSON object per line on
stdout (events), diagnostics on stderr. Every run is bounded by --timeout.

Events:
  {"event":"listening","port":N}
  {"event":"made","output":F,"infoHash":H}                  (--make)
  {"event":"added","infoHash":H}
  {"event":"metadata","infoHash":H}                         (magnet resolved)
  {"event":"progress","progress":0..1,"state":S,"peers":N,"downloaded":B,"uploaded":B}
  {"event":"complete","elapsedMs":N}
  {"event":"peers","peers":[{"ip","port","client","seed"}]} (with --peers-report)
  {"event":"peer-log","message":M}                          (with --peer-log; fast-extension messages only)
  {"event":"tracker","message":M}                           (announce replies and errors)
  {"event":"error","message":M}
  {"event":"timeout"}

libtorrent shares its UDP-tracker connection ids between the sessions of one
process, so a test that wants several libtorrent machines runs this script
several times.
"""
import argparse
import json
import os
import signal
import sys
import time

import libtorrent as lt


def emit(**kv):
    sys.stdout.write(json.dumps(kv) + "\n")
    sys.stdout.flush()


def host_port(text):
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def make_torrent(args):
    fs = lt.file_storage()
    lt.add_files(fs, args.make)
    flags = lt.create_torrent.v1_only if args.v1_only else 0
    ct = lt.create_torrent(fs, args.piece_size, flags)
    for url in args.tracker_url or []:
        ct.add_tracker(url)
    lt.set_piece_hashes(ct, os.path.dirname(os.path.abspath(args.make)))
    data = lt.bencode(ct.generate())
    with open(args.out, "wb") as f:
        f.write(data)
    ti = lt.torrent_info(args.out)
    emit(event="made", output=args.out, infoHash=str(ti.info_hashes().v1))


FAST_WORDS = ("HAVE_ALL", "HAVE_NONE", "REJECT", "ALLOWED_FAST", "SUGGEST", "FAST")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--make", help="make a torrent of this file or folder, then exit")
    p.add_argument("--out", help="with --make: the .torrent to write")
    p.add_argument("--v1-only", action="store_true", help="with --make: a plain v1 torrent (default: hybrid v1+v2)")
    p.add_argument("--piece-size", type=int, default=0)
    p.add_argument("--tracker-url", action="append")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (and send from)")
    p.add_argument("--torrent")
    p.add_argument("--magnet")
    p.add_argument("--save", default=".")
    p.add_argument("--peer", action="append", default=[], help="HOST:PORT to dial (repeatable)")
    p.add_argument("--dht", action="store_true")
    p.add_argument("--dht-bootstrap", action="append", default=[])
    p.add_argument("--lsd", action="store_true")
    p.add_argument("--exit-on-complete", action="store_true")
    p.add_argument("--peer-log", action="store_true", help="report fast-extension messages seen in the peer log")
    p.add_argument("--peers-report", action="store_true", help="report the connected peers once a second")
    p.add_argument("--upload-limit", type=int, default=0, help="bytes per second, 0 = unlimited")
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()

    if args.make:
        make_torrent(args)
        return 0

    host, port = host_port(args.listen)
    iface = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    mask = lt.alert.category_t.error_notification | lt.alert.category_t.status_notification | lt.alert.category_t.tracker_notification | lt.alert.category_t.dht_notification | lt.alert.category_t.storage_notification
    if args.peer_log:
        mask |= lt.alert.category_t.peer_log_notification
    settings = {
        "listen_interfaces": iface,
        "outgoing_interfaces": host if host not in ("0.0.0.0", "::") else "",
        "enable_dht": bool(args.dht),
        "dht_bootstrap_nodes": ",".join(args.dht_bootstrap),
        "enable_lsd": bool(args.lsd),
        "enable_upnp": False,
        "enable_natpmp": False,
        "enable_outgoing_utp": False,
        "enable_incoming_utp": False,
        "allow_multiple_connections_per_ip": True,
        "alert_mask": mask,
        "announce_to_all_trackers": True,
        "announce_to_all_tiers": True,
        "upload_rate_limit": args.upload_limit,
        # The tests run on loopback and private LANs: nothing may be filtered as "local".
        "dht_restrict_routing_ips": False,
        "dht_restrict_search_ips": False,
        "dht_prefer_verified_node_ids": False,
        "dht_enforce_node_id": False,
        "peer_connect_timeout": 5,
        "min_reconnect_time": 1,
    }
    ses = lt.session(settings)
    for node in args.dht_bootstrap:
        h, pt = host_port(node)
        ses.add_dht_node((h, pt))
    emit(event="listening", port=ses.listen_port())

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.__setitem__("now", True))
    signal.signal(signal.SIGINT, lambda *_: stop.__setitem__("now", True))

    handle = None
    if args.torrent or args.magnet:
        if args.torrent:
            atp = lt.add_torrent_params()
            atp.ti = lt.torrent_info(args.torrent)
        else:
            atp = lt.parse_magnet_uri(args.magnet)
        atp.save_path = args.save
        handle = ses.add_torrent(atp)
        emit(event="added", infoHash=str(handle.info_hashes().v1))
        for peer in args.peer:
            handle.connect_peer(host_port(peer))

    started = time.time()
    deadline = started + args.timeout
    last_report = 0.0
    had_metadata = bool(args.torrent)
    completed = False
    while not stop["now"]:
        now = time.time()
        if now > deadline:
            emit(event="timeout")
            return 3
        for a in ses.pop_alerts():
            kind = type(a).__name__
            if kind == "peer_log_alert":
                msg = a.message()
                if any(w in msg for w in FAST_WORDS):
                    emit(event="peer-log", message=msg)
            elif kind in ("tracker_reply_alert", "tracker_error_alert", "tracker_warning_alert"):
                emit(event="tracker", kind=kind, message=a.message())
            elif kind in ("torrent_error_alert", "file_error_alert", "listen_failed_alert", "metadata_failed_alert"):
                emit(event="error", kind=kind, message=a.message())
        if handle is not None:
            st = handle.status()
            if not had_metadata and st.has_metadata:
                had_metadata = True
                emit(event="metadata", infoHash=str(handle.info_hashes().v1))
            if now - last_report >= 1.0:
                last_report = now
                emit(event="progress", progress=st.progress, state=str(st.state), peers=st.num_peers,
                     downloaded=st.total_payload_download, uploaded=st.total_payload_upload)
                if args.peers_report:
                    emit(event="peers", peers=[{"ip": pi.ip[0], "port": pi.ip[1], "client": pi.client.decode("utf-8", "replace") if isinstance(pi.client, bytes) else pi.client,
                                                "seed": bool(pi.flags & lt.peer_info.seed)} for pi in handle.get_peer_info()])
            if not completed and had_metadata and st.is_seeding and st.state in (lt.torrent_status.seeding, lt.torrent_status.finished):
                completed = True
                emit(event="complete", elapsedMs=int((now - started) * 1000), downloaded=st.total_payload_download)
                if args.exit_on_complete:
                    return 0
        time.sleep(0.05)
    return 0


if __name__ == "__main__":
    sys.exit(main())
