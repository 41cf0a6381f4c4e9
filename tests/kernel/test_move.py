"""move_and_rename / move_back against the real kernel.

A veth end stands in for a host NIC, in a scratch namespace that plays the host: the
real host namespace never gets or loses a device here.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

import netknit.kernel._move as move_mod
from netknit._errors import KernelError, MoveError
from netknit.kernel import (
    MoveResult,
    Namespace,
    VethEnd,
    create_veths,
    links,
    move_and_rename,
    move_back,
    netns,
    probe_move_rename,
    probe_move_strategy,
    set_link_request,
)

pytestmark = pytest.mark.root

NIC, PEER, NEW = "nic0", "nicpeer", "eth1"
MAC, MTU = "02:00:00:00:4e:01", 1450
STRATEGIES = ["atomic", "altname", "via-temp-ns", "auto"]


def by_name(nl):
    return {link.name: link for link in links(nl)}


@pytest.fixture
def nic_ns(make_ns):
    """A scratch "host" with a NIC stand-in (up) and a target namespace."""
    host, target = make_ns("h"), make_ns("t")
    nic = VethEnd(NIC, mac=MAC, mtu=MTU)
    assert create_veths(host.nl, [(nic, VethEnd(PEER, mtu=MTU))]) == [None]
    assert by_name(host.nl)[NIC].up
    return host, target


def skip_atomic_unless_supported(strategy: str) -> None:
    if strategy == "atomic" and not probe_move_rename():
        pytest.skip("this kernel applies IFLA_IFNAME after the netns move (the old name is "
                    "announced in the target first), so the forced atomic path is not "
                    "name-clean here; see test_probe_agrees_with_kernel")
    if strategy == "altname" and probe_move_strategy() == "via-temp-ns":
        pytest.skip("this kernel does not rename during the move even while the old name "
                    "is taken in the target (or has no altnames)")


def lo_altnames(ns: Namespace) -> list[str]:
    """The target loopback's altnames (the "altname" strategy lends it one, briefly)."""
    out = subprocess.run(["ip", "-n", ns.name, "-j", "link", "show", "dev", "lo"],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)[0].get("altnames", [])


def assert_home(host: Namespace, *, up: bool = True) -> None:
    nic = by_name(host.nl)[NIC]
    assert (nic.mac, nic.mtu, nic.up) == (MAC, MTU, up)


def test_probe_is_cached_and_leaves_nothing():
    before = set(netns.list_names())
    first = probe_move_rename()
    assert probe_move_rename() is first
    assert not {n for n in netns.list_names() if n.startswith("nk-probe-")} - before
    print(f"\nprobe_move_strategy() on {os.uname().release}: {probe_move_strategy()}")


def test_probe_agrees_with_kernel(nic_ns, monitor):
    """Force the one-message path and look: the probe's answer is what happens."""
    host, target = nic_ns
    watch = monitor(target)
    result = move_and_rename(host.nl, NIC, target, NEW, strategy="atomic")
    assert result.name == NEW and NEW in by_name(target.nl)
    seen = [(e.event, e.name) for e in watch.drain()]
    print(f"\nforced atomic move, target saw: {seen}")
    if probe_move_rename():
        assert {name for _event, name in seen} == {NEW}
    else:
        assert ("new", NIC) in seen, "probe said no, yet the kernel renamed atomically"


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_move_and_rename_then_back(nic_ns, monitor, strategy):
    skip_atomic_unless_supported(strategy)
    host, target = nic_ns
    watch_host, watch_target = monitor(host), monitor(target)

    result = move_and_rename(host.nl, NIC, target, NEW, strategy=strategy)

    assert isinstance(result, MoveResult)
    assert result.strategy == (probe_move_strategy() if strategy == "auto" else strategy)
    assert (result.name, result.mac, result.mtu, result.up) == (NEW, MAC, MTU, True)
    assert result.original.name == NIC and result.original.up
    moved = by_name(target.nl)[NEW]
    assert (moved.mac, moved.mtu, moved.up, moved.index) == (MAC, MTU, True, result.index)
    assert NIC not in by_name(host.nl)

    # the peer stays in the host and gets change notifications of its own: ignore it
    seen_host = watch_host.names() - {PEER}
    seen_target = watch_target.names()
    print(f"\n[{strategy}] move: host saw {sorted(seen_host)}, target saw {sorted(seen_target)}")
    assert seen_host == {NIC}, "the device was seen in the host under another name"
    assert seen_target == {NEW}, "the device was seen in the target under another name"
    assert lo_altnames(target) == [], "the loopback kept the name it was lent"

    assert move_back(host.nl, target, result, strategy=strategy) is True
    assert_home(host, up=True)
    assert NEW not in by_name(target.nl)
    back_host = watch_host.names() - {PEER}
    back_target = watch_target.names()
    print(f"[{strategy}] move_back: host saw {sorted(back_host)}, "
          f"target saw {sorted(back_target)}")
    assert back_host == {NIC} and back_target == {NEW}

    assert move_back(host.nl, target, result, strategy=strategy) is False  # no-op
    assert_home(host, up=True)


def test_down_device_arrives_down_and_returns_down(nic_ns):
    host, target = nic_ns
    host.nl.request(set_link_request(by_name(host.nl)[NIC].index, up=False))
    result = move_and_rename(host.nl, NIC, target, NEW)
    assert not result.up and not by_name(target.nl)[NEW].up
    assert move_back(host.nl, target, result) is True
    assert_home(host, up=False)


def test_missing_device_changes_nothing(nic_ns):
    host, target = nic_ns
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, "nosuch0", target, NEW)
    assert info.value.errno == errno.ENODEV and "nothing was changed" in str(info.value)


# -- failures and rollback -------------------------------------------------------------


@pytest.fixture
def no_preflight(monkeypatch):
    """Skip the up-front checks so that the *kernel* refuses part-way and the rollback
    has real work to do."""
    monkeypatch.setattr(move_mod, "_preflight", lambda *args, **kwargs: None)


def occupy(target: Namespace, name: str) -> str:
    """Put a stranger named ``name`` in the target; return its MAC."""
    assert create_veths(target.nl, [(VethEnd(name), VethEnd("stranger"))]) == [None]
    return by_name(target.nl)[name].mac


@pytest.mark.parametrize("strategy", ["atomic", "altname", "via-temp-ns"])
def test_name_taken_is_refused_before_anything_moves(nic_ns, monitor, strategy):
    host, target = nic_ns
    occupy(target, NEW)
    watch_host = monitor(host)
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, NEW, strategy=strategy)
    assert info.value.errno == errno.EEXIST
    assert "nothing was changed" in str(info.value)
    assert_home(host, up=True)
    assert watch_host.names() == set(), "refused up front: not even a down/up"


@pytest.mark.parametrize("strategy", ["atomic", "altname", "via-temp-ns"])
def test_name_taken_in_kernel_rolls_back(nic_ns, monitor, no_preflight, strategy):
    host, target = nic_ns
    stranger_mac = occupy(target, NEW)
    watch_target = monitor(target)
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, NEW, strategy=strategy)
    print(f"\n[{strategy}] {info.value}")
    assert info.value.errno == errno.EEXIST
    assert "rolled back" in str(info.value) and "ROLLBACK FAILED" not in str(info.value)
    assert_home(host, up=True)
    in_target = by_name(target.nl)
    assert in_target[NEW].mac == stranger_mac, "the stranger in the target was touched"
    assert NIC not in in_target
    assert lo_altnames(target) == []
    if strategy == "via-temp-ns":
        # the stranger's own late notifications (linkwatch reports its carrier asynchronously)
        # are not ours: only an event for another device would mean ours was seen
        ours = {e.name for e in watch_target.drain() if e.index != in_target[NEW].index}
        assert ours == set(), "the target saw our device"


@pytest.mark.parametrize("bad", ["bad/name", "a-name-too-long-x", "has space"])
def test_bad_name_is_refused(nic_ns, bad):
    host, target = nic_ns
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, bad)
    assert info.value.errno == errno.EINVAL and "nothing was changed" in str(info.value)
    assert_home(host, up=True)


@pytest.mark.parametrize("strategy", ["atomic", "altname", "via-temp-ns"])
def test_bad_name_in_kernel_rolls_back(nic_ns, no_preflight, strategy):
    host, target = nic_ns
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, "bad/name", strategy=strategy)
    assert "rolled back" in str(info.value)
    assert_home(host, up=True)
    assert set(by_name(target.nl)) == {"lo"}
    assert lo_altnames(target) == []


def test_deleted_target_is_refused(nic_ns):
    host, target = nic_ns
    netns.delete(target.name)  # unmounted: our fd still holds it, nobody else can see it
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, NEW)
    assert info.value.errno == errno.ENOENT and "nothing was changed" in str(info.value)
    assert_home(host, up=True)


def test_closed_target_is_refused(nic_ns):
    host, target = nic_ns
    gone = Namespace(name=target.name, fd=-1, inode=target.inode)
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, gone, NEW, strategy="via-temp-ns")
    assert info.value.errno == errno.EBADF
    assert_home(host, up=True)


def test_target_fd_not_a_namespace_rolls_back_from_temp_ns(nic_ns, no_preflight, monitor):
    """The last step (temporary namespace → target) fails: the device, renamed in the
    temporary namespace by then, is renamed back there and returned home."""
    host, target = nic_ns
    watch_host = monitor(host)
    not_ns = os.open("/dev/null", os.O_RDONLY | os.O_CLOEXEC)
    try:
        fake = Namespace(name=target.name, fd=not_ns, inode=target.inode, _nl=target.nl)
        with pytest.raises(MoveError) as info:
            move_and_rename(host.nl, NIC, fake, NEW, strategy="via-temp-ns")
    finally:
        os.close(not_ns)
    print(f"\n{info.value}")
    assert "temporary namespace" in str(info.value) and "rolled back" in str(info.value)
    assert_home(host, up=True)
    assert watch_host.names() - {PEER} == {NIC}, "seen in the host under another name"


def test_move_back_after_target_died_is_a_no_op(nic_ns):
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW)
    target.close()
    netns.delete(target.name)  # the namespace dies and the veth with it
    assert move_back(host.nl, target, result) is False
    assert NIC not in by_name(host.nl)


def test_move_back_refuses_the_wrong_home(nic_ns, make_ns):
    host, target = nic_ns
    other = make_ns("o")
    result = move_and_rename(host.nl, NIC, target, NEW)
    with pytest.raises(MoveError) as info:
        move_back(other.nl, target, result)
    assert "nothing was changed" in str(info.value)
    assert move_back(host.nl, target, result) is True


def test_failed_rollback_says_where_the_device_is(nic_ns, no_preflight, monkeypatch):
    host, target = nic_ns
    occupy(target, NEW)
    real_go = move_mod._Mover.go
    calls = []

    def go(self, dst, name, up, **kwargs):
        calls.append(dst.label)
        if len(calls) > 1:  # the forward move runs; the rollback is sabotaged
            raise KernelError("sabotaged rollback step", errno.EIO)
        return real_go(self, dst, name, up, **kwargs)

    monkeypatch.setattr(move_mod._Mover, "go", go)
    with pytest.raises(MoveError) as info:
        move_and_rename(host.nl, NIC, target, NEW, strategy="via-temp-ns")
    text = str(info.value)
    print(f"\n{text}")
    assert "ROLLBACK FAILED" in text and "sabotaged rollback step" in text
    # it failed after the rename in the temporary namespace: that is where it is
    assert f"is now in {move_mod._TEMP_LABEL} as {NEW}" in text
    assert f"it belongs in {host.name} as {NIC}, up" in text  # the hint


def test_probe_runs_once_for_concurrent_callers(monkeypatch):
    import threading

    calls = []
    real = move_mod._run_probe

    def counting() -> bool:
        calls.append(threading.get_ident())
        return real()

    monkeypatch.setattr(move_mod, "_probe_result", None)
    monkeypatch.setattr(move_mod, "_run_probe", counting)
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(probe_move_rename()))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 6 and len(set(results)) == 1


def test_altname_move_with_loopback_up(nic_ns, monitor):
    """A container's lo is often up: the device still shows only its final name there;
    lo is announced (twice, as lo) while it holds the old name, and keeps nothing."""
    skip_atomic_unless_supported("altname")
    host, target = nic_ns
    target.nl.request(set_link_request(1, up=True))
    watch = monitor(target)
    result = move_and_rename(host.nl, NIC, target, NEW, strategy="altname")
    events = watch.drain()
    print(f"\ntarget saw: {[(e.event, e.name, e.index) for e in events]}")
    assert {e.name for e in events if e.index == result.index} == {NEW}
    assert {e.name for e in events if e.index != result.index} <= {"lo"}
    assert lo_altnames(target) == []
    assert move_back(host.nl, target, result) is True
    assert_home(host, up=True)


def test_altname_move_when_old_name_is_taken_in_target(nic_ns, monitor):
    """The old name is already a device in the target: the kernel renames on its own,
    and the stranger keeps its name (lo lends nothing)."""
    skip_atomic_unless_supported("altname")
    host, target = nic_ns
    stranger_mac = occupy(target, NIC)
    watch = monitor(target)
    result = move_and_rename(host.nl, NIC, target, NEW, strategy="altname")
    in_target = by_name(target.nl)
    assert in_target[NIC].mac == stranger_mac and in_target[NEW].mac == MAC
    assert {e.name for e in watch.drain() if e.index == result.index} == {NEW}
    assert lo_altnames(target) == []
    assert move_back(host.nl, target, result) is True
    assert_home(host, up=True)


# -- renamed before leaving (CNI DEL's way home) -----------------------------------------


def refuse_detour(monkeypatch) -> None:
    """From now on, fail if a temporary namespace is opened (the two-move way)."""
    def refuse():
        raise AssertionError("a temporary namespace was opened: two moves, not one")

    monkeypatch.setattr(move_mod, "_open_temp_namespace", refuse)


@pytest.mark.parametrize("strategy", ["altname", "via-temp-ns", "auto"])
def test_move_back_renamed_before_leaving_is_one_clean_move(nic_ns, monitor, monkeypatch,
                                                            strategy):
    """Home sees only the original name; the target sees the device set down, then
    renamed to its original name while down, then leave; no temporary namespace."""
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW, strategy=strategy)
    refuse_detour(monkeypatch)
    watch_host, watch_target = monitor(host), monitor(target)
    assert move_back(host.nl, target, result, strategy=strategy,
                     rename_before_leaving=True) is True
    seen_target = [(e.event, e.name, e.up) for e in watch_target.drain()]
    assert_home(host, up=True)
    assert NEW not in by_name(target.nl) and NIC not in by_name(target.nl)
    print(f"\n[{strategy}] host saw {sorted(watch_host.names() - {PEER})}, "
          f"target saw {seen_target}")
    assert watch_host.names() - {PEER} == {NIC}, "seen in the host under another name"
    assert {name for _e, name, _up in seen_target} == {NEW, NIC}
    assert all(not up for _e, name, up in seen_target if name == NIC), \
        "the target saw the original name on a running device"
    first_nic = next(i for i, (_e, name, _up) in enumerate(seen_target) if name == NIC)
    assert all(name == NIC for _e, name, _up in seen_target[first_nic:])
    assert seen_target[-1][:2] == ("del", NIC)
    # idempotent as without the option
    assert move_back(host.nl, target, result, rename_before_leaving=True) is False


def test_renamed_before_leaving_takes_the_detour_when_the_name_is_taken(nic_ns, monitor):
    """A stranger holds the original name in the target: the device is not renamed
    there (the rename would fail anyway) and goes through a temporary namespace."""
    skip_atomic_unless_supported("altname")
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW)
    stranger_mac = occupy(target, NIC)
    watch_host, watch_target = monitor(host), monitor(target)
    assert move_back(host.nl, target, result, rename_before_leaving=True) is True
    assert_home(host, up=True)
    assert by_name(target.nl)[NIC].mac == stranger_mac
    assert watch_host.names() - {PEER} == {NIC}
    ours = {e.name for e in watch_target.drain() if e.index == result.index}
    assert ours == {NEW}, "the target saw our device under another name"


def test_renamed_before_leaving_rolls_back_when_home_refuses(nic_ns, monitor):
    """The original name is taken at home by the time the device comes back: the one
    move fails, and the device is in the target again under its name there, up."""
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW)
    stranger_mac = occupy(host, NIC)
    watch_host = monitor(host)
    with pytest.raises(MoveError) as info:
        move_back(host.nl, target, result, rename_before_leaving=True)
    print(f"\n{info.value}")
    assert info.value.errno == errno.EEXIST
    assert "rolled back" in str(info.value) and "ROLLBACK FAILED" not in str(info.value)
    back = by_name(target.nl)[NEW]
    assert (back.mac, back.up, back.index) == (MAC, True, result.index)
    assert NIC not in by_name(target.nl)
    assert by_name(host.nl)[NIC].mac == stranger_mac
    assert {e.index for e in watch_host.drain() if e.name == NIC} <= \
        {by_name(host.nl)[NIC].index}, "our device was seen in the host"


def test_move_back_uses_the_device_the_caller_found(nic_ns, monkeypatch):
    """A caller that has just looked the device up in the target passes it: the target
    is not listed again. One that does not match (another MAC: stale) is not trusted."""
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW)
    seen = by_name(target.nl)[NEW]
    listed: list[str] = []
    find_in = move_mod._Mover.find_in

    def spy(self, place):
        listed.append(place.label)
        return find_in(self, place)

    monkeypatch.setattr(move_mod._Mover, "find_in", spy)
    assert move_back(host.nl, target, result, rename_before_leaving=True, found=seen) is True
    assert_home(host, up=True)
    assert target.name not in listed, "the target was listed although the caller found it"
    result = move_and_rename(host.nl, NIC, target, NEW)
    listed.clear()
    stale = by_name(target.nl)[NEW]
    object.__setattr__(stale, "mac", "02:00:00:00:00:01")
    assert move_back(host.nl, target, result, rename_before_leaving=True, found=stale) is True
    assert_home(host, up=True)
    assert target.name in listed


def test_move_back_looks_home_up_by_name(nic_ns, monitor, monkeypatch):
    """``look_up_by_name``: the device is checked at home with one request by name, home
    is never listed, and home still sees it only under its original name."""
    host, target = nic_ns
    result = move_and_rename(host.nl, NIC, target, NEW)
    watch_host = monitor(host)

    def refuse(nl, name):
        raise AssertionError(f"listed every interface in {nl.label} to find {name}")

    monkeypatch.setattr(move_mod, "_link_named", refuse)
    assert move_back(host.nl, target, result, rename_before_leaving=True,
                     found=by_name(target.nl)[NEW], look_up_by_name=True) is True
    monkeypatch.undo()
    assert_home(host, up=True)
    assert watch_host.names() - {PEER} == {NIC}
