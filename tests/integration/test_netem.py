"""Link impairment on the real kernel: a rate shapes traffic (measured with iperf3), it
survives `netknit restart` (the moved interface loses its qdisc; the repair puts it
back), `tools netem` shows and resets it, and netem-only parameters are refused with
the missing module named where the kernel has no sch_netem (the build machines)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from netknit.kernel._qdisc import netem_available

from .conftest import Lab, run_cli

LAB = """
name: LAB
topology:
  defaults: {kind: netns}
  nodes: {a: {}, b: {}}
  links:
    - type: veth
      endpoints:
        - {node: a, interface: eth1, ipv4: 10.31.0.1/24, impairment: {rate: 1mbit}}
        - {node: b, interface: eth1, ipv4: 10.31.0.2/24}
    - endpoints: ["a:eth2", "b:eth2"]
      ipv4: ["10.31.1.1/24", "10.31.1.2/24"]
"""
RATE = 1_000_000  # bit/s, as written
IPERF = shutil.which("iperf3")
needs_iperf = pytest.mark.skipif(IPERF is None, reason="iperf3 is not installed "
                                 "(scripts/setup.sh --test installs Debian's)")
NO_NETEM = "this kernel has no sch_netem (delay, jitter, loss, corruption); only tbf"


def qdisc(netns: str, dev: str) -> str:
    """The kind of the root qdisc of ``dev`` ("": none yet, as on a device still down)."""
    out = subprocess.run(["tc", "-n", netns, "qdisc", "show", "dev", dev],
                         capture_output=True, text=True, check=True).stdout
    return out.split()[1] if out.startswith("qdisc ") else ""


def _listening(netns: str, port: int) -> bool:
    out = subprocess.run(["ip", "netns", "exec", netns, "ss", "-Hltnu", f"sport = :{port}"],
                         capture_output=True, text=True, check=False).stdout
    return bool(out.strip())


@contextmanager
def iperf_server(netns: str, address: str, port: int) -> Iterator[None]:
    """An iperf3 server in ``netns``, stopped by its pid."""
    assert IPERF is not None
    server = subprocess.Popen(["ip", "netns", "exec", netns, IPERF, "-s", "-B", address,
                               "-p", str(port)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not _listening(netns, port):
            assert server.poll() is None, "iperf3 server exited"
            assert time.monotonic() < deadline, "iperf3 server never listened"
            time.sleep(0.05)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def throughput(src: str, dst: str, address: str, port: int) -> float:
    """bit/s the receiver got of a 4 s UDP stream offered at twice the rate: a shaper
    holds it to its rate; without one it all arrives."""
    assert IPERF is not None
    with iperf_server(dst, address, port):
        out = subprocess.run(["ip", "netns", "exec", src, IPERF, "-c", address, "-p",
                              str(port), "-u", "-b", str(2 * RATE), "-t", "4", "-J"],
                             capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    return float(json.loads(out.stdout)["end"]["sum_received"]["bits_per_second"])


def within(measured: float, rate: float = RATE) -> bool:
    return 0.8 * rate <= measured <= 1.2 * rate


def shown(netns: str, fmt: str = "json") -> str:
    out = run_cli("tools", "netem", "show", "-n", netns, "-f", fmt)
    assert out.returncode == 0, out.stderr
    return out.stdout


@needs_iperf
def test_topology_rate_is_shaped_and_survives_restart(lab: Lab) -> None:
    topo = str(lab.write(LAB))
    a, b = f"clab-{lab.name}-a", f"clab-{lab.name}-b"
    assert run_cli("deploy", "-t", topo).returncode == 0
    assert (qdisc(a, "eth1"), qdisc(b, "eth1"), qdisc(a, "eth2")) == ("tbf", "noqueue",
                                                                      "noqueue")
    first = throughput(a, b, "10.31.0.2", 5301)
    assert within(first), first
    free = throughput(a, b, "10.31.1.2", 5302)  # the other link: not shaped
    assert free > 1.5 * RATE, free

    restarted = run_cli("restart", "-t", topo, "-n", "a")
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert qdisc(a, "eth1") == "tbf"
    again = throughput(a, b, "10.31.0.2", 5303)
    assert within(again), again
    rows = json.loads(shown(a))[a]
    assert [(r["interface"], r["rate"]) for r in rows] == [("eth1", 1000)]

    # lost by hand: reconcile finds and repairs it
    subprocess.run(["tc", "-n", a, "qdisc", "del", "dev", "eth1", "root"], check=True)
    dry = json.loads(run_cli("reconcile", "-t", topo, "--dry-run", "-f", "json").stdout)
    assert [(d["node"], d["found"], d["action"]) for d in dry["drifts"]] == [
        ("a", "eth1 impairment none", "set rate 1000 kbit")]
    assert run_cli("reconcile", "-t", topo).returncode == 0
    assert qdisc(a, "eth1") == "tbf"


@needs_iperf
def test_tools_netem_rate_is_kept_across_restart_and_reset(lab: Lab) -> None:
    """`tools netem set --rate` on a lab link is recorded: restart puts it back; reset is
    recorded too (the file's impairment stays off after a restart)."""
    topo = str(lab.write(LAB))
    a, b = f"clab-{lab.name}-a", f"clab-{lab.name}-b"
    assert run_cli("deploy", "-t", topo).returncode == 0
    set_ = run_cli("tools", "netem", "set", "-n", a, "-i", "eth2", "--rate", "1mbit")
    assert set_.returncode == 0, set_.stderr
    header = ["Interface", "Delay", "Jitter", "Packet Loss", "Rate (kbit)", "Corruption"]
    assert all(word in set_.stdout for word in header)
    assert "eth2" in set_.stdout and "1000" in set_.stdout
    assert qdisc(a, "eth2") == "tbf"
    assert within(throughput(a, b, "10.31.1.2", 5311))

    table = shown(a, "table")
    lines = {line.split("│")[1].strip(): line for line in table.splitlines()
             if line.count("│") > 2}
    assert "N/A" in lines["lo"] and "1000" in lines["eth1"] and "1000" in lines["eth2"]
    assert json.loads(shown(a)) == {a: [
        {"interface": "eth1", "delay": "", "jitter": "", "packet_loss": 0, "rate": 1000,
         "corruption": 0},
        {"interface": "eth2", "delay": "", "jitter": "", "packet_loss": 0, "rate": 1000,
         "corruption": 0}]}
    # the short node name works with -t
    assert run_cli("tools", "netem", "show", "-n", "a", "-t", topo).returncode == 0

    assert run_cli("restart", "-t", topo, "-n", "a").returncode == 0
    assert qdisc(a, "eth2") == "tbf"
    assert within(throughput(a, b, "10.31.1.2", 5312))

    reset = run_cli("tools", "netem", "reset", "-n", a, "-i", "eth1")
    assert reset.returncode == 0
    assert reset.stdout.strip() == f'Reset impairments on node "{a}", interface "eth1"'
    assert qdisc(a, "eth1") == "noqueue"
    assert run_cli("restart", "-t", topo, "-n", "a").returncode == 0
    assert (qdisc(a, "eth1"), qdisc(a, "eth2")) == ("noqueue", "tbf")
    assert json.loads(run_cli("reconcile", "-t", topo, "--dry-run", "-f",
                              "json").stdout)["drifts"] == []


@pytest.mark.skipif(netem_available(), reason="the kernel has sch_netem: nothing is refused")
def test_netem_parameters_need_sch_netem(lab: Lab) -> None:
    """Where sch_netem is missing: `tools netem set --delay` (and loss, jitter,
    corruption) names the module and changes nothing; a file asking for a delay is
    refused before anything is made."""
    topo = str(lab.write(LAB))
    a = f"clab-{lab.name}-a"
    assert run_cli("deploy", "-t", topo).returncode == 0
    for flags in (["--delay", "10ms"], ["--loss", "1"], ["--corruption", "0.1"],
                  ["--delay", "5ms", "--jitter", "1ms", "--rate", "1000"]):
        out = run_cli("tools", "netem", "set", "-n", a, "-i", "eth1", *flags)
        assert out.returncode == 1, out
        assert "sch_netem" in out.stderr and "modprobe sch_netem" in out.stderr
        assert "Traceback" not in out.stderr
        assert qdisc(a, "eth1") == "tbf"  # as it was
    bad = run_cli("tools", "netem", "set", "-n", a, "-i", "eth1", "--jitter", "1ms")
    assert bad.returncode == 2 and "jitter cannot be set without setting delay" in bad.stderr
    assert run_cli("destroy", "-t", topo, "-q").returncode == 0

    delayed = lab.write(LAB.replace("{rate: 1mbit}", "{delay: 10ms}"), "delay.clab.yml")
    out = run_cli("deploy", "-t", str(delayed))
    assert out.returncode == 1 and "sch_netem" in out.stderr, out.stderr
    assert lab.leftovers() == []


@pytest.mark.skipif(not netem_available(), reason=NO_NETEM)
def test_netem_parameters_are_set_shown_and_restored(lab: Lab) -> None:
    """Where the kernel has sch_netem: delay, jitter, loss, rate and corruption in one
    netem qdisc, shown as containerlab shows them, and back after a restart."""
    topo = str(lab.write(LAB.replace("{rate: 1mbit}", "{delay: 10ms, rate: 1mbit}")))
    a = f"clab-{lab.name}-a"
    assert run_cli("deploy", "-t", topo).returncode == 0
    assert qdisc(a, "eth1") == "netem"
    out = run_cli("tools", "netem", "set", "-n", a, "-i", "eth2", "--delay", "15ms",
                  "--jitter", "2ms", "--loss", "0.5", "--rate", "2000", "--corruption", "0.1")
    assert out.returncode == 0, out.stderr
    rows = {r["interface"]: r for r in json.loads(shown(a))[a]}
    assert rows["eth2"] == {"interface": "eth2", "delay": "15ms", "jitter": "2ms",
                            "packet_loss": 0.5, "rate": 2000, "corruption": 0.1}
    assert rows["eth1"]["delay"] == "10ms" and rows["eth1"]["rate"] == 1000
    assert run_cli("restart", "-t", topo, "-n", "a").returncode == 0
    again = {r["interface"]: r for r in json.loads(shown(a))[a]}
    assert again == rows


def test_tools_netem_on_a_plain_namespace(lab: Lab) -> None:
    """A namespace that is no lab's node: impaired once, with a note saying so."""
    netns = f"nkt-{lab.tag}-ns"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        subprocess.run(["ip", "-n", netns, "link", "add", "name", "v1", "type", "veth",
                        "peer", "name", "v2"], check=True)
        for dev in ("v1", "v2"):
            subprocess.run(["ip", "-n", netns, "link", "set", dev, "up"], check=True)
        out = run_cli("tools", "netem", "set", "-n", netns, "-i", "v1", "--rate", "500kbit")
        assert out.returncode == 0, out.stderr
        assert "not restored" in out.stderr
        assert qdisc(netns, "v1") == "tbf"
        missing = run_cli("tools", "netem", "set", "-n", netns, "-i", "nope", "--rate", "1000")
        assert missing.returncode == 1 and "no such interface" in missing.stderr
        assert "v1" in missing.stderr and "Traceback" not in missing.stderr
        assert run_cli("tools", "netem", "reset", "-n", netns, "-i", "v1").returncode == 0
        assert qdisc(netns, "v1") == "noqueue"
        unknown = run_cli("tools", "netem", "show", "-n", f"nkt-{lab.tag}-none")
        assert unknown.returncode == 2 and "no node" in unknown.stderr
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout}s: {what}"
        time.sleep(0.1)


def _has_tbf(netns: str, dev: str) -> bool:
    try:
        return qdisc(netns, dev) == "tbf"
    except subprocess.CalledProcessError:  # the namespace or the interface is not back yet
        return False


def test_watch_puts_the_impairment_back(lab: Lab) -> None:
    """`watch`: an impaired end lost with its link, with its namespace, or its qdisc
    deleted by hand (no link event: the periodic check) comes back impaired."""
    topo = str(lab.write(LAB))
    a, b = f"clab-{lab.name}-a", f"clab-{lab.name}-b"
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert run_cli("tools", "netem", "set", "-n", b, "-i", "eth2", "--rate", "700").returncode == 0
    watcher = subprocess.Popen([sys.executable, "-m", "netknit", "watch", "-t", topo],
                               stderr=subprocess.PIPE, text=True)
    try:
        subprocess.run(["ip", "-n", b, "link", "del", "eth1"], check=True)  # a's peer
        _wait_for(lambda: _has_tbf(a, "eth1"), "a:eth1 recreated and shaped")
        subprocess.run(["ip", "netns", "del", b], check=True)
        _wait_for(lambda: _has_tbf(b, "eth2"), "b recreated, eth2 shaped as the tool set")
        subprocess.run(["tc", "-n", a, "qdisc", "del", "dev", "eth1", "root"], check=True)
        _wait_for(lambda: _has_tbf(a, "eth1"), "a:eth1 shaped again")
    finally:
        watcher.send_signal(signal.SIGTERM)  # our own child, by pid
        _out, err = watcher.communicate(timeout=30)
    assert watcher.returncode == 0, err
    assert "impairment none -> set rate 1000 kbit" in err
    rows = {r["interface"]: r["rate"] for r in json.loads(shown(b))[b]}
    assert rows == {"eth2": 700}


def test_apply_changes_and_removes_the_impairment(lab: Lab) -> None:
    """A changed file: a new rate is set in place (the link is kept); a removed one is
    cleared."""
    path = lab.write(LAB)
    topo = str(path)
    a = f"clab-{lab.name}-a"
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    index = subprocess.run(["ip", "-n", a, "-o", "link", "show", "eth1"], capture_output=True,
                           text=True, check=True).stdout.split(":")[0]
    path.write_text(path.read_text().replace("{rate: 1mbit}", "{rate: 3mbit}"))
    out = run_cli("deploy", "-t", topo)
    assert out.returncode == 0, out.stderr
    assert "a:eth1 impairment rate 1000 kbit -> rate 3000 kbit" in out.stdout
    assert json.loads(shown(a))[a] == [{"interface": "eth1", "delay": "", "jitter": "",
                                        "packet_loss": 0, "rate": 3000, "corruption": 0}]
    assert subprocess.run(["ip", "-n", a, "-o", "link", "show", "eth1"], capture_output=True,
                          text=True, check=True).stdout.split(":")[0] == index  # kept
    path.write_text(path.read_text().replace(", impairment: {rate: 3mbit}", ""))
    assert run_cli("deploy", "-t", topo, "--quiet").returncode == 0
    assert qdisc(a, "eth1") == "noqueue"
    assert json.loads(run_cli("reconcile", "-t", topo, "--dry-run", "-f",
                              "json").stdout)["drifts"] == []
