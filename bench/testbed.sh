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
