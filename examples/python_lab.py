#!/usr/bin/env python3
"""A lab built in Python: two hosts, each on its own subnet, and a router between them.

    h1 (10.0.1.1) ── r1 ── (10.0.2.1) h2

Run as root:   python3 examples/python_lab.py [LAB_NAME]

It deploys the lab on netknit's built-in namespace runtime (no images), pings h2 from
h1 through the router, prints each node's interfaces, and destroys the lab on the way
out, also when something fails or you press Ctrl-C. `lab.to_yaml()` gives the same lab
as a containerlab file.
"""

from __future__ import annotations

import sys

import netknit


def build(name: str = "python-lab") -> netknit.Lab:
    lab = netknit.Lab(name)  # nodes are network namespaces unless a kind says otherwise
    lab.add_node("h1", exec=["ip route add default via 10.0.1.254"])
    lab.add_node("h2", exec=["ip route add default via 10.0.2.254"])
    lab.add_node("r1", exec=["sysctl -qw net.ipv4.ip_forward=1"])
    lab.add_link("h1:eth1", "r1:eth1", ipv4=["10.0.1.1/24", "10.0.1.254/24"])
    lab.add_link("r1:eth2", "h2:eth1", ipv4=["10.0.2.254/24", "10.0.2.1/24"], mtu=1500)
    return lab


def main() -> int:
    lab = build(*sys.argv[1:2])
    try:
        lab.validate()  # the same checks as a topology file gets, at the calls above
    except netknit.TopologyError as exc:
        print(exc, file=sys.stderr)
        return 2
    with lab.deployed():
        ping = lab.exec("h1", ["ping", "-c1", "-W2", "10.0.2.1"])
        print(ping.output.rstrip())
        for node in lab.inspect().nodes:
            for iface in node.interfaces:
                print(f"{node.name:3} {iface.name:5} {iface.mac} "
                      f"{' '.join(iface.addresses)}")
        if ping.returncode != 0:
            print("h1 cannot reach h2 through r1", file=sys.stderr)
            return 1
    print(f"lab {lab.name!r} destroyed: nothing left")
    return 0


if __name__ == "__main__":
    sys.exit(main())
