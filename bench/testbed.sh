# Shell testbed shared by demo.sh and the benchmarks: a bridge namespace
# joining a sender namespace and N receiver namespaces through veth pairs,
# addresses 198.18.0.0/24, a multicast route on every host. Source it, then:
#   testbed_up N [MTU]     creates $TB-s (198.18.0.1) and $TB-r1..rN (.2...)
#   tb_exec HOST CMD...    runs CMD inside HOST (s, r1, r2, ...)
#   tb_drop HOST P         drops incoming UDP with probability P (iptables statistic)
#   tb_police HOST PPS     lets at most PPS UDP datagrams/s in (iptables limit)
#   testbed_down           removes everything (also run on EXIT)
# It never touches the machine's own interfaces. Needs root.
TB=${TB:-dsc$$}
TB_HOSTS=()

testbed_up() {
  local n=$1 mtu=${2:-1500} i h
  ip netns add "$TB-br"
  ip -n "$TB-br" link set lo up
  # No IGMP querier runs here, so snooping would starve the receivers.
  ip -n "$TB-br" link add br0 type bridge mcast_snooping 0
  ip -n "$TB-br" link set br0 mtu "$mtu" up
  TB_HOSTS=(s)
  for i in $(seq 1 "$n"); do TB_HOSTS+=("r$i"); done
  i=0
  for h in "${TB_HOSTS[@]}"; do
    i=$((i + 1))
    ip netns add "$TB-$h"
    ip -n "$TB-$h" link set lo up
    ip -n "$TB-$h" link add e0 mtu "$mtu" type veth peer name "p$h" mtu "$mtu" netns "$TB-br"
    ip -n "$TB-br" link set "p$h" master br0 up
    ip -n "$TB-$h" addr add "198.18.0.$i/24" brd + dev e0
    ip -n "$TB-$h" link set e0 up
    ip -n "$TB-$h" route add 224.0.0.0/4 dev e0
  done
  trap testbed_down EXIT
}

testbed_down() {
  local h
  for h in "${TB_HOSTS[@]}"; do ip netns del "$TB-$h" 2>/dev/null || true; done
  ip netns del "$TB-br" 2>/dev/null || true
  TB_HOSTS=()
}

tb_exec() { local h=$1; shift; ip netns exec "$TB-$h" "$@"; }
tb_drop() { tb_exec "$1" iptables -A INPUT -p udp -m statistic --mode random --probability "$2" -j DROP; }
tb_police() {
  tb_exec "$1" iptables -A INPUT -p udp -m limit --limit "$2/second" --limit-burst $(( $2 / 50 + 5 )) -j ACCEPT
  tb_exec "$1" iptables -A INPUT -p udp -j DROP
}
# tb_txbytes HOST: bytes sent on the host's interface so far.
tb_txbytes() { tb_exec "$1" cat /sys/class/net/e0/statistics/tx_bytes; }

# Offloads as real NICs have them (see bench/OFFLOADS.md): the sender's veth cuts
# UDP GSO buffers into wire frames (as a NIC's segmentation offload does), each
# receiver's veth merges frames again for UDP GRO sockets (gro on, and tso off on
# its bridge port, without which bridged packets skip veth GRO). Loss must then be
# injected per wire frame in the bridge (tb_drop_frames), never in a receiver's
# INPUT chain, which would see one merged packet for up to 64 datagrams.
tb_wire_offloads() {
  local h
  tb_exec s ethtool -K e0 tx-udp-segmentation off >/dev/null
  for h in "${TB_HOSTS[@]}"; do
    [ "$h" = s ] && continue
    tb_exec "$h" ethtool -K e0 gro on >/dev/null
    ip netns exec "$TB-br" ethtool -K "p$h" tso off >/dev/null
  done
}

# tb_drop_frames HOST PERCENT: the bridge drops PERCENT % of the UDP frames it
# forwards to HOST, one frame at a time (nftables bridge family, numgen random).
tb_drop_frames() {
  local h=$1 pct=$2
  ip netns exec "$TB-br" nft list table bridge lossy >/dev/null 2>&1 || {
    ip netns exec "$TB-br" nft add table bridge lossy
    ip netns exec "$TB-br" nft add chain bridge lossy fw '{ type filter hook forward priority 0; }'
  }
  ip netns exec "$TB-br" nft add rule bridge lossy fw oifname "p$h" ip protocol udp numgen random mod 100 '<' "$pct" counter drop
}
# tb_frames_dropped: frames the bridge's loss rules dropped so far.
tb_frames_dropped() {
  ip netns exec "$TB-br" nft list table bridge lossy 2>/dev/null | awk '/counter packets/ {for (i=1;i<=NF;i++) if ($i=="packets") s+=$(i+1)} END {print s+0}'
}
