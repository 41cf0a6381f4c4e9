"""Hypothesis strategies for topology files: small valid labs, and mutations of them.

``valid_topology()`` draws a lab that loads and can be deployed by an unprivileged-name-
safe root test: at most 4 nodes of kinds netns/bridge, a short random lab name, node
interfaces eth1..eth4, host-side names (bridges, bridge ports) derived from the lab name
so that they cannot clash with the machine's own interfaces, addresses in 10.99.x.0/24
and fd00:99:x::/64.

``mutated_topology()`` dumps such a lab to YAML after 0..N random mutations (deleted or
inserted keys, changed types and values, duplicated links, long names, duplicated lines).
Many results are invalid on purpose; with zero mutations the text is valid.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml
from hypothesis import strategies as st

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=70_000),
    st.text(max_size=20),
    st.sampled_from(["", "eth1", "10.99.0.1/24", "02:00:00:00:00:01", "linux", "bridge"]),
)
_VALUES = st.one_of(
    _SCALARS,
    st.lists(_SCALARS, max_size=3),
    st.dictionaries(st.text(max_size=6), _SCALARS, max_size=2),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=16, max_size=40),
)
_KEYS = st.one_of(
    st.sampled_from(
        [
            "kind", "image", "binds", "mtu", "type", "ipv4", "ipv6", "mac", "env", "exec",
            "imgae", "mgmt", "endpoint", "endpoints", "host-interface", "startup-delay",
            "labels", "prefix", "defaults", "kinds", "groups",
        ]
    ),
    st.text(max_size=10),
)  # fmt: skip


@st.composite
def valid_topology(draw: st.DrawFn) -> dict[str, Any]:
    """A small lab as plain data, valid for ``netknit.topology.loads``."""
    lab = draw(st.from_regex(r"nk[a-z0-9]{3}", fullmatch=True))
    namespaces = [f"n{i}" for i in range(1, draw(st.integers(1, 4)) + 1)]
    bridges = [f"{lab}br{i}" for i in range(1, draw(st.integers(0, 4 - len(namespaces))) + 1)]
    nodes: dict[str, Any] = {n: {"kind": "netns"} for n in namespaces}
    nodes.update({b: {"kind": "bridge"} for b in bridges})
    if draw(st.booleans()):  # the kind may come from defaults
        for name in namespaces:
            nodes[name] = None
    free = {n: [f"eth{i}" for i in range(1, 5)] for n in namespaces}

    links: list[dict[str, Any]] = []
    for index in range(draw(st.integers(0, 4))):
        starts = [n for n in namespaces if free[n]]
        if not starts:
            break
        a = draw(st.sampled_from(starts))
        peers = [n for n in namespaces if n != a and free[n]] + bridges
        if not peers:
            break
        b = draw(st.sampled_from(peers))
        a_if = free[a].pop(0)
        b_if = f"{lab}p{index}" if b in bridges else free[b].pop(0)
        v4 = [f"10.99.{index}.1/24", "" if b in bridges else f"10.99.{index}.2/24"]
        v6 = [f"fd00:99:{index}::1/64", "" if b in bridges else f"fd00:99:{index}::2/64"]
        with_addresses = draw(st.booleans())
        link: dict[str, Any]
        if draw(st.booleans()):
            link = {"endpoints": [f"{a}:{a_if}", f"{b}:{b_if}"]}
            if with_addresses:
                link.update(ipv4=v4, ipv6=v6)
        else:
            ends = [{"node": a, "interface": a_if}, {"node": b, "interface": b_if}]
            if with_addresses:
                for end, address4, address6 in zip(ends, v4, v6, strict=True):
                    end.update(ipv4=address4, ipv6=[address6] if address6 else [])
            if draw(st.booleans()):
                ends[0]["mac"] = f"02:00:00:99:{index:02x}:01"
            link = {"type": "veth", "endpoints": ends}
        mtu = draw(st.sampled_from([None, 1500, 9000]))
        if mtu is not None:
            link["mtu"] = mtu
        links.append(link)

    topology: dict[str, Any] = {"nodes": nodes, "links": links}
    if any(v is None for v in nodes.values()):
        topology = {"defaults": {"kind": "netns"}, **topology}
    return {"name": lab, "topology": topology}


def _slots(data: Any) -> list[tuple[Any, Any]]:
    """Every (container, key-or-index) in ``data``, depth first."""
    out: list[tuple[Any, Any]] = []
    if isinstance(data, dict):
        for key, value in data.items():
            out.append((data, key))
            out.extend(_slots(value))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            out.append((data, index))
            out.extend(_slots(value))
    return out


def _containers(data: Any) -> list[Any]:
    found = [data] if isinstance(data, dict | list) else []
    values = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    for value in values:
        found.extend(_containers(value))
    return found


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


@st.composite
def mutated_topology(draw: st.DrawFn, max_mutations: int = 3) -> str:
    """YAML text of a small lab after 0..``max_mutations`` random mutations."""
    data = copy.deepcopy(draw(valid_topology()))
    for _ in range(draw(st.integers(0, max_mutations))):
        operation = draw(
            st.sampled_from(["delete", "insert", "replace", "duplicate-link", "rename-node"])
        )
        slots = _slots(data)
        if operation == "delete" and slots:
            container, key = draw(st.sampled_from(slots))
            del container[key]
        elif operation == "insert":
            container = draw(st.sampled_from(_containers(data)))
            if isinstance(container, dict):
                container[draw(_KEYS)] = draw(_VALUES)
            else:
                container.append(draw(_VALUES))
        elif operation == "replace" and slots:
            container, key = draw(st.sampled_from(slots))
            container[key] = draw(_VALUES)
        elif operation == "duplicate-link":
            links = _get(data, "topology", "links")
            if isinstance(links, list) and links:
                links.append(copy.deepcopy(draw(st.sampled_from(links))))
        elif operation == "rename-node":
            nodes = _get(data, "topology", "nodes")
            if isinstance(nodes, dict) and nodes:
                old = draw(st.sampled_from(sorted(nodes)))
                nodes[draw(_VALUES.map(str))] = nodes.pop(old)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    if draw(st.integers(0, 9)) == 0:  # now and then a duplicated line: duplicate keys
        lines = text.splitlines(keepends=True)
        at = draw(st.integers(0, len(lines) - 1))
        text = "".join([*lines[: at + 1], lines[at], *lines[at + 1 :]])
    return text
