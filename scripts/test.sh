#!/usr/bin/env bash
# Set up everything the tests need, then run the checks: ruff, mypy, pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -k quickstart).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff" && ruff check src tests bench
echo "== mypy" && mypy
echo "== docker" && scripts/docker.sh  # Docker nodes' tests need an engine
trap 'scripts/docker.sh stop' EXIT  # stops only a dockerd started just now
echo "== pytest"
pytest -p no:cacheprovider "$@"
