#!/usr/bin/env bash
# Make docs/graph.png, the README's picture of `netknit graph`: deploy the quickstart
# lab, set one link down (to show a state), serve the page on a free port and let
# headless chromium take it (--screenshot), then remove everything again.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PWD/.venv/bin:$PATH
topo=examples/quickstart.clab.yml
out=${1:-docs/graph.png}
profile=$(mktemp -d)
log=$(mktemp)
server=
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    netknit destroy -t "$topo" --cleanup --quiet || true
    rm -rf "$profile" "$log"
}
trap cleanup EXIT

netknit deploy -t "$topo" --quiet
ip -n clab-quickstart-h3 link set eth1 down   # shown red: down
netknit graph -t "$topo" --srv 127.0.0.1:0 2>"$log" &
server=$!
for _ in $(seq 100); do grep -q 'http://' "$log" && break; sleep 0.1; done
url=$(grep -o 'http://127.0.0.1:[0-9]*' "$log")
chromium --headless --no-sandbox --disable-gpu --user-data-dir="$profile" \
    --hide-scrollbars --window-size=1200,620 --timeout=4000 \
    --screenshot="$out" "$url/#node=r1" 2>/dev/null
echo "wrote $out"
