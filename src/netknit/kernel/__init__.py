"""The only code in netknit that speaks netlink.

Small functions over a :class:`Netlink` socket bound to one namespace. Namespaces are made
in-process (:mod:`._ns`); veth pairs are born in place (:mod:`._link`); devices move with
their final name only (:mod:`._move`); every dump goes through :meth:`Netlink.dump_raw`,
which retries interrupted dumps. The requests and dumps deploy makes by the hundred are
packed and parsed by :mod:`._msg` and its siblings (fixed layouts, ~10 µs each): no
pyroute2 at run time (``import pyroute2`` alone costs ~140 ms).
"""

from __future__ import annotations

import sys as _sys

# Imported on first use (PEP 562), not with the package: the CNI plugin, a process per
# call, imports a few kernel modules directly and must not pay for the others.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from . import _ns as netns
    from ._devices import (
        Device,
        VxlanInfo,
        VxlanParams,
        create_devices,
        device_request,
        vxlan_info,
    )
    from ._ethtool import tx_checksum, tx_checksum_off
    from ._link import (
        Address,
        IfConfig,
        VethEnd,
        addresses,
        configure,
        create_bridge,
        create_veths,
        delete_by_index,
        delete_links,
        links,
        move_links,
        veth_request,
    )
    from ._lookup import AliasedLink, links_with_alias
    from ._move import (
        DeviceState,
        MoveResult,
        Strategy,
        move_and_rename,
        move_back,
        probe_move_rename,
        probe_move_strategy,
    )
    from ._msg import LinkInfo, set_link_request
    from ._nl import NLM_F_DUMP_INTR, Netlink, Request
    from ._ns import Namespace, entered, netns_path
    from ._tc import stitch, stitched

__all__ = [
    "NLM_F_DUMP_INTR",
    "Address",
    "AliasedLink",
    "Device",
    "DeviceState",
    "IfConfig",
    "LinkInfo",
    "MoveResult",
    "Namespace",
    "Netlink",
    "Request",
    "Strategy",
    "VethEnd",
    "VxlanInfo",
    "VxlanParams",
    "addresses",
    "configure",
    "create_bridge",
    "create_devices",
    "create_veths",
    "delete_by_index",
    "delete_links",
    "device_request",
    "entered",
    "links",
    "links_with_alias",
    "move_and_rename",
    "move_back",
    "move_links",
    "netns",
    "netns_path",
    "probe_move_rename",
    "probe_move_strategy",
    "set_link_request",
    "stitch",
    "stitched",
    "tx_checksum",
    "tx_checksum_off",
    "veth_request",
    "vxlan_info",
]

#: public name -> the module that defines it (tests/cni/test_lean.py checks it against
#: ``__all__``)
_WHERE = {
    "netns": "_ns",
    **dict.fromkeys(("Device", "VxlanInfo", "VxlanParams", "create_devices", "device_request",
                     "vxlan_info"), "_devices"),
    **dict.fromkeys(("Address", "IfConfig", "VethEnd", "addresses", "configure", "create_bridge",
                     "create_veths", "delete_by_index", "delete_links", "links", "move_links",
                     "veth_request"), "_link"),
    **dict.fromkeys(("AliasedLink", "links_with_alias"), "_lookup"),
    **dict.fromkeys(("tx_checksum", "tx_checksum_off"), "_ethtool"),
    **dict.fromkeys(("DeviceState", "MoveResult", "Strategy", "move_and_rename", "move_back",
                     "probe_move_rename", "probe_move_strategy"), "_move"),
    **dict.fromkeys(("LinkInfo", "set_link_request"), "_msg"),
    **dict.fromkeys(("NLM_F_DUMP_INTR", "Netlink", "Request"), "_nl"),
    **dict.fromkeys(("Namespace", "entered", "netns_path"), "_ns"),
    **dict.fromkeys(("stitch", "stitched"), "_tc"),
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    __import__(f"{__name__}.{module}")
    loaded = _sys.modules[f"{__name__}.{module}"]
    value = loaded if name == "netns" else getattr(loaded, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
