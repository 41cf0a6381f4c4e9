"""``type: netknit``: the meta plugin that runs delegate networks.

Config::

    {"cniVersion": "1.0.0", "name": "net", "type": "netknit",
     "delegates": [{"conf": {<a conflist or a single plugin config>}},
                   {"ifname": "net1", "conf": {...}}],
     "readinessIndicatorFile": "/run/primary-ready", "readinessTimeout": 10}

The first delegate is the primary network and gets CNI_IFNAME unless it names its own;
every other one must name its interface. Delegates run in order for ADD (each
conflist's plugins in order, chained through prevResult) and in reverse for DEL. A
failed ADD deletes what was added (the failing delegate included: DEL is idempotent and
cleans a half-made chain). A delegate that is itself a netknit meta config is refused:
that is how a generated config ends up delegating to itself.
"""

from __future__ import annotations

import os
import time

from . import _spec
from ._codec import dumps, loads
from ._hostdev import STATE_DIR, log, write_small
from ._spec import CniError, Env

TYPE_CHECKING = False  # a CNI call is a process: no typing/json/dataclasses imports
if TYPE_CHECKING:
    from typing import Any

META_TYPE = "netknit"


class Delegate:
    """One delegate network: its interface, name, cniVersion and plugin configs."""

    __slots__ = ("ifname", "name", "plugins", "version")

    def __init__(self, ifname: str, name: str, version: str,
                 plugins: tuple[dict[str, Any], ...]) -> None:
        self.ifname = ifname
        self.name = name
        self.version = version
        self.plugins = plugins


def delegates(conf: dict[str, Any], default_ifname: str) -> list[Delegate]:
    raw = conf.get("delegates")
    if not isinstance(raw, list) or not raw:
        raise CniError(_spec.INVALID_CONFIG, "delegates must be a non-empty list")
    out: list[Delegate] = []
    for i, item in enumerate(raw):
        where = f"delegates[{i}]"
        if not isinstance(item, dict) or not isinstance(item.get("conf"), dict):
            raise CniError(_spec.INVALID_CONFIG, f"{where} must be an object with a 'conf'")
        dconf = item["conf"]
        ifname = item.get("ifname") or (default_ifname if i == 0 else "")
        why = _spec.ifname_problem(ifname) if isinstance(ifname, str) else "not a string"
        if why:
            raise CniError(_spec.INVALID_CONFIG, f"{where}: interface name {ifname!r}: {why}",
                           "every delegate but the first must give its 'ifname'")
        if any(d.ifname == ifname for d in out):
            raise CniError(_spec.INVALID_CONFIG, f"{where}: interface {ifname} is used twice")
        plugins = dconf.get("plugins", [dconf])
        if not isinstance(plugins, list) or not all(isinstance(p, dict) for p in plugins):
            raise CniError(_spec.INVALID_CONFIG, f"{where}: plugins must be a list of objects")
        for p in plugins:
            if p.get("type") == META_TYPE or "delegates" in p:
                raise CniError(_spec.INVALID_CONFIG,
                               f"{where} is a netknit meta config: delegation never nests",
                               "give the primary network's own config as the delegate")
            if not isinstance(p.get("type"), str):
                raise CniError(_spec.INVALID_CONFIG, f"{where}: a plugin has no type")
        name = dconf.get("name")
        version = dconf.get("cniVersion")
        if not isinstance(name, str) or not isinstance(version, str):
            raise CniError(_spec.INVALID_CONFIG, f"{where}: name and cniVersion are required")
        out.append(Delegate(ifname, name, version, tuple(plugins)))
    return out


def _wait_ready(conf: dict[str, Any], *, wait: bool) -> None:
    path = conf.get("readinessIndicatorFile")
    if not path:
        return
    timeout = float(conf.get("readinessTimeout", 10))
    deadline = time.monotonic() + (timeout if wait else 0)
    while not os.path.exists(path):
        if time.monotonic() >= deadline:
            raise CniError(_spec.TRY_AGAIN_LATER if wait else _spec.NOT_AVAILABLE,
                           f"the primary network is not ready: {path} does not exist",
                           f"waited {timeout if wait else 0:g} s")
        time.sleep(0.05)


def _run(d: Delegate, command: str, env: Env, prev: dict[str, Any] | None,
         extra: dict[str, Any] | None = None) -> dict[str, Any] | None:
    plugins = d.plugins if command != "DEL" else tuple(reversed(d.plugins))
    child = env.child(CNI_COMMAND=command, CNI_IFNAME=d.ifname)
    result = prev
    for plugin in plugins:
        pconf = {**plugin, "name": d.name, "cniVersion": d.version, **(extra or {})}
        if prev is not None and command in ("ADD", "CHECK", "DEL"):
            pconf["prevResult"] = result if command == "ADD" else prev
        out = _spec.invoke(plugin["type"], pconf, child, env.path)
        if command == "ADD" and out is not None:
            result = out
    return result


def _cache_path(conf: dict[str, Any], env: Env) -> str:
    return os.path.join(STATE_DIR, "meta", f"{conf.get('name', '')}:{env.container_id}:"
                        f"{env.ifname}.json")


def add(env: Env, conf: dict[str, Any]) -> dict[str, Any]:
    ds = delegates(conf, env.ifname)
    _wait_ready(conf, wait=True)
    results: list[dict[str, Any]] = []
    for i, d in enumerate(ds):
        try:
            results.append(_run(d, "ADD", env, None) or {})
        except BaseException as exc:
            for done, res in reversed(list(zip(ds[: i + 1], [*results, None], strict=True))):
                try:
                    _run(done, "DEL", env, res)
                except Exception as again:
                    log(f"rolling back delegate {done.name} ({done.ifname}) failed: {again}")
            if isinstance(exc, CniError):
                raise CniError(exc.code, f"delegate {d.name} ({d.ifname}): {exc.msg}; "
                               "delegates added before it were deleted", exc.details) from None
            raise
    write_small(_cache_path(conf, env), dumps(
        {"delegates": [{"ifname": d.ifname, "result": r} for d, r in zip(ds, results,
                                                                          strict=True)]}))
    return _spec.render_result(merge(results), conf["cniVersion"])


def merge(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One result of several: interfaces concatenated (ips re-pointed at them), routes
    concatenated, DNS of the primary (first delegate that has any)."""
    interfaces: list[Any] = []
    ips: list[Any] = []
    routes: list[Any] = []
    dns: dict[str, Any] = {}
    for raw in results:
        result = _spec.normalise_result(raw)
        offset = len(interfaces)
        interfaces += result.get("interfaces", [])
        for ip in result["ips"]:
            ip = dict(ip)
            if isinstance(ip.get("interface"), int):
                ip["interface"] += offset
            ips.append(ip)
        routes += result.get("routes", [])
        dns = dns or result.get("dns") or {}
    return {"interfaces": interfaces, "ips": ips, "routes": routes, "dns": dns}


def _cached(conf: dict[str, Any], env: Env) -> dict[str, dict[str, Any]]:
    try:
        with open(_cache_path(conf, env), "rb") as f:
            entries = loads(f.read())["delegates"]
        return {e["ifname"]: e["result"] for e in entries if isinstance(e, dict)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def delete(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname)
    cached = _cached(conf, env)
    first: CniError | None = None
    for d in reversed(ds):
        try:
            _run(d, "DEL", env, cached.get(d.ifname) or None)
        except CniError as exc:  # the others are still deleted; the first error is told
            log(f"DEL of delegate {d.name} ({d.ifname}) failed: {exc.msg}")
            first = first or exc
    if first is not None:
        raise first
    try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
        os.unlink(_cache_path(conf, env))
    except FileNotFoundError:
        pass


def check(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname)
    _wait_ready(conf, wait=False)
    cached = _cached(conf, env)
    for d in ds:
        prev = cached.get(d.ifname)
        if prev is None:
            raise CniError(_spec.CHECK_FAILED, f"no result recorded for delegate {d.name} "
                           f"({d.ifname}): was ADD run?")
        _run(d, "CHECK", env, prev)


def status(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname or "eth0")
    _wait_ready(conf, wait=False)
    for d in ds:
        if _spec.version_key(d.version) >= (1, 1, 0):
            _run(d, "STATUS", env, None)


def gc(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname or "eth0")
    extra = {k: v for k, v in conf.items() if k == "cni.dev/valid-attachments"}
    for d in ds:
        if _spec.version_key(d.version) >= (1, 1, 0):
            _run(d, "GC", env, None, extra)
