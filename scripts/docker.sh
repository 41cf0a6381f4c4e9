#!/usr/bin/env bash
# Make sure a Docker engine answers for the tests; stop only the one this script started.
#   scripts/docker.sh         start dockerd if none answers on /var/run/docker.sock
#   scripts/docker.sh stop    stop the dockerd started here (its pid is in a file)
# This dockerd must not touch the firewall nor create docker0 (shared machines).
set -euo pipefail
cd "$(dirname "$0")/.."
pidfile=.venv/netknit-dockerd.pid
log=.venv/netknit-dockerd.log
sock=/var/run/docker.sock

answers() { curl -sf --unix-socket "$sock" http://localhost/_ping >/dev/null 2>&1; }

if [[ "${1:-}" == "stop" ]]; then
    [[ -f $pidfile ]] || exit 0
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/cmdline" 2>/dev/null; then
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$pidfile"
    exit 0
fi

answers && exit 0
command -v dockerd >/dev/null || { echo "docker.sh: dockerd not installed (apt-get install docker.io)" >&2; exit 1; }
mkdir -p .venv
echo "docker.sh: starting dockerd (log $log)" >&2
dockerd --iptables=false --ip6tables=false --bridge=none >"$log" 2>&1 &
echo $! >"$pidfile"
for _ in $(seq 300); do
    answers && exit 0
    kill -0 "$(cat "$pidfile")" 2>/dev/null || break
    sleep 0.1
done
echo "docker.sh: dockerd did not answer within 30s; see $log" >&2
tail -n 20 "$log" >&2 || true
exit 1
