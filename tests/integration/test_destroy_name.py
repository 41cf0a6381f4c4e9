"""destroy needs only the lab's name: for a file deployed unchanged, the deploy's note
gives it (no YAML parsing); a changed file is read again, as containerlab reads it."""

from __future__ import annotations

import re
import subprocess
import sys

from .conftest import Lab, netns_names, pair, run_cli

#: a module of the YAML parser in ``python -X importtime``'s list
YAML_IMPORT = re.compile(r"\|\s+yaml(\.|$)", re.MULTILINE)


def test_an_unchanged_file_is_destroyed_without_parsing_it(lab: Lab) -> None:
    topo = lab.write(pair())
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netknit", "destroy",
                           "-t", str(topo)], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert f"lab {lab.name!r} destroyed" in done.stderr
    assert not YAML_IMPORT.search(done.stderr)
    assert lab.leftovers() == []


def test_a_changed_file_is_read_again(lab: Lab) -> None:
    topo = lab.write(pair())
    assert run_cli("deploy", "-t", str(topo), "--quiet").returncode == 0
    text = topo.read_text()
    other = lab.name[:-1] + ("x" if lab.name[-1] != "x" else "y")  # same length
    topo.write_text(text.replace(f"name: {lab.name}", f"name: {other}"))
    done = run_cli("destroy", "-t", str(topo))
    assert done.returncode == 0, done.stderr
    # the file now names another lab, which is not deployed: this one stays
    assert f"lab {other!r} is not deployed" in done.stdout + done.stderr
    assert {f"{lab.prefix}a", f"{lab.prefix}b"} <= netns_names()
    topo.write_text(text)
    done = run_cli("destroy", "-t", str(topo), "--cleanup")
    assert done.returncode == 0, done.stderr
    assert f"lab {lab.name!r} destroyed" in done.stdout + done.stderr
    assert lab.leftovers() == []


def test_a_lab_deployed_under_another_name_is_found_by_it(lab: Lab) -> None:
    topo = lab.write(pair())
    named = lab.name[:-1] + ("x" if lab.name[-1] != "x" else "y")
    assert run_cli("--name", named, "deploy", "-t", str(topo), "--quiet").returncode == 0
    try:
        # containerlab's rule: without --name, destroy reads the file's name (not deployed)
        done = run_cli("destroy", "-t", str(topo))
        assert f"lab {lab.name!r} is not deployed" in done.stdout + done.stderr
        assert f"clab-{named}-a" in netns_names()
    finally:
        done = run_cli("--name", named, "destroy", "-t", str(topo), "--cleanup")
    assert done.returncode == 0, done.stderr
    assert not {n for n in netns_names() if n.startswith(f"clab-{named}-")}
