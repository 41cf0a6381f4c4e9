#!/usr/bin/env bash
# Set up everything the tests need, then run the checks: ruff, mypy, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k quickstart).
set -euo pipefail
if [[ $(id -u) -ne 0 ]]; then  # namespaces and links need root: ask sudo, if there is one
  command -v sudo >/dev/null || { echo "$0: run this as root" >&2; exit 1; }
  exec sudo "$0" "$@"
fi
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff" && ruff check src tests bench
echo "== mypy" && mypy
echo "== docker" && scripts/docker.sh  # Docker nodes' tests need an engine
trap 'scripts/docker.sh stop' EXIT  # stops only a dockerd started just now
echo "== pytest"
pytest -p no:cacheprovider --durations=20 "$@"  # the slowest 20: what to look at when CI drags
