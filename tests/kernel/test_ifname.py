"""The one interface-name check agrees with the kernel's dev_valid_name()."""

from __future__ import annotations

import pytest

from netknit._ifname import IFNAMSIZ, ifname_error
from netknit.kernel import VethEnd, create_veths, links

pytestmark = pytest.mark.root

# what the kernel accepts (kernel_only passes) and what it refuses; names with which the
# kernel picks a name itself ('', '%d') are checked apart
NAMES = ["e", "eth1", "x" * (IFNAMSIZ - 1), "a.b-c_d", "é1", "e\x01", "e\x1c", "e\x7f",
         ".", "..", "x" * IFNAMSIZ, "a/b", "a:b", "a b", "a\tb", "a\nb", "a\vb", "a\fb",
         "a\rb", "à", "é" * 8]


@pytest.mark.parametrize("name", NAMES, ids=repr)
def test_kernel_only_check_is_dev_valid_name(make_ns, name: str) -> None:
    ns = make_ns("ifn")
    created = create_veths(ns.nl, [(VethEnd(name), VethEnd("peer0"))])[0] is None
    assert (ifname_error(name, kernel_only=True) is None) == created, (name, created)
    if created:
        assert name in {link.name for link in links(ns.nl)}


@pytest.mark.parametrize("name", ["", "e%d"], ids=repr)
def test_names_the_kernel_picks_itself_are_refused(make_ns, name: str) -> None:
    """The kernel takes these but names the device itself: refused by both checks."""
    ns = make_ns("ifp")
    assert create_veths(ns.nl, [(VethEnd(name), VethEnd("peer0"))])[0] is None
    assert name not in {link.name for link in links(ns.nl)}
    assert ifname_error(name, kernel_only=True) and ifname_error(name)


@pytest.mark.parametrize("name", ["é1", "e\x01", "e\x1c", "e\x7f"], ids=repr)
def test_names_netknit_gives_are_printable_ascii(name: str) -> None:
    assert ifname_error(name, kernel_only=True) is None
    assert "not ASCII" in (ifname_error(name) or "") or "control" in (ifname_error(name) or "")
