"""What the CNI specification fixes: versions, error codes, the environment, results,
and how one plugin invokes another (IPAM, delegates).

Spec: github.com/containernetworking/cni SPEC.md (1.0.0, 1.1.0). Every CNI call is a
new process, so this module imports only what Python has loaded anyway plus the C half of
``json`` (:mod:`._codec`): no re, dataclasses, typing or json (~40 ms together on a small
VM, more than the rest of a call).
"""

from __future__ import annotations

import os

from .._errors import NetknitError
from .._ifname import ifname_error
from .._record import Record
from ._codec import dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SUPPORTED_VERSIONS = ("0.4.0", "1.0.0", "1.1.0")
COMMANDS = ("ADD", "DEL", "CHECK", "STATUS", "GC", "VERSION")

# error codes of the spec; 100+ are netknit's own
INCOMPATIBLE_VERSION = 1
UNSUPPORTED_FIELD = 2
UNKNOWN_CONTAINER = 3
INVALID_ENV = 4
DECODE_FAILURE = 6
INVALID_CONFIG = 7
TRY_AGAIN_LATER = 11
NOT_AVAILABLE = 50
KERNEL_FAILURE = 100  # a netlink/namespace operation failed (after rollback)
DEVICE_NOT_FOUND = 101  # the host device selected is not in the host namespace
NAME_TAKEN = 102  # CNI_IFNAME exists in the container already
CHECK_FAILED = 103  # CHECK found the attachment not as ADD left it
DELEGATE_FAILED = 104  # a delegate or IPAM plugin failed without a usable error

_ALNUM = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_ID_CHARS = _ALNUM | frozenset("_.-")


def _valid_container_id(cid: str) -> bool:
    """Letters, digits, '_', '.' and '-', starting with a letter or digit."""
    return bool(cid) and cid[0] in _ALNUM and _ID_CHARS.issuperset(cid)


def _valid_cni_arg(item: str) -> bool:
    """KEY=VALUE: KEY of letters, digits, '_', '.', '-'; VALUE without ';' or '='."""
    key, eq, value = item.partition("=")
    return bool(key and eq) and _ID_CHARS.issuperset(key) and "=" not in value \
        and ";" not in value


class CniError(NetknitError):
    """A failure reported to the runtime as the spec's error JSON."""

    def __init__(self, code: int, msg: str, details: str = "") -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.details = details

    def to_json(self, version: str) -> dict[str, Any]:
        out: dict[str, Any] = {"cniVersion": version, "code": self.code, "msg": self.msg}
        if self.details:
            out["details"] = self.details
        return out


def version_key(version: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in version.split("."))
    except ValueError:
        return (0,)


def check_version(conf: dict[str, Any]) -> str:
    version = conf.get("cniVersion")
    if not isinstance(version, str) or version not in SUPPORTED_VERSIONS:
        raise CniError(INCOMPATIBLE_VERSION, f"incompatible CNI version {version!r}",
                       f"netknit-cni supports {', '.join(SUPPORTED_VERSIONS)}")
    return version


class Env(Record):
    """The CNI_* variables of one call, validated for the command (read-only)."""

    __slots__ = ("args", "command", "container_id", "ifname", "netns", "path")
    __match_args__ = ("command", "container_id", "netns", "ifname", "args", "path")

    command: str
    container_id: str
    netns: str
    ifname: str
    args: tuple[tuple[str, str], ...]
    path: tuple[str, ...]

    def __init__(self, command: str, container_id: str, netns: str, ifname: str,
                 args: tuple[tuple[str, str], ...], path: tuple[str, ...]) -> None:
        s = object.__setattr__
        s(self, "command", command)
        s(self, "container_id", container_id)
        s(self, "netns", netns)
        s(self, "ifname", ifname)
        s(self, "args", args)
        s(self, "path", path)

    @classmethod
    def from_environ(cls, environ: dict[str, str] | os._Environ[str]) -> Env:
        command = environ.get("CNI_COMMAND", "")
        if command not in COMMANDS:
            raise CniError(INVALID_ENV, f"CNI_COMMAND {command!r} is not one of "
                           f"{', '.join(COMMANDS)}")
        cid = environ.get("CNI_CONTAINERID", "")
        netns = environ.get("CNI_NETNS", "")
        ifname = environ.get("CNI_IFNAME", "")
        raw_args = environ.get("CNI_ARGS", "")
        path = tuple(p for p in environ.get("CNI_PATH", "").split(":") if p)
        if command in ("ADD", "DEL", "CHECK"):
            if not cid:
                raise CniError(INVALID_ENV, "CNI_CONTAINERID is required")
            if not _valid_container_id(cid):
                raise CniError(INVALID_ENV, f"invalid CNI_CONTAINERID {cid!r}",
                               "letters, digits, '_', '.' and '-', starting with a "
                               "letter or digit")
            why = ifname_error(ifname)
            if why:
                raise CniError(INVALID_ENV, f"invalid CNI_IFNAME: {why}")
            if command != "DEL" and not netns:
                raise CniError(INVALID_ENV, "CNI_NETNS is required for " + command)
            if netns and not os.path.isabs(netns):
                raise CniError(INVALID_ENV, f"CNI_NETNS {netns!r} is not an absolute path")
        args = []
        for item in (a for a in raw_args.split(";") if a):
            if not _valid_cni_arg(item):
                raise CniError(INVALID_ENV, f"invalid CNI_ARGS item {item!r}",
                               "CNI_ARGS is KEY=VALUE pairs separated by ';'")
            key, value = item.split("=", 1)
            args.append((key, value))
        return cls(command, cid, netns, ifname, tuple(args), path)

    def child(self, **overrides: str) -> dict[str, str]:
        """The environment for a plugin this one invokes (IPAM, delegate)."""
        env = dict(os.environ)
        env.update(CNI_COMMAND=self.command, CNI_CONTAINERID=self.container_id,
                   CNI_NETNS=self.netns, CNI_IFNAME=self.ifname,
                   CNI_ARGS=";".join(f"{k}={v}" for k, v in self.args),
                   CNI_PATH=":".join(self.path))
        env.update(overrides)
        return env


def parse_config(data: bytes) -> dict[str, Any]:
    try:
        conf = loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise CniError(DECODE_FAILURE, "cannot decode the network configuration",
                       str(exc)) from None
    if not isinstance(conf, dict):
        raise CniError(DECODE_FAILURE, "the network configuration is not a JSON object")
    return conf


def find_plugin(kind: str, path: tuple[str, ...]) -> str:
    if not kind or "/" in kind or kind in (".", ".."):
        raise CniError(INVALID_CONFIG, f"invalid plugin type {kind!r}")
    for directory in path:
        candidate = os.path.join(directory, kind)
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return candidate
    raise CniError(INVALID_CONFIG, f"plugin {kind!r} not found in CNI_PATH",
                   f"searched: {':'.join(path) or '(CNI_PATH is empty)'}")


def invoke(kind: str, conf: dict[str, Any], env: dict[str, str],
           path: tuple[str, ...]) -> dict[str, Any] | None:
    """Run plugin ``kind`` from ``path`` as the spec says: config on stdin, result (or
    error) on stdout. Returns the parsed result, None when it printed nothing."""
    import subprocess

    binary = find_plugin(kind, path)
    proc = subprocess.run([binary], input=dumps(conf).encode(), env=env,
                          capture_output=True, check=False)
    if proc.stderr:  # the spec: a delegate's stderr goes to the caller's stderr
        import sys

        sys.stderr.write(proc.stderr.decode(errors="replace"))
    out = proc.stdout.strip()
    parsed: Any = None
    if out:
        try:
            parsed = loads(out)
        except ValueError:
            parsed = None
    what = f"{kind} {env.get('CNI_COMMAND', '')} (ifname {env.get('CNI_IFNAME', '')})"
    if proc.returncode != 0:
        if isinstance(parsed, dict) and isinstance(parsed.get("code"), int):
            raise CniError(parsed["code"], f"{what}: {parsed.get('msg', 'failed')}",
                           str(parsed.get("details", "")))
        stderr = proc.stderr.decode(errors="replace").strip()
        raise CniError(DELEGATE_FAILED, f"{what} failed (exit {proc.returncode})",
                       stderr[-500:])
    if out and not isinstance(parsed, dict):
        raise CniError(DELEGATE_FAILED, f"{what} printed something that is not a result",
                       out[:200].decode(errors="replace"))
    return parsed if isinstance(parsed, dict) else None


def result_problem(result: Any) -> str | None:
    """What is wrong with ``result`` as a CNI result (None: nothing)."""
    from ipaddress import ip_address, ip_interface, ip_network

    if not isinstance(result, dict):
        return "it is not an object"
    interfaces = result.get("interfaces", [])
    if not isinstance(interfaces, list):
        return "interfaces is not a list"
    for i, iface in enumerate(interfaces):
        if not isinstance(iface, dict) or not isinstance(iface.get("name"), str):
            return f"interfaces[{i}] is not an object with a name"
    for key, field in (("ips", "address"), ("routes", "dst")):
        items = result.get(key, [])
        if not isinstance(items, list):
            return f"{key} is not a list"
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not isinstance(item.get(field), str):
                return f"{key}[{i}] is not an object with {field!r}"
            try:
                if key == "ips":
                    ip_interface(item[field])
                else:
                    ip_network(item[field], strict=False)
                gateway = item.get("gateway" if key == "ips" else "gw")
                if gateway is not None:
                    ip_address(gateway)
            except (ValueError, TypeError) as exc:
                return f"{key}[{i}]: {exc}"
            index = item.get("interface")
            if key == "ips" and index is not None and (
                    type(index) is not int or not 0 <= index < len(interfaces)):
                return f"ips[{i}].interface {index!r} is not an index into interfaces"
    if not isinstance(result.get("dns", {}), dict):
        return "dns is not an object"
    return None


def prev_result(conf: dict[str, Any]) -> dict[str, Any] | None:
    """The config's prevResult in 1.x form, checked before anything is changed
    (None if there is none); a malformed one is the config's fault: code 7."""
    prev = conf.get("prevResult")
    if prev is None:
        return None
    why = result_problem(prev)
    if why:
        raise CniError(INVALID_CONFIG, f"prevResult is malformed: {why}",
                       "prevResult must be the result of the previous plugin in the chain")
    return normalise_result(prev)


def normalise_result(result: dict[str, Any]) -> dict[str, Any]:
    """A result in 1.x form: ips without 0.x's "version"."""
    out = dict(result)
    out["ips"] = [{k: v for k, v in ip.items() if k != "version"}
                  for ip in result.get("ips", []) if isinstance(ip, dict)]
    return out


def render_result(result: dict[str, Any], version: str) -> dict[str, Any]:
    """``result`` (1.x form) in the format of ``version`` (0.4.0 ips carry "version")."""
    out = dict(normalise_result(result))
    out["cniVersion"] = version
    if version_key(version) < (1, 0, 0):
        for ip in out["ips"]:
            ip["version"] = "6" if ":" in str(ip.get("address", "")) else "4"
    return out
