"""What a Docker node's containers must be: fixed by the plan, before anything starts.

Pure. Names and labels follow containerlab (``clab-<lab>-<node>``; ``containerlab``,
``clab-node-name``, ``clab-node-kind``, ``clab-node-type``, ``clab-node-group``,
``clab-node-lab-dir``, ``clab-topo-file``), so tools written for containerlab labs find
netknit's containers; netknit's own labels say which lab directory owns a container.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .. import kinds
from ..topology import Healthcheck, Node, Topology

#: The sandbox image netknit builds itself from Debian's busybox-static when missing.
DEFAULT_SANDBOX_IMAGE = "netknit/sandbox:2"
LABEL_LAB_DIR = "netknit.lab-dir"
LABEL_ROLE = "netknit.role"  # sandbox | workload


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
    mgmt_network: str | None = None
    mgmt_ipv4: str | None = None
    mgmt_ipv6: str | None = None
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
    env = {
        **node.env,
        # containerlab's variable (a count of eth* interfaces, for its if-wait scripts) and
        # netknit's exact names, for `netknit wait` and its script (any naming)
        "CLAB_INTFS": str(sum(1 for i in interfaces if i.startswith("eth"))),
        "NETKNIT_INTFS": ",".join(interfaces),
    }
    lab_dir = f"clab-{topo.name}"
    labels = {
        **node.labels,
        "containerlab": topo.name,
        "clab-node-name": node.name,
        "clab-node-longname": topo.full_name(node.name),
        "clab-node-kind": node.kind,
        "clab-node-type": "",
        "clab-node-group": "",
        "clab-node-lab-dir": f"{lab_dir}/{node.name}",
        "clab-topo-file": str(topo.path or ""),
    }
    mode = node.network_mode
    if mode.startswith("container:"):
        mode = f"container:{topo.full_name(mode.partition(':')[2])}"
    use_mgmt = topo.mgmt is not None and mode == "none"
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
        restart_policy=node.restart_policy,
        network_mode=mode,
        strategy=node.start_strategy if mode == "none" else "none",
        sandbox_image=node.sandbox_image,
        interfaces=interfaces,
        mgmt_network=topo.mgmt.network if use_mgmt and topo.mgmt else None,
        mgmt_ipv4=str(node.mgmt_ipv4) if use_mgmt and node.mgmt_ipv4 else None,
        mgmt_ipv6=str(node.mgmt_ipv6) if use_mgmt and node.mgmt_ipv6 else None,
    )
