#!/usr/bin/env bash
# A LAN on one machine: N hosts, each a network namespace with its own IPv4
# and IPv6 address, all on one Linux bridge. Needs root (CAP_NET_ADMIN) and iproute2.
#
#   lan.sh up N [RATE] [--prefix P] [--net A.B] [--net6 X] [--no-ipv6]  make hosts P1..PN
#   lan.sh down [--prefix P]                      remove everything of P (idempotent)
#   lan.sh exec I CMD...                          run CMD inside host I
#   lan.sh addr I                                 host I's address, e.g. 10.77.0.3
#   lan.sh addr6 I                                host I's IPv6 address, e.g. fd77::3
#   lan.sh ns I                                   host I's namespace name (P<I>)
#   lan.sh ifname I                               host I's veth end on the bridge side
#                                                 (its tx bytes = the host's download)
#   lan.sh list                                   "I namespace address ifname" per host
#   lan.sh check                                  can a LAN be made here? (exit 0, or 1 with the reason)
#
# Options (anywhere before an exec's command): --prefix P (default "lan",
# or $LAN_PREFIX), --net A.B (default 10.77, or $LAN_NET), --net6 X (the
# IPv6 /64 X::/64, default fd77, or $LAN_NET6: a unique local prefix of 1-4
# colon-separated hex groups), --no-ipv6 (up: IPv4 addresses only).
#
# What `up` makes, for prefix P and hosts I = 1..N:
# - a bridge "Pbr" (multicast snooping off, so BEP 14 multicast reaches every
#   host; no STP, no forwarding delay), in the machine's own namespace but with
#   no address there: the machine itself is not on the LAN;
# - a namespace "P<I>" with `lo` up and "eth0", the far end of a veth pair
#   whose near end "Pv<I>" is a port of the bridge;
# - the address A.B.(I>>8).(I&255)/16 on eth0 (default net 10.77.0.0/16), and a
#   multicast route 224.0.0.0/4 via eth0; and the IPv6 address X::<I in hex>/64
#   (default fd77::1, fd77::2, ... fd77::a ...), added `nodad` so that it is
#   usable at once (no duplicate address detection delay: the LAN's addresses
#   are unique by construction). The addresses exist only inside the
#   namespaces, so they cannot clash with the machine's networks; `up` still
#   refuses a net the machine itself routes;
# - with RATE (tc syntax: 100mbit, 40mbit, 1gbit, 500kbit), a tbf qdisc on both
#   ends of every veth: on eth0 it shapes the host's upload, on Pv<I> its
#   download. netem (delay, loss) is not available on every kernel; tbf is.
#
# P is 1-9 characters [a-zA-Z0-9_-] not ending in a digit (interface names stay
# within 15 characters, and P's hosts are exactly the namespaces "P" + digits).
# `up` refuses a prefix that is already up; on any failure it removes what it
# made. `down` finds everything by name, so it also cleans up after an `up`
# that was killed half-way.
set -Eeuo pipefail

PREFIX="${LAN_PREFIX:-lan}"
NET="${LAN_NET:-10.77}"
NET6="${LAN_NET6:-fd77}"
IPV6=1

die() {
  echo "lan.sh: $*" >&2
  exit 1
}
usage() {
  sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit "${1:-2}"
}

check_prefix() {
  [[ "$PREFIX" =~ ^[a-zA-Z0-9_-]{0,8}[a-zA-Z_-]$ ]] ||
    die "bad prefix '$PREFIX': 1-9 characters [a-zA-Z0-9_-], not ending in a digit"
}
check_net() {
  [[ "$NET" =~ ^([0-9]{1,3})\.([0-9]{1,3})$ ]] && ((BASH_REMATCH[1] <= 255 && BASH_REMATCH[2] <= 255)) ||
    die "bad net '$NET': expected A.B (the /16 A.B.0.0/16)"
}
check_net6() {
  [[ "$NET6" =~ ^[0-9a-fA-F]{1,4}(:[0-9a-fA-F]{1,4}){0,3}$ ]] ||
    die "bad net6 '$NET6': expected 1-4 hex groups, e.g. fd77 or fd77:1 (the /64 X::/64)"
}
check_index() {
  [[ "$1" =~ ^[1-9][0-9]*$ ]] && (($1 <= 65534)) || die "bad host number '$1': expected 1..65534"
}

addr_of() { echo "$NET.$(($1 >> 8)).$(($1 & 255))"; }
addr6_of() { printf '%s::%x\n' "${NET6,,}" "$1"; }
ns_of() { echo "$PREFIX$1"; }
if_of() { echo "${PREFIX}v$1"; }
bridge_of() { echo "${PREFIX}br"; }

# Namespaces of PREFIX, one per line ("P" + digits), in host order.
our_namespaces() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${PREFIX}[0-9]+\$" | sort -V || true
}
# Links of PREFIX in this namespace: the bridge and the near veth ends.
our_links() {
  ip -o link show 2>/dev/null | awk -F': ' '{print $2}' | sed 's/@.*//' | grep -E "^${PREFIX}(br|v[0-9]+)\$" || true
}

# The burst tbf needs: at least one timer tick's worth at RATE (10 ms here), and 32 KB.
burst_for() {
  local rate="$1" n unit bps
  [[ "$rate" =~ ^([0-9]+(\.[0-9]+)?)([a-zA-Z]*)$ ]] || die "bad rate '$rate': expected e.g. 100mbit"
  n="${BASH_REMATCH[1]}"
  unit="${BASH_REMATCH[3],,}"
  case "$unit" in
    bit | "") bps=$(awk -v n="$n" 'BEGIN{print n/8}') ;;
    kbit) bps=$(awk -v n="$n" 'BEGIN{print n*1000/8}') ;;
    mbit) bps=$(awk -v n="$n" 'BEGIN{print n*1000000/8}') ;;
    gbit) bps=$(awk -v n="$n" 'BEGIN{print n*1000000000/8}') ;;
    bps) bps="$n" ;;
    kbps) bps=$(awk -v n="$n" 'BEGIN{print n*1000}') ;;
    mbps) bps=$(awk -v n="$n" 'BEGIN{print n*1000000}') ;;
    *) die "bad rate '$rate': units are bit, kbit, mbit, gbit (or bps, kbps, mbps: bytes)" ;;
  esac
  awk -v b="$bps" 'BEGIN{x=int(b/100); if (x < 32768) x = 32768; print x}'
}

cmd_down() {
  check_prefix
  local ns l
  # Deleting a namespace destroys its eth0, and with it the veth's near end.
  for ns in $(our_namespaces); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns delete "$ns" 2>/dev/null || true
  done
  for l in $(our_links); do
    ip link delete "$l" 2>/dev/null || true
  done
  local left
  left="$(our_namespaces)$(our_links)"
  [[ -z "$left" ]] || die "could not remove: $(echo $left)"
}

# The kernel's neighbour tables (ARP, NDP) are one per machine, shared by every namespace: gc_thresh3
# (default 1024) caps the entries of all hosts of all LANs together. A 100-host LAN whose hosts resolve
# their peers passes it, and then a send to a peer not yet resolved fails (ENOBUFS, "neighbor table
# overflow" in dmesg): hosts silently stop reaching each other (a DHT of isolated daemons). Raised here,
# never lowered.
raise_neigh_limits() {
  local fam k cur want
  for fam in ipv4 ipv6; do
    for k in 1:8192 2:32768 3:65536; do
      cur="$(sysctl -n "net.$fam.neigh.default.gc_thresh${k%%:*}" 2>/dev/null || echo 0)"
      want="${k#*:}"
      if ((cur < want)); then sysctl -qw "net.$fam.neigh.default.gc_thresh${k%%:*}=$want" 2>/dev/null || true; fi
    done
  done
}

cmd_up() {
  local n="" rate=""
  while (($#)); do
    case "$1" in
      -*) die "unknown option $1" ;;
      *)
        if [[ -z "$n" ]]; then n="$1"; elif [[ -z "$rate" ]]; then rate="$1"; else die "too many arguments"; fi
        shift
        ;;
    esac
  done
  [[ -n "$n" ]] || die "usage: lan.sh up N [RATE] [--prefix P] [--net A.B] [--net6 X] [--no-ipv6]"
  check_prefix
  check_net
  check_net6
  check_index "$n"
  [[ "$(id -u)" == 0 ]] || die "needs root (network namespaces)"
  command -v ip >/dev/null || die "needs iproute2 (ip)"
  local burst=""
  if [[ -n "$rate" && "$rate" != 0 ]]; then
    command -v tc >/dev/null || die "needs tc (iproute2) for RATE"
    burst="$(burst_for "$rate")"
  fi
  [[ -z "$(our_namespaces)$(our_links)" ]] || die "prefix '$PREFIX' is already up (lan.sh down --prefix $PREFIX first)"
  # The hosts' /16 exists only inside the namespaces; refuse one the machine itself uses.
  if ip -4 -o addr show | awk '{print $4}' | grep -qE "^${NET//./\\.}\."; then
    die "net $NET.0.0/16 is in use on this machine: pick another with --net"
  fi
  if ip -4 route show | grep -qE "^${NET//./\\.}\."; then
    die "net $NET.0.0/16 is routed on this machine: pick another with --net"
  fi

  if ((IPV6)) && ip -6 route show 2>/dev/null | grep -qiE "^${NET6}::/"; then
    die "net6 $NET6::/64 is routed on this machine: pick another with --net6 (or --no-ipv6)"
  fi

  trap 'echo "lan.sh: up failed; removing what it made" >&2; trap - ERR INT TERM; cmd_down || true; exit 1' ERR INT TERM

  raise_neigh_limits
  local br i ns vif
  br="$(bridge_of)"
  ip link add "$br" type bridge mcast_snooping 0 stp_state 0 forward_delay 0
  # The bridge carries no address of the machine: no IPv6 link-local chatter from it either.
  sysctl -qw "net.ipv6.conf.$br.disable_ipv6=1" 2>/dev/null || true
  ip link set "$br" up
  for ((i = 1; i <= n; i++)); do
    ns="$(ns_of "$i")"
    vif="$(if_of "$i")"
    ip netns add "$ns"
    ip link add "$vif" type veth peer name eth0 netns "$ns"
    sysctl -qw "net.ipv6.conf.$vif.disable_ipv6=1" 2>/dev/null || true
    ip link set "$vif" master "$br" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$(addr_of "$i")/16" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add 224.0.0.0/4 dev eth0
    if ((IPV6)); then
      # IPv6 on in the namespace (whatever the machine's defaults), no DAD: usable at once.
      ip netns exec "$ns" sysctl -qw net.ipv6.conf.eth0.disable_ipv6=0 net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.lo.disable_ipv6=0 2>/dev/null || true
      ip -n "$ns" -6 addr add "$(addr6_of "$i")/64" dev eth0 nodad
    fi
    if [[ -n "$burst" ]]; then
      tc qdisc add dev "$vif" root tbf rate "$rate" burst "$burst" latency 100ms
      ip netns exec "$ns" tc qdisc add dev eth0 root tbf rate "$rate" burst "$burst" latency 100ms
    fi
  done
  trap - ERR INT TERM
  local v6=""
  ((IPV6)) && v6=" and $(addr6_of 1)..$(addr6_of "$n") on ${NET6,,}::/64"
  echo "lan.sh: $n hosts ${PREFIX}1..${PREFIX}$n at $(addr_of 1)..$(addr_of "$n") on $NET.0.0/16$v6, bridge $br${rate:+, $rate each way}" >&2
}

# Whether namespaces, veths, a bridge and tbf can be made here: exit 0, or 1 with the reason.
cmd_check() {
  [[ "$(id -u)" == 0 ]] || die "not root (uid $(id -u)): network namespaces need root"
  command -v ip >/dev/null || die "iproute2 (ip) is not installed"
  command -v tc >/dev/null || die "tc (iproute2) is not installed"
  # A random trial prefix (k + 7 random hex digits + x): two checks at once never share a trial LAN.
  # (It came from the pid's first digits, and test files checking together collided.)
  PREFIX="k$(printf '%04x%03x' "$RANDOM" "$((RANDOM % 4096))")x"
  local out
  if ! out=$(bash "$0" up 1 10mbit --prefix "$PREFIX" 2>&1); then
    cmd_down >/dev/null 2>&1 || true
    die "cannot make a namespace LAN here: $(echo "$out" | grep -v 'removing what it made' | head -3 | tr '\n' ' ')"
  fi
  cmd_down
  echo "lan.sh: network namespaces, veth, bridge and tbf work here" >&2
}

# Options before the command, or (except for exec's command) after it.
while (($#)); do
  case "$1" in
    --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
    --net) NET="${2:?--net needs a value}"; shift 2 ;;
    --net6) NET6="${2:?--net6 needs a value}"; shift 2 ;;
    --no-ipv6) IPV6=0; shift ;;
    -h | --help) usage 0 ;;
    *) break ;;
  esac
done
(($#)) || usage
cmd="$1"
shift

# --prefix and --net from anywhere among the command's arguments (for exec,
# only up to the start of the command to run, which keeps its own); the
# rest go to ARGS in order. Run in this shell, not a $(...) subshell, so the
# options it sets stay set.
take_opts() {
  ARGS=()
  while (($#)); do
    case "$1" in
      --prefix) PREFIX="${2:?--prefix needs a value}"; shift 2 ;;
      --net) NET="${2:?--net needs a value}"; shift 2 ;;
      --net6) NET6="${2:?--net6 needs a value}"; shift 2 ;;
      --no-ipv6) IPV6=0; shift ;;
      *)
        if [[ "$cmd" == exec && ${#ARGS[@]} -ge 1 ]]; then
          ARGS+=("$@")
          return
        fi
        ARGS+=("$1")
        shift
        ;;
    esac
  done
}

take_opts "$@"
set -- "${ARGS[@]}"

case "$cmd" in
  up) cmd_up "$@" ;;
  down)
    (($# == 0)) || die "unknown argument $1"
    cmd_down
    ;;
  check) cmd_check ;;
  addr | addr6 | ns | ifname)
    (($# == 1)) || die "usage: lan.sh $cmd I"
    check_index "$1"
    check_prefix
    check_net
    check_net6
    case "$cmd" in
      addr) addr_of "$1" ;;
      addr6) addr6_of "$1" ;;
      ns) ns_of "$1" ;;
      ifname) if_of "$1" ;;
    esac
    ;;
  list)
    (($# == 0)) || die "unknown argument $1"
    check_prefix
    check_net
    for ns in $(our_namespaces); do
      i="${ns#"$PREFIX"}"
      echo "$i $ns $(ip -n "$ns" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1) $(if_of "$i")"
    done
    ;;
  exec)
    (($# >= 2)) || die "usage: lan.sh exec I CMD..."
    check_index "$1"
    check_prefix
    ns="$(ns_of "$1")"
    shift
    exec ip netns exec "$ns" "$@"
    ;;
  *) usage ;;
esac
