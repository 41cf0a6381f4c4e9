"""Action ids: the one place that spells them.

An id names what an action makes (``veth:<netns>/<ifname>``) or which step of a node it
is (``on-enter:create-links:<node>``). Dependencies, cycle messages and the journal use
these strings, so they are built here and nowhere else.
"""

from __future__ import annotations


def where(netns: str | None, name: str) -> str:
    """An interface's place: ``<netns>/<name>``, ``host/<name>`` in the host namespace."""
    return f"{netns or 'host'}/{name}"


def node(name: str) -> str:
    return f"node:{name}"


def bridge(name: str) -> str:
    return f"bridge:{name}"


def veth(place: str) -> str:
    """A veth pair, by the place of its main end."""
    return f"veth:{place}"


def attach(place: str) -> str:
    """A parked veth end moved into its node, by the end's place."""
    return f"attach:{place}"


def device(place: str) -> str:
    return f"device:{place}"


def move(place: str) -> str:
    return f"move:{place}"


def stitch(first: str) -> str:
    """A tc stitch in the host, by its first device's name."""
    return f"stitch:{first}"


def configure(netns: str | None) -> str:
    return f"configure:{netns or 'host'}"


def start(name: str) -> str:
    return f"start:{name}"


def run(name: str) -> str:
    """A node's ``exec:`` commands."""
    return f"exec:{name}"


def stage(phase: str, name: str, node: str) -> str:
    """A node entering (``on-enter``) or finishing (``on-exit``) lifecycle stage ``name``."""
    return f"{phase}:{name}:{node}"


def enter(name: str, node: str) -> str:
    return stage("on-enter", name, node)


def leave(name: str, node: str) -> str:
    return stage("on-exit", name, node)


def parse_stage(action_id: str) -> tuple[str, str, str] | None:
    """``(phase, stage, node)`` of a stage point's id, None for other ids."""
    phase, _, rest = action_id.partition(":")
    if phase not in ("on-enter", "on-exit"):
        return None
    name, _, node = rest.partition(":")
    return phase, name, node
