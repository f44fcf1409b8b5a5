#!/usr/bin/env bash
# The main job, on the embedded single-host default: a tsnet-switch daemon, one bridge network, two
# "containers" (network namespaces) connected to it, ping between them and to the gateway, a short
# iperf3 TCP test, what the switch saw (fdb, stats), then a tidy teardown — also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "the demo needs root (network namespaces and /dev/net/tun): sudo npm run demo" >&2
  exit 1
fi
for tool in ip ping iperf3; do
  command -v "$tool" >/dev/null || { echo "$tool not found: apt-get install ${tool/ip/iproute2} (ping: iputils-ping)" >&2; exit 1; }
done
[ -f dist/cli/main.js ] && [ -f build/Release/tsnet_native.node ] || { echo "not built yet: run npm ci first" >&2; exit 1; }

TSN=(node bin/tsnet-switch.js)
SUBNET=10.123.0.0/24
WEB=tsn-demo-web
DB=tsn-demo-db
dir=$(mktemp -d /tmp/tsnet-demo.XXXXXX)
export TSNET_SWITCH_SOCKET=$dir/api.sock
daemon_pid=

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

cleanup() {
  set +e
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
  [ -f "$dir/iperf3.pid" ] && kill "$(cat "$dir/iperf3.pid")" 2>/dev/null
  ip netns del $WEB 2>/dev/null
  ip netns del $DB 2>/dev/null
  ip link del tsn-demo0 2>/dev/null # the gateway port, if the run stopped before `network rm`
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

# The demo uses no Docker: no plugin socket in /run/docker/plugins for a dockerd to find.
say "start the daemon (state and API socket in $dir)"
"${TSN[@]}" daemon --state-dir "$dir/state" --docker-plugin off >"$dir/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S "$TSNET_SWITCH_SOCKET" ] && break; sleep 0.1; done
[ -S "$TSNET_SWITCH_SOCKET" ] || { cat "$dir/daemon.log"; exit 1; }

say "two containers: plain network namespaces, no interfaces yet"
run ip netns add $WEB
run ip netns add $DB

say "a bridge network, and both containers connected to it"
run "${TSN[@]}" network create -d bridge --subnet $SUBNET -o bridge.name=tsn-demo0 demo
run "${TSN[@]}" connect demo --netns $WEB
run "${TSN[@]}" connect demo --netns $DB
run "${TSN[@]}" network ls
run ip -n $WEB -br addr show dev eth0

say "web -> db, and web -> the gateway on the host"
run ip netns exec $WEB ping -c 3 -i 0.2 10.123.0.3
run ip netns exec $WEB ping -c 1 10.123.0.1

say "a short TCP test through the switch (TSO on: 64 KB frames cross it whole)"
ip netns exec $DB iperf3 -s -D -1 --pidfile "$dir/iperf3.pid" -B 10.123.0.3
sleep 0.5
run ip netns exec $WEB iperf3 -c 10.123.0.3 -t 3

say "what the switch saw"
run "${TSN[@]}" fdb show demo
run "${TSN[@]}" stats

say "teardown"
run "${TSN[@]}" disconnect demo $DB
run "${TSN[@]}" network rm --force demo
echo
echo "done: daemon log was"
sed 's/^/  /' "$dir/daemon.log"
