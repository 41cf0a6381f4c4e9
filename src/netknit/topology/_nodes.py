"""Nodes: check each settings block, merge defaults < kinds < node, resolve the kind.

The merge follows containerlab (types/topology.go): a node's kind comes from the node or
from ``defaults`` (never from ``kinds``); ``image``/``cmd``/``startup-delay`` take the
first *non-empty* value of node, kind, defaults; ``env``/``labels`` merge key-wise with
the same precedence; ``exec`` lists are concatenated defaults + kind + node.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from netknit.topology._context import Context, show, suggest
from netknit.topology._model import Kind, Node
from netknit.topology._schema import NodeDef, validate
from netknit.topology._values import NAME_RE, ifname_error
from netknit.topology._yaml import YPath, format_path

#: Kinds netknit deploys. ``linux`` only as a bare namespace, with ``--runtime netns``.
KINDS: tuple[Kind, ...] = ("netns", "bridge", "host", "linux")
#: netknit's default when neither the node nor ``defaults`` names a kind.
DEFAULT_KIND: Kind = "netns"
#: containerlab's other kinds (schemas/clab.schema.json): known, not deployable yet.
CLAB_KINDS = frozenset(
    """srl nokia_srlinux nokia_srsim ceos arista_ceos crpd juniper_crpd sonic-vs sonic-vm
    vr-sros nokia_sros vr-nokia_sros vr-vmx vr-juniper_vmx juniper_vmx vr-vqfx
    vr-juniper_vqfx juniper_vqfx vr-vsrx vr-juniper_vsrx juniper_vsrx juniper_vjunosrouter
    juniper_vjunosswitch juniper_vjunosevolved vr-xrv vr-cisco_xrv cisco_xrv vr-xrv9k
    vr-cisco_xrv9k cisco_xrv9k vr-veos vr-arista_veos arista_veos vr-csr vr-cisco_csr
    cisco_csr1000v vr-pan vr-paloalto_panos paloalto_panos vr-ros vr-mikrotik_ros
    mikrotik_ros vr-n9kv vr-cisco_n9kv cisco_n9kv vr-nxos vr-cisco_nxos cisco_ftdv
    dell_ftosv dell_sonic vr-aoscx vr-aruba_aoscx aruba_aoscx ovs-bridge border0 mysocketio
    keysight_ixia-c-one ipinfusion_ocnos checkpoint_cloudguard ext-container xrd cisco_xrd
    rare c8000 cisco_c8000 c8000v cisco_c8000v cisco_cat9kv cisco_iol cvx cumulus_cvx
    openbsd freebsd generic_vm fortinet_fortigate k8s-kind""".split()  # noqa: SIM905
)
#: containerlab node settings (types/node_definition.go) that need the Docker runtime or
#: other later work. ``mgmt_ipv4``/``mgmt_ipv6`` are the older spellings.
CONTAINER_ONLY = tuple(
    """type group startup-config enforce-startup-config suppress-startup-config auto-remove
    restart-policy config image-pull-policy license entrypoint binds devices cap-add
    shm-size ports mgmt-ipv4 mgmt-ipv6 mgmt_ipv4 mgmt_ipv6 env-files user network-mode
    sandbox kernel runtime cpu cpu-set memory sysctls extras stages dns certificate
    healthcheck aliases components publish wait-for SANs""".split()  # noqa: SIM905
)
_AS_KIND: dict[str, Kind] = {k: k for k in KINDS}
_LINUX_HINT = "run with `--runtime netns` to wire linux nodes as bare namespaces (image ignored)"
#: Only used to draw graphs: accepted and ignored.
_COSMETIC = ("position",)


@dataclass(slots=True)
class _Layer:
    """One settings block (defaults, a kind, or a node), checked."""

    path: YPath
    spec: NodeDef = field(default_factory=NodeDef)
    extras: dict[str, YPath] = field(default_factory=dict)  # container-only keys set here


def _is_set(value: Any) -> bool:
    # containerlab treats empty values as unset (``omitempty`` and "first non-empty").
    return value not in (None, "", [], {}, False, 0)


def _layer(ctx: Context, raw: Any, path: YPath) -> _Layer:
    if raw is None:
        return _Layer(path)
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping of node settings (got {show(raw)})")
        return _Layer(path)
    extras = {k: (*path, k) for k in CONTAINER_ONLY if k in raw and _is_set(raw[k])}
    rest = {k: v for k, v in raw.items() if k not in CONTAINER_ONLY and k not in _COSMETIC}
    spec = validate(ctx, NodeDef, rest, path, known=CONTAINER_ONLY)
    return _Layer(path, spec or NodeDef(), extras)


def _check_kind(ctx: Context, kind: str, path: YPath) -> bool:
    if kind in KINDS:
        return True
    if kind in CLAB_KINDS:
        ctx.add(path, f"kind '{kind}' is not supported by netknit yet")
    else:
        ctx.add(path, f"unknown kind '{kind}'{suggest(kind, [*KINDS, *sorted(CLAB_KINDS)])}")
    return False


def build_nodes(ctx: Context, topology: dict[str, Any]) -> dict[str, Node]:
    """Every node of ``topology.nodes``, merged and checked, in file order."""
    base: YPath = ("topology",)
    defaults = _layer(ctx, topology.get("defaults"), (*base, "defaults"))
    kinds: dict[str, _Layer] = {}
    raw_kinds = topology.get("kinds")
    if isinstance(raw_kinds, dict):
        for name, raw in raw_kinds.items():
            path = (*base, "kinds", name)
            # A kinds block for a kind no node uses is harmless, but a typo is worth a word.
            if name.lower() not in KINDS and name.lower() not in CLAB_KINDS:
                _check_kind(ctx, name, path)
            kinds[name.lower()] = _layer(ctx, raw, path)
    elif raw_kinds is not None:
        ctx.add((*base, "kinds"), f"expected a mapping of kind names (got {show(raw_kinds)})")

    raw_nodes = topology.get("nodes")
    if raw_nodes is None:
        return {}
    if not isinstance(raw_nodes, dict):
        ctx.add((*base, "nodes"), f"expected a mapping of node names (got {show(raw_nodes)})")
        return {}
    return {
        name: _node(ctx, name, _layer(ctx, raw, (*base, "nodes", name)), defaults, kinds)
        for name, raw in raw_nodes.items()
    }


def _node(ctx: Context, name: str, own: _Layer, defaults: _Layer, kinds: dict[str, _Layer]) -> Node:
    where = own.path
    if not NAME_RE.match(name):
        ctx.add(where, f"node name '{name}' may only contain letters, digits, '-', '_' and '.'")

    written: str = DEFAULT_KIND
    kind_path: YPath | None = None
    for layer in (own, defaults):
        if layer.spec.kind:
            written, kind_path = layer.spec.kind, (*layer.path, "kind")
            break
    written = written.lower()  # containerlab lowercases kinds too
    kind = _AS_KIND.get(written, DEFAULT_KIND)
    valid = kind_path is None or _check_kind(ctx, written, kind_path)
    if not valid:
        kind = DEFAULT_KIND  # stands in, so that the links can still be checked
    layers = [own, kinds.get(written, _Layer(())), defaults]  # most specific first
    if kind in ("bridge", "host"):
        # These run no workload, and containerlab ignores container settings on them;
        # ``defaults`` target the containers (a defaults ``exec`` must not run on the host).
        layers.pop()

    image = next((x.spec.image for x in layers if x.spec.image), None)
    extras: dict[str, YPath] = {}
    for layer in reversed(layers):
        extras.update(layer.extras)
    if kind == "linux" and kind_path is not None:
        kind = DEFAULT_KIND
        if ctx.runtime == "netns":
            ignored = ["image"] if image else []
            ignored += sorted(extras)
            note = f"node {name}: kind linux runs as a bare namespace (--runtime netns)"
            ctx.notices.append(f"{note}; ignored: {', '.join(ignored)}" if ignored else note)
        else:
            ctx.add(kind_path, "kind 'linux' needs the Docker runtime, which is not supported yet")
            ctx.hint(_LINUX_HINT)
        image, extras = None, {}
    for key, path in extras.items() if valid else ():
        ctx.add(path, f"not supported yet: {key}")

    if kind == "bridge":
        reason = ifname_error(name) or ("'lo' is the loopback interface" if name == "lo" else None)
        if reason:
            ctx.add(where, f"a bridge node's name is its interface name: {reason}")

    env: dict[str, str] = {}
    labels: dict[str, str] = {}
    run: list[str] = []
    for layer in reversed(layers):
        env.update(ctx.strings(layer.spec.env, (*layer.path, "env")))
        labels.update(ctx.strings(layer.spec.labels, (*layer.path, "labels")))
        run.extend(layer.spec.exec or ())
        for key in layer.spec.env or ():
            if key == "" or "=" in key:
                ctx.add(
                    (*layer.path, "env", key), f"environment variable name {key!r} is not valid"
                )

    return Node(
        name=name,
        kind=kind,
        image=image,
        cmd=next((x.spec.cmd for x in layers if x.spec.cmd), None),
        env=MappingProxyType(env),
        exec=tuple(run),
        labels=MappingProxyType(labels),
        startup_delay=next((x.spec.startup_delay for x in layers if x.spec.startup_delay), 0),
        where=format_path(where),
    )
