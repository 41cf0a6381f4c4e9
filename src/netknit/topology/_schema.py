"""The raw file's leaves: node settings, links, link endpoints.

They check shapes and types only (strict: ``mtu: "1500"`` is not a number, ``true`` is
not a number either). Meaning (names, MACs, addresses, references) is checked in
``_nodes``/``_links``, where the whole file is in view. Pydantic's errors are turned into
short messages located by YAML path.

The models are written as pydantic models are, but on a plain base (:class:`_Raw`):
importing pydantic and building its validators costs ~0.15 s per process, more than a
small lab's whole deploy. A mapping whose keys are all known and whose values have exactly
the declared types (the common case) is accepted by a small checker built from the same
declarations; anything else goes to the pydantic model built from them on first need, so
pydantic stays the judge of every refusal and its errors (with their YAML paths) are
unchanged. The checker only ever accepts what strict pydantic accepts, and returns the
same values (``tests/unit/test_schema_fast.py`` compares the two).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, Self, TypeVar, Union, get_args, get_origin

from netknit.topology._context import Context, show, suggest
from netknit.topology._yaml import YPath

_REQUIRED: Any = ...  # the default of a field that must be written


class FieldInfo:
    """A field's declaration: what pydantic's ``Field`` takes, of it what these models use."""

    __slots__ = ("alias", "annotation", "default", "ge", "le", "module")

    def __init__(self, default: Any, alias: str | None, ge: float | None,
                 le: float | None) -> None:
        self.default, self.alias, self.ge, self.le = default, alias, ge, le
        self.annotation = ""  # the type as written (a string: annotations are postponed)
        self.module = ""  # where it was written: the names in the annotation are its


def Field(default: Any = _REQUIRED, *, alias: str | None = None,
          ge: float | None = None, le: float | None = None) -> Any:
    """Declare a field as ``pydantic.Field`` does (the subset these models use)."""
    return FieldInfo(default, alias, ge, le)


class _Reject(Exception):
    """The checker cannot vouch for the data: pydantic decides (and words the errors)."""


class _Raw:
    """Base of the models: immutable records of their fields, validated by :func:`validate`
    (extra keys forbidden, strict types, as ``ConfigDict(extra="forbid", strict=True,
    frozen=True)``)."""

    #: attribute name -> declaration, of this class and its bases, in declaration order
    model_fields: ClassVar[dict[str, FieldInfo]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = dict(cls.model_fields)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():  # noqa: RUF063
            if "ClassVar" in annotation:
                continue
            declared = cls.__dict__.get(name, _REQUIRED)
            info = (declared if isinstance(declared, FieldInfo)
                    else FieldInfo(declared, None, None, None))
            info.annotation, info.module = annotation, cls.__module__
            fields[name] = info
            if name in cls.__dict__:
                delattr(cls, name)  # the instance's value, not a class attribute, is read
        cls.model_fields = fields

    def __init__(self, **values: Any) -> None:
        for name, info in self.model_fields.items():
            if name in values:
                value = values.pop(name)
            elif info.default is _REQUIRED:
                raise TypeError(f"{type(self).__name__}: missing {name}")
            else:
                value = info.default
            object.__setattr__(self, name, value)
        if values:
            raise TypeError(f"{type(self).__name__}: unknown {', '.join(values)}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.model_fields)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(self._values())

    def model_copy(self, *, update: Mapping[str, Any]) -> Self:
        """A copy with ``update``'s attributes changed (as pydantic's, unvalidated)."""
        return type(self)(**{**{name: getattr(self, name) for name in self.model_fields}, **update})

    def __repr__(self) -> str:
        shown = " ".join(f"{name}={getattr(self, name)!r}" for name in self.model_fields)
        return f"{type(self).__name__}({shown})"

    @classmethod
    def _check(cls, data: Any) -> Self:
        """The model of ``data`` when it is plainly valid; :class:`_Reject` otherwise."""
        if type(data) is not dict:
            raise _Reject
        by_key, required = _checker_of(cls)
        values: dict[str, Any] = {}
        for key, value in data.items():
            entry = by_key.get(key)
            if entry is None:
                raise _Reject
            name, check = entry
            values[name] = check(value)
        if not required.issubset(values):
            raise _Reject
        return cls(**values)


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
    impairment: Any = None  # netknit's: this end's egress impairment (checked in _drafts)


class LinkCommon(_Raw):
    """The keys every link has; each link type's model extends it (``netknit.links``)."""

    mtu: int | None = None
    labels: dict[str, Any] | None = None
    vars: Any = None  # containerlab's link vars (a mapping): kept, not used for wiring
    impairment: Any = None  # netknit's: every node end's egress impairment (see _drafts)


class BriefLink(LinkCommon):
    type: str | None = None
    endpoints: list[str]
    ipv4: list[Any] | None = None
    ipv6: list[Any] | None = None


class SingleEnded(LinkCommon):
    """An extended-form link with one endpoint (the node side)."""

    type: str
    endpoint: EndpointDef


def keys_of(*models: type[_Raw]) -> list[str]:
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
    "impairment": "a mapping with delay, jitter, loss, rate, corruption",

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

M = TypeVar("M", bound=_Raw)


def validate(
    ctx: Context, model: type[M], data: Any, path: YPath, known: Iterable[str] = ()
) -> M | None:
    """``model`` from ``data``; on errors, a problem for each and the model of the valid keys.

    ``None`` when not even that can be built. ``known`` are further keys for the
    did-you-mean of unknown keys.
    """
    try:
        return model._check(data)
    except _Reject:
        pass
    from pydantic import ValidationError

    strict = _pydantic(model)
    try:
        return _from_pydantic(model, strict.model_validate(data))
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
        return _from_pydantic(model, strict.model_validate(
            {k: v for k, v in data.items() if k not in bad}))
    except ValidationError:
        return None


# -- the checker: accepts only values of exactly the declared types ------------------------

_Check = Callable[[Any], Any]


def _resolve(info: FieldInfo) -> Any:
    """The type a field's annotation names, evaluated where the field was written."""
    return eval(info.annotation, vars(sys.modules[info.module]))  # the models are our own source


_Checker = tuple[dict[Any, tuple[str, _Check]], frozenset[str]]
_CHECKERS: dict[type[_Raw], _Checker] = {}


def _checker_of(model: type[_Raw]) -> _Checker:
    """By written key: the attribute and the value's check; and the required attributes."""
    if (known := _CHECKERS.get(model)) is not None:
        return known
    by_key: dict[Any, tuple[str, _Check]] = {}
    for name, info in model.model_fields.items():
        check = _check_for(_resolve(info))
        if info.ge is not None or info.le is not None:
            check = _bounded(check, info.ge, info.le)
        by_key[info.alias or name] = (name, check)
    required = frozenset(n for n, i in model.model_fields.items() if i.default is _REQUIRED)
    _CHECKERS[model] = by_key, required
    return by_key, required


def _bounded(check: _Check, ge: float | None, le: float | None) -> _Check:
    def bounded(value: Any) -> Any:
        value = check(value)
        # ``not (x >= ge)`` so that NaN is left to pydantic too
        if value is not None and ((ge is not None and not value >= ge)
                                  or (le is not None and not value <= le)):
            raise _Reject
        return value
    return bounded


def _exact(kind: type) -> _Check:
    def exact(value: Any) -> Any:
        if type(value) is not kind:  # strict: no bool for int, no str subclass either
            raise _Reject
        return value
    return exact


def _any(value: Any) -> Any:
    return value


def _float(value: Any) -> Any:
    if type(value) is float:
        return value
    if type(value) is int:  # strict pydantic takes a whole number for a float, as a float
        return float(value)
    raise _Reject


def _check_for(tp: Any) -> _Check:
    if tp is Any:
        return _any
    if tp is float:
        return _float
    if tp in (str, int, bool, type(None)):
        return _exact(tp)
    if isinstance(tp, type) and issubclass(tp, _Raw):
        return tp._check
    origin, args = get_origin(tp), get_args(tp)
    if origin is list:
        item = _check_for(args[0])
        return lambda value: [item(v) for v in _exact(list)(value)]
    if origin is dict and args[0] is str:
        val = _check_for(args[1])
        return lambda value: {_exact(str)(k): val(v) for k, v in _exact(dict)(value).items()}
    if origin in (Union, types.UnionType):
        members = [_check_for(arg) for arg in args]

        def one_of(value: Any) -> Any:
            for member in members:
                try:
                    return member(value)
                except _Reject:
                    pass
            raise _Reject
        return one_of
    raise TypeError(f"no fast check for {tp!r}: add one to _check_for")


# -- pydantic: the judge of everything the checker does not accept -------------------------

def _pydantic(model: type[_Raw]) -> Any:
    """The strict pydantic model of the same declarations (names, aliases, types, bounds)."""
    if (known := _PYDANTIC.get(model)) is not None:
        return known
    from pydantic import ConfigDict, create_model
    from pydantic import Field as PydanticField

    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        tp = _to_pydantic(_resolve(info))
        fields[name] = (tp, PydanticField(info.default, alias=info.alias, ge=info.ge, le=info.le))
    strict = create_model(model.__name__, __config__=ConfigDict(
        extra="forbid", strict=True, frozen=True), **fields)
    _ORIGINAL[strict], _PYDANTIC[model] = model, strict
    return strict


_PYDANTIC: dict[type[_Raw], Any] = {}
_ORIGINAL: dict[Any, type[_Raw]] = {}  # pydantic model -> the model it was built from


def _to_pydantic(tp: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, _Raw):
        return _pydantic(tp)
    args = get_args(tp)
    if not args:
        return tp
    converted = tuple(_to_pydantic(arg) for arg in args)
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        return Union[converted]  # noqa: UP007 (built from a tuple)
    return origin[converted]


def _from_pydantic(model: type[M], validated: Any) -> M:
    return model(**{name: _plain(getattr(validated, name)) for name in model.model_fields})


def _plain(value: Any) -> Any:
    original = _ORIGINAL.get(type(value))
    if original is not None:
        return _from_pydantic(original, value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


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
