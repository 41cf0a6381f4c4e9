"""``deploy`` and ``destroy`` as scripts give them run without click (netknit._fastargv):
the lab is made and removed as through click, and what the user reads is the same."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import Lab, netns_names, pair, run_cli

#: a click module in ``python -X importtime``'s list
CLICK_IMPORT = re.compile(r"\|\s+click(\.|$)", re.MULTILINE)
#: ``inspect``, which ``dataclasses`` imports for classes without a docstring only
#: (on 3.11: the launcher puts it off, netknit._launch._defer_inspect)
INSPECT_IMPORT = re.compile(r"\|\s+inspect$", re.MULTILINE)
INSPECT_PUT_OFF = sys.version_info < (3, 12)


def _imports_timed(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "netknit", *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "COLUMNS": "200"})


def _ping(namespace: str, address: str) -> bool:
    return subprocess.run(["ip", "netns", "exec", namespace, "ping", "-c1", "-W2", address],
                          capture_output=True, check=False).returncode == 0


def test_deploy_and_destroy_run_without_click_or_inspect(lab: Lab) -> None:
    topo = lab.write(pair(("10.77.0.1/30", "10.77.0.2/30")))
    done = _imports_timed("deploy", "-t", str(topo), "--max-workers", "2")
    assert done.returncode == 0, done.stderr
    assert not CLICK_IMPORT.search(done.stderr)
    # a dataclass without a docstring?
    assert not (INSPECT_PUT_OFF and INSPECT_IMPORT.search(done.stderr))
    assert f"lab {lab.name!r} deployed" in done.stderr
    assert f"{lab.prefix}a" in done.stdout  # the table of nodes, as through click
    assert _ping(f"{lab.prefix}a", "10.77.0.2")
    done = _imports_timed("destroy", str(topo), "-c")
    assert done.returncode == 0, done.stderr
    assert not CLICK_IMPORT.search(done.stderr)
    assert not (INSPECT_PUT_OFF and INSPECT_IMPORT.search(done.stderr))
    assert f"lab {lab.name!r} destroyed" in done.stderr
    assert lab.leftovers() == []


def test_a_line_left_to_click_still_runs_through_click(lab: Lab) -> None:
    topo = lab.write(pair())
    done = _imports_timed("dep", "-t", str(topo), "--quiet")  # an alias: click's
    assert done.returncode == 0, done.stderr
    assert CLICK_IMPORT.search(done.stderr)
    assert {f"{lab.prefix}a", f"{lab.prefix}b"} <= netns_names()


def test_mistakes_read_the_same_either_way(lab: Lab) -> None:
    missing = str(lab.dir / "missing.clab.yml")
    topo = lab.write(pair())
    for fast in (["deploy", "-t", missing], ["destroy", "-t", missing],
                 ["destroy", "-t", str(topo)], ["deploy", "--dry-run", "-c", str(topo)]):
        # the same line with a global flag that changes nothing goes through click
        clicked = run_cli("--log-level", "info", *fast)
        ran = run_cli(*fast)
        assert (ran.returncode, ran.stdout, ran.stderr) == \
            (clicked.returncode, clicked.stdout, clicked.stderr), fast
    assert run_cli("destroy", "-t", missing).stderr.startswith("error: topology file")
    assert "--max-workers" in run_cli("deploy", "-t", str(topo), "--max-workers", "0").stderr
    assert lab.leftovers() == []
