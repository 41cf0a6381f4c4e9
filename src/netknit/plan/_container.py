"""What a Docker node's containers must be: fixed by the plan, before anything starts.

Pure. Names and labels follow containerlab (``clab-<lab>-<node>``; ``containerlab``,
``clab-node-name``, ``clab-node-kind``, ``clab-node-type``, ``clab-node-group``,
``clab-node-lab-dir``, ``clab-topo-file``), so tools written for containerlab labs find
netknit's containers; netknit's own labels say which lab directory owns a container.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import field

from .. import kinds
from .._dataclass import dataclass
from ..topology import ContainerOptions, Healthcheck, Node, Topology, joins_mgmt

#: The sandbox image netknit builds itself from Debian's busybox-static when missing.
DEFAULT_SANDBOX_IMAGE = "netknit/sandbox:2"
LABEL_LAB_DIR = "netknit.lab-dir"
LABEL_ROLE = "netknit.role"  # sandbox | workload
#: containerlab's label of a node's directory (the runtime knows its absolute path)
LABEL_NODE_LAB_DIR = "clab-node-lab-dir"
#: containerlab's restart policy of linux nodes when none is set (nodes/linux/linux.go)
DEFAULT_RESTART_POLICY = "always"
#: containerlab's default no_proxy entries (core/config.go addEnvVarsToNodeCfg)
_NO_PROXY = ("localhost", "127.0.0.1", "::1", "*.local")


def label_env(labels: Mapping[str, str]) -> dict[str, str]:
    """containerlab's ``CLAB_LABEL_<KEY>`` variables of a container's labels (ToEnvKey:
    ``-+./`` become ``_``, other characters outside ``[A-Za-z0-9_]`` go, upper case)."""
    return {"CLAB_LABEL_" + re.sub(r"[^a-zA-Z0-9_]+", "", re.sub(r"[-+./]", "_", k)).upper(): v
            for k, v in labels.items()}


def node_labels(topo: Topology, node: Node) -> dict[str, str]:
    """A node's labels as containerlab's addDefaultLabels makes them: the user's, then
    its own over them (a Docker node's container carries them; ``exec --label`` picks
    any node by them)."""
    return {
        **node.labels,
        "containerlab": topo.name,
        "clab-node-name": node.name,
        "clab-node-longname": topo.full_name(node.name),
        "clab-node-kind": node.kind,
        "clab-node-type": "",
        "clab-node-group": node.group or "",
        LABEL_NODE_LAB_DIR: f"clab-{topo.name}/{node.name}",
        "clab-topo-file": str(topo.path.absolute()) if topo.path else "",
        "clab-owner": deploying_user(),
    }


def deploying_user() -> str:
    """Who deploys: the user behind sudo (containerlab's ``clab-owner``)."""
    return os.environ.get("SUDO_USER") or os.environ.get("USER", "")


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """The containers of one Docker node."""

    name: str  # the workload container: clab-<lab>-<node>
    image: str
    cmd: str | None
    entrypoint: str | None
    env: Mapping[str, str]  # CLAB_INTFS and NETKNIT_INTFS included
    binds: tuple[str, ...]
    labels: Mapping[str, str]  # containerlab's, the user's; netknit adds its own at runtime
    user: str | None
    healthcheck: Healthcheck | None
    restart_policy: str | None
    network_mode: str  # none | host | container:<container name of the other node>
    strategy: str  # sandbox | gate | none
    sandbox_image: str | None  # None: the built-in default
    interfaces: tuple[str, ...]  # the lab interfaces in its namespace, file order
    hostname: str = ""  # containerlab's ``hostname``, else the node name
    options: ContainerOptions = field(default_factory=ContainerOptions)
    mgmt_network: str | None = None
    mgmt_ipv4: str | None = None
    mgmt_ipv6: str | None = None
    #: containerlab's ExtraHosts (``name:address``): every node's static management address
    extra_hosts: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def sandbox_name(self) -> str:
        return f"{self.name}-sandbox"


def container_spec(topo: Topology, node: Node) -> ContainerSpec | None:
    """The containers of ``node``, or None if it is not a Docker node."""
    if not kinds.get(node.kind).container:
        return None
    assert node.image is not None  # the loader insists on an image
    interfaces = tuple(e.interface for link in topo.links for e in link.endpoints
                       if e.node == node.name)
    labels = node_labels(topo, node)
    env = {
        **node.env,
        **_no_proxy(topo, node.env),
        **label_env(labels),
        # containerlab's count of every endpoint (nodes/linux/linux.go Deploy), and
        # netknit's exact names, for `netknit wait` and its script (any naming)
        "CLAB_INTFS": str(len(interfaces)),
        "NETKNIT_INTFS": ",".join(interfaces),
    }
    mode = node.network_mode
    if mode.startswith("container:"):
        mode = f"container:{topo.full_name(mode.partition(':')[2])}"
    use_mgmt = topo.mgmt is not None and joins_mgmt(node)
    return ContainerSpec(
        name=topo.full_name(node.name),
        image=node.image,
        cmd=node.cmd,
        entrypoint=node.entrypoint,
        env=env,
        binds=node.binds,
        labels=labels,
        user=node.user,
        healthcheck=node.healthcheck,
        restart_policy=node.restart_policy or DEFAULT_RESTART_POLICY,
        network_mode=mode,
        strategy=node.start_strategy if mode == "none" else "none",
        sandbox_image=node.sandbox_image,
        interfaces=interfaces,
        hostname=node.options.hostname or node.name,
        options=node.options,
        mgmt_network=topo.mgmt.network if use_mgmt and topo.mgmt else None,
        mgmt_ipv4=str(node.mgmt_ipv4) if use_mgmt and node.mgmt_ipv4 else None,
        mgmt_ipv6=str(node.mgmt_ipv6) if use_mgmt and node.mgmt_ipv6 else None,
        extra_hosts=() if mode.startswith("container:") else _extra_hosts(topo),
    )


def _extra_hosts(topo: Topology) -> tuple[str, ...]:
    """containerlab's populateExtraHosts (core/deploy.go): the static management addresses
    of every node, by node name, IPv4 then IPv6, nodes sorted; on every node that does
    not share another's namespace."""
    return tuple(f"{node.name}:{address}" for node in sorted(topo.nodes.values(),
                                                             key=lambda n: n.name)
                 for address in (node.mgmt_ipv4, node.mgmt_ipv6) if address is not None)


def _no_proxy(topo: Topology, env: Mapping[str, str]) -> dict[str, str]:
    """containerlab's ``no_proxy``/``NO_PROXY``: the user's value (or its defaults) with the
    defaults it lacks, then every node name, static management address and the management
    subnets, sorted (core/config.go addEnvVarsToNodeCfg)."""
    own = env.get("no_proxy", env.get("NO_PROXY"))
    value = own if own is not None else ",".join(_NO_PROXY)
    if own is not None:
        value += "".join(f",{d}" for d in _NO_PROXY if d not in own)
    names: list[str] = []
    for other in topo.nodes.values():
        names.append(other.name)
        names += [str(a) for a in (other.mgmt_ipv4, other.mgmt_ipv6) if a is not None]
    if topo.mgmt is not None:
        names += [str(n) for n in (topo.mgmt.ipv4_subnet, topo.mgmt.ipv6_subnet) if n]
    value += "," + ",".join(sorted(names))
    return {"no_proxy": value, "NO_PROXY": value}
