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

DHT (BEP 5, BEP 44), with --dht:
  {"event":"dht-bootstrap"}                                 (libtorrent's DHT bootstrap finished)
  {"event":"dht-put","kind":"immutable","target":HEX,"nodes":N}
  {"event":"dht-put","kind":"mutable","target":HEX,"publicKey":HEX,"salt":S,"seq":N,"nodes":N}
  {"event":"dht-item","kind":"immutable","target":HEX,"value":S,"bencoded":HEX}
  {"event":"dht-item","kind":"mutable","target":HEX,"publicKey":HEX,"salt":S,"seq":N,
   "value":S,"bencoded":HEX,"authoritative":B}
Values given on the command line are UTF-8 strings stored as bencoded byte
strings (as `peer kv` stores them); "value" is the item decoded that way.
"nodes" is how many nodes took a put; a put that no node took, or a get that
found nothing, is tried again every --dht-retry seconds until --timeout.
"target" is the BEP 44 target: SHA-1 of the bencoded value (immutable), or
of the public key followed by the salt (mutable).

--dht-bootstrap HOST:PORT makes that node one of libtorrent's DHT routers
(dht_bootstrap_nodes): libtorrent asks it to start lookups but never keeps it
in its routing table. --dht-node HOST:PORT adds it as an ordinary node
(add_dht_node): it is pinged and, once it answers, kept in the table.
libtorrent's DHT runs on 127.x listen sockets; dht_restrict_routing_ips and
dht_restrict_search_ips (below) must be off for several nodes on 127.0.0.x
to share a bucket or a lookup. dht_ignore_dark_internet only drops a few
public class-A networks (3/8, 6/8, ...), not loopback or private ranges.

libtorrent shares its UDP-tracker connection ids between the sessions of one
process, so a test that wants several libtorrent machines runs this script
several times.
"""
import argparse
import hashlib
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


# --- ed25519 public keys (libtorrent's python bindings do not export ed25519_create_keypair) ---
# RFC 8032's reference arithmetic: enough to turn a 32-byte seed into the key
# pair libtorrent's dht_put_mutable_item takes (it signs the item itself).
_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P


def _ed_add(a, b):
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % _P
    bb = (y1 + x1) * (y2 + x2) % _P
    cc = 2 * t1 * t2 * _D % _P
    dd = 2 * z1 * z2 % _P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _ed_base():
    y = 4 * pow(5, -1, _P) % _P
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if x & 1:
        x = _P - x
    return (x, y, 1, x * y % _P)


def ed25519_keypair(seed):
    """(public key 32 bytes, secret key 64 bytes) in libtorrent's (orlp ed25519) format."""
    h = bytearray(hashlib.sha512(seed).digest())
    h[0] &= 248
    h[31] &= 63
    h[31] |= 64
    a = int.from_bytes(h[:32], "little")
    q, pt = (0, 1, 1, 0), _ed_base()
    while a:
        if a & 1:
            q = _ed_add(q, pt)
        pt = _ed_add(pt, pt)
        a >>= 1
    zi = pow(q[2], -1, _P)
    x, y = q[0] * zi % _P, q[1] * zi % _P
    return (y | ((x & 1) << 255)).to_bytes(32, "little"), bytes(h)


def as_bytes(v):
    return v.encode("utf-8") if isinstance(v, str) else bytes(v)


def item_fields(item):
    """The "value" (a bencoded byte string as UTF-8 text, else None) and "bencoded" (hex) of a DHT item alert's item."""
    # The bindings give {"key", "value", ...} with "value" the entry as a python object (bytes for a byte string);
    # an item that was not found has an empty value.
    v = item.get("value") if isinstance(item, dict) else None
    if v is None or v == b"" or v == {} or v == []:
        return None, None
    value = v.decode("utf-8", "replace") if isinstance(v, bytes) else None
    return value, lt.bencode(v).hex()


class DhtItems:
    """The BEP 44 puts and gets asked for on the command line, retried until they succeed."""

    def __init__(self, ses, args):
        self.ses = ses
        self.args = args
        self.retry = args.dht_retry
        self.keys = None
        if args.dht_put_mutable is not None:
            if not args.seed or len(args.seed) != 64:
                raise SystemExit("--dht-put-mutable needs --seed HEX32 (64 hex digits)")
            self.keys = ed25519_keypair(bytes.fromhex(args.seed))
        self.salt = (args.salt or "").encode("utf-8")
        self.get_pk = None
        if args.dht_get_mutable:
            if not args.public_key or len(args.public_key) != 64:
                raise SystemExit("--dht-get-mutable needs --public-key HEX (64 hex digits)")
            self.get_pk = bytes.fromhex(args.public_key)
        # name -> next time to (re)issue it; None once done
        self.pending = {}
        for name, wanted in (("put-immutable", args.dht_put_immutable is not None), ("get-immutable", args.dht_get_immutable is not None),
                             ("put-mutable", args.dht_put_mutable is not None), ("get-mutable", bool(args.dht_get_mutable))):
            if wanted:
                self.pending[name] = 0.0
        self.asked = bool(self.pending)
        # name -> when it was issued: a lookup that posts no alert is issued again after INFLIGHT_S
        self.inflight = {}
        self.start_at = time.time() + args.dht_delay

    INFLIGHT_S = 15.0

    def wanted(self):
        return self.asked

    def done(self):
        return not self.pending

    def tick(self, now):
        if now < self.start_at:
            return
        for name, at in list(self.pending.items()):
            if now < at or (name in self.inflight and now - self.inflight[name] < self.INFLIGHT_S):
                continue
            self.inflight[name] = now
            if name == "put-immutable":
                self.ses.dht_put_immutable_item(self.args.dht_put_immutable.encode("utf-8"))
            elif name == "get-immutable":
                self.ses.dht_get_immutable_item(lt.sha1_hash(bytes.fromhex(self.args.dht_get_immutable)))
            elif name == "put-mutable":
                pk, sk = self.keys
                self.ses.dht_put_mutable_item(sk, pk, self.args.dht_put_mutable.encode("utf-8"), self.salt)
            elif name == "get-mutable":
                self.ses.dht_get_mutable_item(self.get_pk, self.salt)

    def _finish(self, name, ok):
        self.inflight.pop(name, None)
        if name not in self.pending:
            return
        if ok:
            del self.pending[name]
        else:
            self.pending[name] = time.time() + self.retry

    def on_alert(self, a, kind):
        if kind == "dht_bootstrap_alert":
            emit(event="dht-bootstrap")
            self.start_at = min(self.start_at, time.time())
        elif kind == "dht_put_alert":
            pk = as_bytes(a.public_key)
            if any(pk):
                salt = as_bytes(a.salt)
                emit(event="dht-put", kind="mutable", target=hashlib.sha1(pk + salt).hexdigest(), publicKey=pk.hex(),
                     salt=salt.decode("utf-8", "replace"), seq=a.seq, nodes=a.num_success)
                self._finish("put-mutable", a.num_success > 0)
            else:
                emit(event="dht-put", kind="immutable", target=str(a.target), nodes=a.num_success)
                self._finish("put-immutable", a.num_success > 0)
        elif kind == "dht_immutable_item_alert":
            value, raw = item_fields(a.item)
            if raw is not None:
                emit(event="dht-item", kind="immutable", target=str(a.target), value=value, bencoded=raw)
            self._finish("get-immutable", raw is not None)
        elif kind == "dht_mutable_item_alert":
            value, raw = item_fields(a.item)
            pk, salt = as_bytes(a.key), as_bytes(a.salt)
            if raw is not None:
                emit(event="dht-item", kind="mutable", target=hashlib.sha1(pk + salt).hexdigest(), publicKey=pk.hex(),
                     salt=salt.decode("utf-8", "replace"), seq=a.seq, value=value, bencoded=raw, authoritative=bool(a.authoritative))
            # libtorrent may report a first, non-authoritative answer before the lookup ends.
            if raw is not None or a.authoritative:
                self._finish("get-mutable", raw is not None)


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
    p.add_argument("--dht-node", action="append", default=[], help="HOST:PORT: a DHT node to add to the routing table (add_dht_node; repeatable)")
    p.add_argument("--dht-put-immutable", metavar="VALUE", help="put VALUE (a UTF-8 string) as an immutable BEP 44 item")
    p.add_argument("--dht-get-immutable", metavar="TARGET_HEX", help="get the immutable BEP 44 item with this target")
    p.add_argument("--dht-put-mutable", metavar="VALUE", help="put VALUE as a mutable BEP 44 item signed with --seed, under --salt")
    p.add_argument("--dht-get-mutable", action="store_true", help="get the mutable BEP 44 item of --public-key and --salt")
    p.add_argument("--seed", metavar="HEX32", help="with --dht-put-mutable: the ed25519 seed (64 hex digits)")
    p.add_argument("--public-key", metavar="HEX", help="with --dht-get-mutable: the writer's ed25519 public key (64 hex digits)")
    p.add_argument("--salt", default="", help="BEP 44 salt of the mutable item (UTF-8)")
    p.add_argument("--dht-retry", type=float, default=2.0, help="seconds before a put no node took, or a get that found nothing, is tried again")
    p.add_argument("--dht-delay", type=float, default=3.0, help="seconds to wait for the DHT bootstrap before the first put/get")
    p.add_argument("--exit-on-dht-done", action="store_true", help="exit 0 once every put was taken and every get found its item")
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
    for node in args.dht_node:
        h, pt = host_port(node)
        ses.add_dht_node((h, pt))
    emit(event="listening", port=ses.listen_port())
    items = DhtItems(ses, args)

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
        items.tick(now)
        for a in ses.pop_alerts():
            kind = type(a).__name__
            if kind.startswith("dht_"):
                items.on_alert(a, kind)
            if kind == "peer_log_alert":
                msg = a.message()
                if any(w in msg for w in FAST_WORDS):
                    emit(event="peer-log", message=msg)
            elif kind in ("tracker_reply_alert", "tracker_error_alert", "tracker_warning_alert"):
                emit(event="tracker", kind=kind, message=a.message())
            elif kind in ("torrent_error_alert", "file_error_alert", "listen_failed_alert", "metadata_failed_alert"):
                emit(event="error", kind=kind, message=a.message())
        if items.wanted() and items.done() and args.exit_on_dht_done and handle is None:
            return 0
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
