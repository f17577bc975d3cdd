#!/bin/bash
# mem.sh TAG QUOTA_US [mcrecv env...]: mcsend + a CPU-throttled, GOMAXPROCS=1 mcrecv on loopback in a private namespace
TAG=$1; Q=$2; shift 2
cd /tmp/nb14
rm -f out-$TAG.raw
timeout 300 unshare -rn bash -c '
ip link set lo up; ip link set lo multicast on; ip route add 224.0.0.0/4 dev lo
./bin/mcsend --interface lo --min-receivers 1 os.dsc > send-'$TAG'.log 2>&1 &
sp=$!
( echo $BASHPID > /sys/fs/cgroup/cpu/nb14/tasks; exec env GOMAXPROCS=1 DISCUS_MEMPROFILE=heap-'$TAG'.pprof '"$*"' /usr/bin/time -f "wall %e user %U sys %S maxrss %M KiB" ./bin/mcrecv $MCRECV_ARGS --progress --interface lo out-'$TAG'.raw ) > recv-'$TAG'.log 2>&1
wait $sp; echo "mcsend rc $?" >> send-'$TAG'.log
'
tail -3 recv-$TAG.log; tail -2 send-$TAG.log
