#!/usr/bin/env bash
# The main job, end to end: set up, deploy the quickstart lab on the built-in namespace
# runtime, show it working (table + pings across the bridge and through the router),
# tear it down and show that nothing is left.
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then  # namespaces and links need root: ask sudo, if there is one
  command -v sudo >/dev/null || { echo "$0: run this as root" >&2; exit 1; }
  exec sudo "$0" "$@"
fi
cd "$(dirname "$0")/.."
scripts/setup.sh
nk=.venv/bin/netknit
topo=examples/quickstart.clab.yml
trap '$nk destroy -t $topo --cleanup --quiet || true' EXIT

set -x
$nk deploy -t $topo
$nk exec -t $topo --node h1 -- ping -c2 -W2 10.0.0.2      # h1 -> h2 over the bridge
$nk exec -t $topo --node h1 -- ping -c2 -W2 10.0.1.3      # h1 -> h3 routed by r1
$nk exec -t $topo --node r1 -- ping -c2 -W2 fd00:1::3     # IPv6 on the extended link
$nk destroy -t $topo --cleanup
set +x
trap - EXIT
left=$(ip netns list | grep -c '^clab-quickstart-' || true)
echo "namespaces of the lab left after destroy: $left"
[[ $left -eq 0 ]]
