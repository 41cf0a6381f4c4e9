"""Pydantic models of the raw file's leaves: node settings, links, link endpoints.

They check shapes and types only (strict: ``mtu: "1500"`` is not a number, ``true`` is
not a number either). Meaning (names, MACs, addresses, references) is checked in
``_nodes``/``_links``, where the whole file is in view. Pydantic's errors are turned into
short messages located by YAML path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netknit.topology._context import Context, show, suggest
from netknit.topology._yaml import YPath


class _Raw(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class HealthcheckDef(_Raw):
    """containerlab's node ``healthcheck``; durations in seconds."""

    test: list[str] | str
    start_period: int | None = Field(default=None, alias="start-period", ge=0)
    interval: int | None = Field(default=None, ge=0)
    timeout: int | None = Field(default=None, ge=0)
    retries: int | None = Field(default=None, ge=0)


class DnsDef(_Raw):
    """containerlab's node ``dns``: the container's resolv.conf."""

    servers: list[str] | None = None
    search: list[str] | None = None
    options: list[str] | None = None


class NodeDef(_Raw):
    """The node settings netknit honours, as written in defaults, kinds or a node."""

    kind: str | None = None
    image: str | None = None
    cmd: str | None = None
    env: dict[str, Any] | None = None
    exec: list[str] | None = None
    labels: dict[str, Any] | None = None
    startup_delay: int | None = Field(default=None, alias="startup-delay", ge=0)
    # container settings (kind linux, Docker); meaning is checked in _nodes
    entrypoint: str | None = None
    binds: list[str] | None = None
    user: Any = None  # ``user: 1000`` is the uid "1000", as in containerlab
    healthcheck: HealthcheckDef | None = None
    restart_policy: str | None = Field(default=None, alias="restart-policy")
    network_mode: str | None = Field(default=None, alias="network-mode")
    mgmt_ipv4: str | None = Field(default=None, alias="mgmt-ipv4")
    mgmt_ipv6: str | None = Field(default=None, alias="mgmt-ipv6")
    start_strategy: str | None = Field(default=None, alias="start-strategy")
    sandbox_image: str | None = Field(default=None, alias="sandbox-image")
    host: str | None = None  # the machine of a lab that spans ``hosts:``
    # containerlab's fields Docker applies (types/node_definition.go); see _nodes
    privileged: bool | None = None
    hostname: str | None = None
    ports: list[str | int] | None = None
    cpu: float | None = Field(default=None, ge=0)
    cpu_set: str | None = Field(default=None, alias="cpu-set")
    memory: str | int | None = None
    shm_size: str | int | None = Field(default=None, alias="shm-size")
    dns: DnsDef | None = None
    aliases: list[str] | None = None
    sysctls: dict[str, Any] | None = None
    devices: list[str] | None = None
    cap_add: list[str] | None = Field(default=None, alias="cap-add")
    env_files: list[str] | None = Field(default=None, alias="env-files")
    volumes: list[str] | None = None
    tmpfs: dict[str, Any] | None = None
    pid_mode: str | None = Field(default=None, alias="pid-mode")
    cgroupns_mode: str | None = Field(default=None, alias="cgroupns-mode")
    security_opts: list[str] | None = Field(default=None, alias="security-opts")
    image_pull_policy: str | None = Field(default=None, alias="image-pull-policy")
    # netns nodes: directories of their own in their view (Mininet's privateDirs)
    private_dirs: list[str] | None = Field(default=None, alias="private-dirs")


class MgmtDef(_Raw):
    """Top-level ``mgmt:``: containerlab's management network (types/types.go MgmtNet)."""

    network: str | None = None
    ipv4_subnet: str | None = Field(default=None, alias="ipv4-subnet")
    ipv6_subnet: str | None = Field(default=None, alias="ipv6-subnet")
    mtu: int | None = Field(default=None, ge=68, le=65535)
    bridge: str | None = None  # the management bridge's name (mgmt-net links' bridge)
    ipv4_gw: str | None = Field(default=None, alias="ipv4-gw")
    ipv6_gw: str | None = Field(default=None, alias="ipv6-gw")
    ipv4_range: str | None = Field(default=None, alias="ipv4-range")
    ipv6_range: str | None = Field(default=None, alias="ipv6-range")
    external_access: bool | None = Field(default=None, alias="external-access")
    skip_when_unused: bool | None = Field(default=None, alias="skip-when-unused")
    driver_opts: dict[str, str] | None = Field(default=None, alias="driver-opts")
    # containerlab's deprecated spellings, read when the new ones are not written
    old_ipv4_subnet: str | None = Field(default=None, alias="ipv4_subnet")
    old_ipv6_subnet: str | None = Field(default=None, alias="ipv6_subnet")


class CertificateAuthorityDef(_Raw):
    """``settings.certificate-authority`` (types/settings.go)."""

    cert: str | None = None
    key: str | None = None
    key_size: int | None = Field(default=None, alias="key-size")
    validity_duration: str | None = Field(default=None, alias="validity-duration")


class SettingsDef(_Raw):
    """Top-level ``settings`` (types/settings.go Settings)."""

    certificate_authority: CertificateAuthorityDef | None = Field(
        default=None, alias="certificate-authority")


class HostDef(_Raw):
    """One entry of top-level ``hosts:`` (netknit's own: a lab that spans machines)."""

    address: str
    vni_range: Any = Field(default=None, alias="vni-range")  # checked in _hosts
    mtu: int | None = None


class EndpointDef(_Raw):
    """One end of an extended-form link."""

    node: str
    interface: str
    mac: str | None = None
    ipv4: Any = None  # one CIDR string or a list: parsed in _links with better messages
    ipv6: Any = None
    vars: Any = None  # containerlab's endpoint vars (a mapping): kept, not used for wiring


class LinkCommon(_Raw):
    """The keys every link has; each link type's model extends it (``netknit.links``)."""

    mtu: int | None = None
    labels: dict[str, Any] | None = None
    vars: Any = None  # containerlab's link vars (a mapping): kept, not used for wiring


class BriefLink(LinkCommon):
    type: str | None = None
    endpoints: list[str]
    ipv4: list[Any] | None = None
    ipv6: list[Any] | None = None


class SingleEnded(LinkCommon):
    """An extended-form link with one endpoint (the node side)."""

    type: str
    endpoint: EndpointDef


def keys_of(*models: type[BaseModel]) -> list[str]:
    """The keys a user may write for these models."""
    return [f.alias or name for m in models for name, f in m.model_fields.items()]


#: What a field holds, for "expected ..." messages about the field itself.
_EXPECTED = {
    "kind": "a kind name",
    "exec": "a list of strings",
    "env": "a mapping of variable names to values",
    "labels": "a mapping of label names to values",
    "startup-delay": "a whole number of seconds",
    "binds": "a list of 'host-path:container-path[:options]' strings",
    "healthcheck": "a mapping with test, interval, timeout, retries, start-period",
    "endpoints": "a list of two endpoints",
    "endpoint": "a mapping with node and interface",
    "mtu": "a whole number",
    "ipv4": "a list with one entry per endpoint",
    "ipv6": "a list with one entry per endpoint",
    "vni": "a whole number (the VXLAN network identifier)",
    "udp-port": "a UDP port number",
    "dst-port": "a UDP port number",
    "src-port": "a port number or a range like '10000-20000'",
    "vni-range": "a range like '1000-1999' or [1000, 1999]",
    "address": "an IP address",
    "ports": "a list of port specs like '8080:80' (quote them: YAML reads 80:80 as a number)",
    "cpu": "a number of CPUs",
    "memory": "a size like '256MB' or '1GiB'",
    "shm-size": "a size like '256MB' or '1GiB'",
    "sysctls": "a mapping of sysctl names to values",
    "tmpfs": "a mapping of container paths to mount options",
    "private-dirs": "a list of absolute directory paths",
}
_BY_TYPE = {
    "string_type": "a string",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}

M = TypeVar("M", bound=BaseModel)


def validate(
    ctx: Context, model: type[M], data: Any, path: YPath, known: Iterable[str] = ()
) -> M | None:
    """``model`` from ``data``; on errors, a problem for each and the model of the valid keys.

    ``None`` when not even that can be built. ``known`` are further keys for the
    did-you-mean of unknown keys.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        candidates = [*keys_of(model), *known]
        errors = exc.errors(include_url=False)
        for error in errors:
            _report(ctx, path, tuple(error["loc"]), error, candidates)
    # Keep what is valid, so that later checks still run and find further problems.
    if not isinstance(data, dict):
        return None
    bad = {error["loc"][0] for error in errors if error["loc"]}
    try:
        return model.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValidationError:
        return None


def _report(
    ctx: Context, base: YPath, loc: YPath, error: Mapping[str, Any], candidates: list[str]
) -> None:
    kind = error["type"]
    if kind == "missing":
        ctx.add(base + loc[:-1], f"missing required key '{loc[-1]}'")
        return
    if kind == "extra_forbidden":
        key = str(loc[-1])
        others = [c for c in candidates if c != key]
        ctx.add(base + loc, f"unknown key '{key}'{suggest(key, others)}")
        return
    got = f" (got {show(error.get('input'))})"
    if kind in _BY_TYPE:
        field = loc[-1] if loc else None  # a key's own wording; list items get the generic one
        expected = _EXPECTED.get(field, _BY_TYPE[kind]) if isinstance(field, str) else None
        ctx.add(base + loc, f"expected {expected or _BY_TYPE[kind]}{got}")
    elif kind == "greater_than_equal":
        ctx.add(base + loc, f"must be at least {error['ctx']['ge']}{got}")
    else:
        message = str(error["msg"])
        ctx.add(base + loc, message[:1].lower() + message[1:] + got)
