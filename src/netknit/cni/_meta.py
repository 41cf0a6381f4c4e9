"""``type: netknit``: the meta plugin that runs delegate networks.

Config::

    {"cniVersion": "1.0.0", "name": "net", "type": "netknit",
     "delegates": [{"conf": {<a conflist or a single plugin config>}},
                   {"ifname": "net1", "conf": {...}}],
     "readinessIndicatorFile": "/run/primary-ready", "readinessTimeout": 10}

The first delegate is the primary network and gets CNI_IFNAME unless it names its own;
every other one must name its interface. A delegate that is itself a netknit meta config
is refused: that is how a generated config ends up delegating to itself.

For its delegates this plugin is the runtime, and does what SPEC.md section 3 and libcni
do:

- ADD runs the delegates in order, each conflist's plugins in order, each plugin getting
  the previous plugin's result as ``prevResult``; each delegate's final result is cached
  and merged into this plugin's result. A failed ADD deletes what was added (the failing
  delegate included: DEL is idempotent and cleans a half-made chain).
- DEL runs in reverse, every plugin with its delegate's cached final result, and keeps
  going past failures: the first one is reported once everything else is deleted.
- CHECK gives every plugin its delegate's cached result; a conflist with
  ``disableCheck`` is not checked.
- ``capabilities`` become ``runtimeConfig``: a plugin gets the values of this plugin's
  own ``runtimeConfig`` (which the runtime derived from the capabilities cni-install
  declared) for the capabilities the plugin declares, and no ``capabilities`` key.
- GC goes to every delegate (not one with ``disableGC``) with the attachments that are
  still valid *for it*: the runtime's (container, CNI_IFNAME) pairs name this plugin's
  attachments, and a delegate's interface is its own ``ifname``.
- STATUS goes to every delegate of cniVersion 1.1.0 or later.
"""

from __future__ import annotations

import os
import time

from .._ifname import ifname_error
from . import _spec
from ._codec import dumps, loads
from ._hostdev import log, state_dir, write_small
from ._spec import CniError, Env

TYPE_CHECKING = False  # a CNI call is a process: no typing/json/dataclasses imports
if TYPE_CHECKING:
    from typing import Any

META_TYPE = "netknit"


class Delegate:
    """One delegate network: its interface, name, cniVersion and plugin configs."""

    __slots__ = ("disable_check", "disable_gc", "ifname", "name", "own_ifname", "plugins",
                 "version")

    def __init__(self, ifname: str, name: str, version: str,
                 plugins: tuple[dict[str, Any], ...], *, own_ifname: bool = True,
                 disable_check: bool = False, disable_gc: bool = False) -> None:
        self.ifname = ifname
        self.name = name
        self.version = version
        self.plugins = plugins
        self.own_ifname = own_ifname  # False: the runtime's CNI_IFNAME (the primary)
        self.disable_check = disable_check
        self.disable_gc = disable_gc


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
        why = ifname_error(ifname) if isinstance(ifname, str) else f"{ifname!r} is not a string"
        if why:
            raise CniError(_spec.INVALID_CONFIG, f"{where}: {why}",
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
        out.append(Delegate(ifname, name, version, tuple(plugins),
                            own_ifname=bool(item.get("ifname")),
                            disable_check=dconf.get("disableCheck") is True,
                            disable_gc=dconf.get("disableGC") is True))
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


def _plugin_conf(d: Delegate, plugin: dict[str, Any], runtime: dict[str, Any],
                 prev: dict[str, Any] | None) -> dict[str, Any]:
    """A plugin's request config, as libcni derives it: the delegate's name and
    cniVersion, ``runtimeConfig`` from the capabilities the plugin declares, no
    ``capabilities``, and ``prevResult`` when there is one."""
    pconf = {k: v for k, v in plugin.items() if k != "capabilities"}
    pconf.update(name=d.name, cniVersion=d.version)
    declared = plugin.get("capabilities")
    if isinstance(declared, dict):
        given = {k: runtime[k] for k, on in declared.items() if on is True and k in runtime}
        if given:
            pconf["runtimeConfig"] = given
    if prev is not None:
        pconf["prevResult"] = prev
    return pconf


def _add(d: Delegate, env: Env, runtime: dict[str, Any]) -> dict[str, Any]:
    """ADD of one delegate: its plugins in order, each given the previous one's result;
    returns the last result."""
    child = env.child(CNI_COMMAND="ADD", CNI_IFNAME=d.ifname)
    result: dict[str, Any] | None = None
    for plugin in d.plugins:
        out = _spec.invoke(plugin["type"], _plugin_conf(d, plugin, runtime, result), child,
                           env.path)
        result = out if out is not None else result
    return result or {}


def _del(d: Delegate, env: Env, runtime: dict[str, Any], prev: dict[str, Any] | None
         ) -> CniError | None:
    """DEL of one delegate: its plugins in reverse, each given the cached final result,
    all of them whatever fails; returns the first failure."""
    child = env.child(CNI_COMMAND="DEL", CNI_IFNAME=d.ifname)
    first: CniError | None = None
    for plugin in reversed(d.plugins):
        try:
            _spec.invoke(plugin["type"], _plugin_conf(d, plugin, runtime, prev), child,
                         env.path)
        except CniError as exc:
            log(f"DEL of {plugin['type']} in delegate {d.name} ({d.ifname}) failed: "
                f"{exc.msg}; deleting the rest")
            first = first or exc
    return first


def _cache_path(conf: dict[str, Any], env: Env) -> str:
    return os.path.join(state_dir(), "meta", f"{conf.get('name', '')}:{env.container_id}:"
                        f"{env.ifname}.json")


def _runtime_config(conf: dict[str, Any]) -> dict[str, Any]:
    runtime = conf.get("runtimeConfig")
    return runtime if isinstance(runtime, dict) else {}


def add(env: Env, conf: dict[str, Any]) -> dict[str, Any]:
    ds = delegates(conf, env.ifname)
    prev = _spec.prev_result(conf)  # the spec: passed through, ahead of the delegates'
    runtime = _runtime_config(conf)
    _wait_ready(conf, wait=True)
    results: list[dict[str, Any]] = []
    for i, d in enumerate(ds):
        try:
            results.append(_add(d, env, runtime))
        except BaseException as exc:
            for done, res in reversed(list(zip(ds[: i + 1], [*results, None], strict=True))):
                again = _del(done, env, runtime, res)
                if again is not None:
                    log(f"rolling back delegate {done.name} ({done.ifname}) failed: "
                        f"{again.msg}")
            if isinstance(exc, CniError):
                raise CniError(exc.code, f"delegate {d.name} ({d.ifname}): {exc.msg}; "
                               "delegates added before it were deleted", exc.details) from None
            raise
    write_small(_cache_path(conf, env), dumps(
        {"delegates": [{"ifname": d.ifname, "result": r} for d, r in zip(ds, results,
                                                                          strict=True)]}))
    return _spec.render_result(merge([prev, *results] if prev else results),
                               conf["cniVersion"])


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
    runtime = _runtime_config(conf)
    cached = _cached(conf, env)
    first: CniError | None = None
    for d in reversed(ds):  # the others are still deleted; the first error is told
        first = first or _del(d, env, runtime, cached.get(d.ifname) or None)
    if first is not None:
        raise first
    try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
        os.unlink(_cache_path(conf, env))
    except FileNotFoundError:
        pass


def check(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname)
    runtime = _runtime_config(conf)
    _wait_ready(conf, wait=False)
    cached = _cached(conf, env)
    for d in ds:
        if d.disable_check:
            continue  # the spec: a runtime must not CHECK such a network
        prev = cached.get(d.ifname)
        if prev is None:
            raise CniError(_spec.CHECK_FAILED, f"no result recorded for delegate {d.name} "
                           f"({d.ifname}): was ADD run?")
        child = env.child(CNI_COMMAND="CHECK", CNI_IFNAME=d.ifname)
        for plugin in d.plugins:
            _spec.invoke(plugin["type"], _plugin_conf(d, plugin, runtime, prev), child,
                         env.path)


def _simple(d: Delegate, command: str, env: Env, extra: dict[str, Any]) -> CniError | None:
    """STATUS or GC of one delegate (no attachment: no runtimeConfig, no prevResult):
    every plugin, whatever fails (the spec's GC); returns the first failure."""
    child = env.child(CNI_COMMAND=command, CNI_IFNAME=d.ifname)
    first: CniError | None = None
    for plugin in d.plugins:
        try:
            _spec.invoke(plugin["type"], {**_plugin_conf(d, plugin, {}, None), **extra},
                         child, env.path)
        except CniError as exc:
            log(f"{command} of {plugin['type']} in delegate {d.name} failed: {exc.msg}")
            first = first or exc
            if command == "STATUS":
                break
    return first


def status(env: Env, conf: dict[str, Any]) -> None:
    ds = delegates(conf, env.ifname or "eth0")
    _wait_ready(conf, wait=False)
    for d in ds:
        if _spec.version_key(d.version) >= (1, 1, 0):
            failed = _simple(d, "STATUS", env, {})
            if failed is not None:
                raise failed


VALID = "cni.dev/valid-attachments"
VALID_OLD = "cni.dev/attachments"  # libcni sends both (the spec once named it so)


def gc(env: Env, conf: dict[str, Any]) -> None:
    """GC of every delegate with the attachments that are valid for it: the runtime
    names this plugin's attachments (container, CNI_IFNAME); a delegate with its own
    interface name was attached as (container, that name)."""
    ds = delegates(conf, env.ifname or "eth0")
    raw = conf.get(VALID, conf.get(VALID_OLD))
    valid = [a for a in raw if isinstance(a, dict)] if isinstance(raw, list) else None
    first: CniError | None = None
    for d in ds:
        if d.disable_gc or _spec.version_key(d.version) < (1, 1, 0):
            continue
        extra: dict[str, Any] = {}
        if valid is not None:
            mine = [{"containerID": a.get("containerID"),
                     "ifname": d.ifname if d.own_ifname else a.get("ifname")} for a in valid]
            extra = {VALID: mine, VALID_OLD: mine}
        first = first or _simple(d, "GC", env, extra)
    if first is not None:
        raise first
