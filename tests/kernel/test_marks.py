"""Marks: the alias every object netknit makes carries, and that the kernel keeps."""

from __future__ import annotations

import os

import pytest

from netknit.kernel import (
    Device,
    IfConfig,
    VethEnd,
    configure,
    create_bridge,
    create_devices,
    create_veths,
    links_with_alias,
    move_links,
    netns,
    set_link_request,
)

pytestmark = pytest.mark.root

MARK = "netknit-lab 0123456789abcdef test"


def aliases(nl):
    return {item.link.name: item.alias for item in links_with_alias(nl)}


def test_namespace_is_marked_before_it_shows_and_marks_reads_it(make_ns, tag):
    ns = make_ns("m")  # unmarked, as made for other tools
    name = f"nkt-{tag}-marked"
    made = netns.create(name, MARK)
    try:
        found = netns.marks([ns.name, name, f"nkt-{tag}-absent"])
        assert found == {ns.name: (ns.inode, ""), name: (made.inode, MARK)}
        assert aliases(made.nl)["lo"] == MARK
        # a placeholder (a namespace being made, nothing mounted yet) is not reported
        placeholder = f"nkt-{tag}-ph"
        os.close(os.open(netns.netns_path(placeholder), os.O_CREAT | os.O_EXCL, 0))
        try:
            assert placeholder not in netns.marks()
        finally:
            os.unlink(netns.netns_path(placeholder))
    finally:
        made.close()
        netns.delete(name, inode=made.inode)


def test_ends_born_here_are_marked_ends_elsewhere_by_configure(make_ns):
    a, b = make_ns("a"), make_ns("b")
    pairs = [(VethEnd("eth1", alias=MARK), VethEnd("eth1", ns_fd=b.fd, alias=MARK))]
    assert create_veths(a.nl, pairs) == [None]
    assert aliases(a.nl)["eth1"] == MARK
    assert aliases(b.nl)["eth1"] == ""  # the kernel ignores the alias when creating
    configure(b.nl, [IfConfig("eth1", alias=MARK)])
    assert aliases(b.nl)["eth1"] == MARK
    # kept across down/up and a move to another namespace
    index = next(i.link.index for i in links_with_alias(a.nl) if i.link.name == "eth1")
    a.nl.request(set_link_request(index, up=False))
    a.nl.request(set_link_request(index, up=True))
    c = make_ns("c")
    assert move_links(a.nl, [(index, c.fd, "move eth1")]) == [None]
    assert aliases(c.nl)["eth1"] == MARK


def test_a_failed_creation_never_marks_the_device_in_the_way(make_ns):
    a, b = make_ns("a"), make_ns("b")
    # someone else's devices hold the names
    assert create_veths(a.nl, [(VethEnd("eth1"), VethEnd("x1", ns_fd=b.fd))]) == [None]
    create_bridge(a.nl, "br0")
    errors = create_veths(a.nl, [(VethEnd("eth1", alias=MARK), VethEnd("y1", ns_fd=b.fd))])
    assert errors[0] is not None and errors[0].errno == 17
    with pytest.raises(Exception, match="File exists"):
        create_bridge(a.nl, "br0", alias=MARK)
    [err] = create_devices(a.nl, [Device("macvlan", "eth1", parent=1, alias=MARK)])
    assert err is not None
    assert aliases(a.nl)["eth1"] == "" and aliases(a.nl)["br0"] == ""
    create_bridge(a.nl, "br1", alias=MARK)
    assert aliases(a.nl)["br1"] == MARK
