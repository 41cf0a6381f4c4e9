"""Checks of single values: interface names, MACs, IP addresses, names.

Each returns an error message (``str``) for the user, or the parsed value. The rules are
the kernel's, so that nothing invalid reaches netlink.
"""

from __future__ import annotations

import re
from ipaddress import (
    IPv4Address,
    IPv4Interface,
    IPv6Address,
    IPv6Interface,
    ip_address,
    ip_interface,
)
from typing import Any, Literal

# the one interface-name check, re-exported for the loader
from netknit._ifname import IFNAME_MAX as IFNAME_MAX
from netknit._ifname import ifname_error as ifname_error
from netknit.topology._context import show

#: NAME_MAX: a file name (the lab directory, /run/netns/<namespace>, a node's directory).
FILENAME_MAX = 255
#: HOST_NAME_MAX: a Docker node's name is its container's hostname.
HOSTNAME_MAX = 64
#: Lab and node names end up in namespace, container and interface names.
NAME_RE = re.compile(r"[A-Za-z0-9_.-]+\Z")
_MAC_RE = re.compile(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}\Z")

Address = IPv4Interface | IPv6Interface


def parse_mac(text: str) -> str:
    """A MAC normalised to lower case; raises ValueError with a message for the user."""
    if not _MAC_RE.match(text):
        raise ValueError(
            f"MAC address '{text}' is not six hex octets separated by ':' (e.g. 02:00:00:00:00:01)"
        )
    mac = text.lower()
    if int(mac[:2], 16) & 1:
        raise ValueError(
            f"MAC address {mac} is a multicast address (lowest bit of the first octet "
            "is set); Linux refuses it on an interface"
        )
    if mac == "00:00:00:00:00:00":
        raise ValueError("MAC address 00:00:00:00:00:00 is not allowed by Linux")
    return mac


def parse_address(text: str, family: Literal[4, 6]) -> Address:
    """An address with prefix length (``10.0.0.1/24``); raises ValueError for the user."""
    field = f"ipv{family}"
    example = "10.0.0.1/24" if family == 4 else "2001:db8::1/64"
    if "/" not in text:
        plen = "/24" if family == 4 else "/64"
        raise ValueError(f"address '{text}' has no prefix length (write e.g. '{text}{plen}')")
    if "%" in text:
        raise ValueError(f"address '{text}': a zone index (%...) is not allowed here")
    try:
        address = ip_interface(text.strip())
    except ValueError:
        raise ValueError(
            f"'{text}' is not a valid {field} address with prefix length (e.g. {example})"
        ) from None
    if address.version != family:
        raise ValueError(
            f"'{text}' is an IPv{address.version} address, but this is the {field} field"
        )
    if address.ip.is_unspecified or address.ip.is_multicast:
        raise ValueError(f"'{text}' is not a unicast address")
    return address


def parse_ip(text: str, whose: str, *, multicast: bool = False) -> IPv4Address | IPv6Address:
    """An address without prefix length (a VTEP, a VXLAN remote); raises ValueError.

    ``whose`` names what the address is of, for the message ("the remote").
    """
    text = text.strip()
    if "/" in text:
        bare = text.partition("/")[0]
        raise ValueError(f"'{text}' has a prefix length: write {whose}'s address alone ({bare})")
    if "%" in text:
        raise ValueError(f"'{text}': a zone index (%...) is not allowed here")
    try:
        address = ip_address(text)
    except ValueError:
        raise ValueError(
            f"'{text}' is not an IP address: write {whose}'s address; "
            "netknit does not resolve names at validation"
        ) from None
    if address.is_unspecified or (address.is_multicast and not multicast):
        raise ValueError(f"'{text}' is not a unicast address: write {whose}'s own address")
    return address


def parse_range(value: Any, lowest: int, highest: int, *, single: bool) -> tuple[int, int]:
    """``"low-high"`` or ``[low, high]`` (or one number when ``single``) within
    ``lowest..highest``; raises ValueError with a message for the user."""
    bounds: list[Any]
    if isinstance(value, str):
        bounds = [part.strip() for part in value.split("-")] if "-" in value else [value.strip()]
        if not all(part.isdigit() for part in bounds) or len(bounds) > 2:
            bounds = []
        bounds = [int(part) for part in bounds]
    elif isinstance(value, list):
        bounds = value
    else:
        bounds = [value]
    if len(bounds) == 1 and single:
        bounds = bounds * 2
    ok = len(bounds) == 2 and all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
    if not ok:
        example = f"'{lowest}-{highest}' or [{lowest}, {highest}]"
        one = "a number or " if single else ""
        raise ValueError(f"expected {one}a range like {example} (got {show(value)})")
    low, high = bounds
    if not lowest <= low <= high <= highest:
        raise ValueError(
            f"range {low}-{high} must be within {lowest}-{highest}, low end first"
        )
    return low, high
