"""The only code in netknit that speaks netlink.

Small functions over a :class:`Netlink` socket bound to one namespace. Namespaces are made
in-process (:mod:`._ns`); veth pairs are born in place (:mod:`._link`); devices move with
their final name only (:mod:`._move`); every dump goes through :meth:`Netlink.dump_raw`,
which retries interrupted dumps. The requests and dumps deploy makes by the hundred are
packed and parsed by :mod:`._msg` and its siblings (fixed layouts, ~10 µs each): no
pyroute2 at run time (``import pyroute2`` alone costs ~140 ms).
"""

from . import _ns as netns
from ._devices import (
    Device,
    VxlanInfo,
    VxlanParams,
    create_devices,
    device_request,
    vxlan_info,
)
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
    "veth_request",
    "vxlan_info",
]
