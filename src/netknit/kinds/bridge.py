"""``kind: bridge``: a Linux bridge in the host namespace, named after the node (used if it
exists, else created and removed on destroy); its endpoints are its ports."""

from __future__ import annotations

from .._ifname import ifname_error
from ._base import NodeKind


def _name_error(name: str) -> str | None:
    """A bridge node's name is the name of its interface in the host."""
    reason = ifname_error(name) or ("'lo' is the loopback interface" if name == "lo" else None)
    return f"a bridge node's name is its interface name: {reason}" if reason else None


KIND = NodeKind("bridge", runtime=None, own_namespace=False, ports=True,
                node_name_error=_name_error)
