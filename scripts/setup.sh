#!/usr/bin/env bash
# Install what netknit needs on a fresh Debian machine (idempotent, quiet when done before).
#   scripts/setup.sh          runtime: iproute2, ping, a venv with netknit
#   scripts/setup.sh --test   + test tools (pytest, hypothesis, mypy, ruff)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[[ "${1:-}" == "--test" ]] && want_test=1

if [[ $(id -u) -ne 0 ]]; then
    echo "netknit creates network namespaces: run this as root (sudo $0 $*)" >&2
    exit 1
fi

# Debian packages: iproute2 and ping are how users (and the tests) look at a lab
apt_pkgs=(iproute2 iputils-ping)
# the tests run Docker nodes: an engine, and busybox-static for the locally built images;
# the CNI tests drive real runtimes: containerd's ctr (with docker.io) and podman;
# the image pull tests push to and pull from a local registry (docker-registry, distribution 2);
# the management network tests read eth0's offloads with ethtool
if ((want_test)); then
    apt_pkgs+=(docker.io busybox-static containernetworking-plugins curl podman docker-registry
              ethtool)
    # the graph page's browser test drives Debian's chromium through its chromium-driver
    apt_pkgs+=(chromium chromium-driver)
    # the link impairment tests measure a shaped rate with iperf3
    apt_pkgs+=(iperf3)
    # examples/frr-ospf and its test run Debian's FRR, unmodified, inside netns nodes
    apt_pkgs+=(frr)
fi
missing=()
for p in "${apt_pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    others=()
    for p in "${missing[@]}"; do [[ $p == frr ]] || others+=("$p"); done
    if ((${#others[@]})); then
        apt-get install -y -qq --no-install-recommends "${others[@]}" >/dev/null
    fi
    if [[ " ${missing[*]} " == *" frr "* ]]; then
        # FRR must not start on the host (only labs run it): no service start while it is
        # installed (policy-rc.d, unless one is there already), none at the next boot
        policy=/usr/sbin/policy-rc.d
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy"
            trap 'rm -f "$policy"' EXIT
        fi
        apt-get install -y -qq --no-install-recommends frr >/dev/null
        if [[ -d /run/systemd/system ]]; then
            systemctl disable -q frr.service || true
        fi
    fi
fi

# A venv of the default python3 (3.11+), holding netknit in editable mode
py=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
    if ! "$py" -m venv .venv 2>/dev/null; then  # Debian's python3 needs python3-venv
        rm -rf .venv
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        "$py" -m venv .venv
    fi
fi
stamp=.venv/.netknit-installed$want_test
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    echo "setup: installing netknit into .venv" >&2
    .venv/bin/pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    if ((want_test)); then
        .venv/bin/pip install -q --disable-pip-version-check -e '.[test]'
    else
        .venv/bin/pip install -q --disable-pip-version-check -e .
    fi
    touch "$stamp"
fi
# bytecode for the editable sources: where PYTHONDONTWRITEBYTECODE is set, every netknit
# command would otherwise compile ~100 modules again (~0.1 s); stale files are redone
.venv/bin/python -m compileall -q src >/dev/null
# and the methods of netknit's dataclasses, which Python compiles at every import unless
# netknit/_dataclass.py has them in __pycache__ (~35 ms a command): import every module once
env -u PYTHONDONTWRITEBYTECODE .venv/bin/python - <<'PY'
import importlib, pkgutil, netknit
for mod in pkgutil.walk_packages(netknit.__path__, "netknit."):
    if not mod.name.endswith("__main__"):  # that one runs the CLI
        try:
            importlib.import_module(mod.name)
        except ImportError:  # an optional extra's module (the pytest plugin without pytest)
            pass
PY
