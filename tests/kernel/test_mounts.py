"""netknit in a mount namespace of its own: the /run/netns that paths resolve to decides
whether namespaces made there are seen (and so whether netknit joins the host's)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.root

PROBE = "from netknit.kernel._mounts import _host_mounts as h; print(h())"


def _probe(setup: str) -> str:
    """What netknit decides in a private mount namespace prepared by ``setup``."""
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                           f"{setup} exec {sys.executable} -c '{PROBE}'"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root: mount namespaces")
def test_a_shared_run_netns_stacked_on_the_hosts_is_used() -> None:
    """A private world (its own /run/netns, shared, mounted over the host's copy) keeps
    its namespaces: netknit must not join another mount namespace."""
    own = _probe("mount -t tmpfs -o mode=0755 tmpfs /run/netns && "
                 "mount --make-shared /run/netns &&")
    assert own == "None"
    # without a shared /run/netns of its own (as under `ip netns exec`) it joins one
    assert _probe("mount --make-private /run/netns 2>/dev/null;") != "None"
