"""netknit cni-install: waits, wraps, never nests, regenerates by hash, cleans up, and
survives kill -9 at any moment."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from netknit.cni.install import OUTPUT

PRIMARY = {"cniVersion": "1.0.0", "name": "primary", "plugins": [
    {"type": "bridge", "bridge": "nkcbr", "ipam": {"type": "host-local",
                                                   "subnet": "10.232.0.0/24"}}]}


def start(conf_dir: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "netknit.cni.install", "--conf-dir",
                             str(conf_dir), "--poll", "0.02", *args],
                            stderr=subprocess.PIPE)


def wait_for(pred: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def check_output(path: Path) -> dict[str, Any]:
    text = path.read_text()
    conf = json.loads(text)
    assert OUTPUT not in text
    (meta,) = conf["plugins"]
    assert meta["type"] == "netknit"
    for d in meta["delegates"]:
        assert "delegates" not in json.dumps(d["conf"]) and '"netknit"' not in json.dumps(d)
    return conf


def test_waits_wraps_regenerates_and_removes(tmp_path: Path) -> None:
    proc = start(tmp_path, "--timeout", "20")
    try:
        time.sleep(0.3)
        assert not (tmp_path / OUTPUT).exists()
        (tmp_path / "10-primary.conflist").write_text(json.dumps(PRIMARY))
        wait_for((tmp_path / OUTPUT).exists)
        first = check_output(tmp_path / OUTPUT)
        assert first["plugins"][0]["delegates"][0]["conf"] == PRIMARY
        mtime = (tmp_path / OUTPUT).stat().st_mtime_ns
        time.sleep(0.2)
        assert (tmp_path / OUTPUT).stat().st_mtime_ns == mtime  # same content: no rewrite
        changed = {**PRIMARY, "name": "primary2"}
        (tmp_path / "10-primary.conflist").write_text(json.dumps(changed))
        wait_for(lambda: check_output(tmp_path / OUTPUT)["name"] == "primary2")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    assert not (tmp_path / OUTPUT).exists()


def test_timeout_has_a_clear_message(tmp_path: Path) -> None:
    proc = start(tmp_path, "--timeout", "0.3")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1 and b"no primary CNI config" in err


def test_never_picks_its_own_output(tmp_path: Path) -> None:
    # only netknit's leftovers there: its output and a renamed copy of it
    (tmp_path / OUTPUT).write_text(json.dumps({"cniVersion": "1.0.0", "name": "x",
                                               "netknitGenerated": {}, "plugins": []}))
    (tmp_path / "05-copy.conf").write_text(json.dumps(
        {"cniVersion": "1.0.0", "name": "x", "type": "netknit", "delegates": []}))
    proc = start(tmp_path, "--timeout", "0.5")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 1, err


def test_keep_config_on_exit_via_cli(tmp_path: Path) -> None:
    (tmp_path / "10-p.conflist").write_text(json.dumps(PRIMARY))
    proc = subprocess.Popen(["netknit", "cni-install", "--conf-dir", str(tmp_path),
                             "--keep-config-on-exit"], stderr=subprocess.PIPE)
    try:
        wait_for((tmp_path / OUTPUT).exists)
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    check_output(tmp_path / OUTPUT)


@pytest.mark.slow
def test_sigkill_100_times_while_primary_changes(tmp_path: Path) -> None:
    primary = tmp_path / "10-primary.conflist"
    primary.write_text(json.dumps(PRIMARY))
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            n += 1
            data = json.dumps({**PRIMARY, "name": f"p{n}"})
            if n % 3:  # a careless writer: truncate, then write in two halves
                with open(primary, "w") as f:
                    f.write(data[: len(data) // 2])
                    f.flush()
                    time.sleep(0.001)
                    f.write(data[len(data) // 2:])
            else:
                tmp = tmp_path / ".p.tmp"
                tmp.write_text(data)
                os.replace(tmp, primary)
            time.sleep(0.003)

    writer = threading.Thread(target=churn)
    writer.start()
    rng = random.Random(5)
    try:
        for _ in range(100):
            proc = start(tmp_path)
            time.sleep(rng.uniform(0, 0.25))
            proc.kill()
            proc.wait()
            if (tmp_path / OUTPUT).exists():
                check_output(tmp_path / OUTPUT)
    finally:
        stop.set()
        writer.join()
    primary.write_text(json.dumps({**PRIMARY, "name": "final"}))
    proc = start(tmp_path)
    wait_for(lambda: check_output(tmp_path / OUTPUT)["name"] == "final")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 0
    assert not (tmp_path / OUTPUT).exists()
    assert not [n for n in os.listdir(tmp_path) if n.startswith(f".{OUTPUT}")]


def test_declares_the_capabilities_of_its_delegates(tmp_path: Path) -> None:
    primary = {**PRIMARY, "plugins": [*PRIMARY["plugins"],
                                      {"type": "portmap", "capabilities": {"portMappings": True}},
                                      {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}
    (tmp_path / "10-p.conflist").write_text(json.dumps(primary))
    attach = tmp_path / "attach.json"
    attach.write_text(json.dumps({"cniVersion": "1.0.0", "name": "a", "plugins": [
        {"type": "netknit-host-device", "capabilities": {"deviceID": True, "mac": False}},
        {"type": "tuning", "capabilities": {"mac": True}}]}))
    proc = start(tmp_path, "--once", "--attach", f"net1={attach}")
    assert proc.wait(10) == 0
    (meta,) = check_output(tmp_path / OUTPUT)["plugins"]
    assert meta["capabilities"] == {"bandwidth": True, "deviceID": True, "mac": True,
                                    "portMappings": True}


def test_warns_when_the_primary_sorts_first_and_name_fixes_it(tmp_path: Path) -> None:
    (tmp_path / "00-calico.conflist").write_text(json.dumps(PRIMARY))
    proc = start(tmp_path, "--once")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0
    assert b"warning: 00-calico.conflist sorts before 00-netknit.conflist" in err
    assert b"--name" in err
    (tmp_path / OUTPUT).unlink()
    proc = start(tmp_path, "--once", "--name", "00-0-netknit.conflist")
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 0 and b"warning" not in err, err
    assert sorted(os.listdir(tmp_path)) == ["00-0-netknit.conflist", "00-calico.conflist"]
    check_output(tmp_path / "00-0-netknit.conflist")
    # a rerun never takes its own output, under its own name, for the primary
    proc = start(tmp_path, "--once", "--name", "00-0-netknit.conflist")
    assert proc.wait(10) == 0
    conf = check_output(tmp_path / "00-0-netknit.conflist")
    assert conf["netknitGenerated"]["primary"].endswith("00-calico.conflist")


@pytest.mark.parametrize("name", ["x.conf", "../x.conflist", ".hidden.conflist"])
def test_name_must_be_a_conflist_file_name(tmp_path: Path, name: str) -> None:
    proc = start(tmp_path, "--once", "--name", name)
    _, err = proc.communicate(timeout=10)
    assert proc.returncode == 2 and b".conflist" in err and b"Traceback" not in err


def test_every_option_has_help_text() -> None:
    from netknit.cni.install import build_parser

    parser = build_parser()
    for action in parser._actions:
        assert action.help, f"{action.option_strings} has no help text"
    text = parser.format_help()
    assert "--name FILE" in text and "--conf-dir" in text
