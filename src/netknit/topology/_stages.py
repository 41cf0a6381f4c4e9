"""``stages:`` of nodes (containerlab's lifecycle stages): wait-for and per-stage exec.

Stages may be set under ``defaults``, ``kinds``, ``groups`` and nodes; for each stage their
``wait-for`` and ``exec`` lists add up (defaults, then kind, group, node: containerlab's
GetStages), as ``exec`` of nodes does. A stage's ``exec`` is a list of
``{command, target, phase}`` or, as containerlab's schema also allows (stage-exec), a
mapping ``{on-enter: [commands], on-exit: [commands]}`` run in the container. Checked
here: stage names, ``wait-for`` targets (an existing node that has a lifecycle), exec
``target``/``phase``. Cycles are found by the planner, which sees every edge; each
``wait-for`` entry keeps its place in the file for its message.
"""

from __future__ import annotations

from dataclasses import replace
from types import MappingProxyType
from typing import Any, Literal, cast

from netknit import kinds
from netknit.topology._context import Context, show, suggest
from netknit.topology._model import STAGES, Node, Stage, StageExec, StageSpec, WaitFor
from netknit.topology._yaml import YPath, format_path

_STAGE_KEYS = ("wait-for", "exec")
_WAIT_KEYS = ("node", "stage")
_EXEC_KEYS = ("command", "target", "phase", "on-restart")
_TARGETS = ("container", "host")
_PHASES = ("on-enter", "on-exit")


def apply_stages(ctx: Context, topology: dict[str, Any], nodes: dict[str, Node]) -> None:
    """Parse every ``stages:`` block and attach the merged result to ``nodes``."""
    base: YPath = ("topology",)
    defaults = _block(ctx, _get(topology.get("defaults"), "stages"), (*base, "defaults", "stages"))
    blocks: dict[str, dict[str, tuple[StageSpec, YPath]]] = {}
    raw_kinds = topology.get("kinds")
    if isinstance(raw_kinds, dict):
        for kind, raw in raw_kinds.items():
            blocks[str(kind).lower()] = _block(ctx, _get(raw, "stages"),
                                               (*base, "kinds", kind, "stages"))
    raw_groups = topology.get("groups")
    groups = {str(group): _block(ctx, _get(raw, "stages"), (*base, "groups", group, "stages"))
              for group, raw in (raw_groups.items() if isinstance(raw_groups, dict) else ())}
    raw_nodes = topology.get("nodes")
    if not isinstance(raw_nodes, dict):
        return
    for name, node in list(nodes.items()):
        own = _block(ctx, _get(raw_nodes.get(name), "stages"), (*base, "nodes", name, "stages"))
        merged: dict[str, StageSpec] = {}
        layers = [defaults, blocks.get(node.kind, {}), groups.get(node.group or "", {}), own]
        if not kinds.get(node.kind).own_namespace:  # no namespace or workload to stage
            if own:
                ctx.add((*base, "nodes", name, "stages"),
                        f"a {node.kind} node has no lifecycle: stages do not apply")
            continue
        for layer in layers:
            for stage, (spec, path) in layer.items():
                for k, wait in enumerate(spec.wait_for):
                    _check_target(ctx, wait, nodes, (*path, "wait-for", k))
                had = merged.get(stage)
                if had is not None:  # lists add up, as node ``exec`` does
                    spec = StageSpec(had.wait_for + spec.wait_for, had.exec + spec.exec)
                merged[stage] = spec
        if merged:
            nodes[name] = replace(node, stages=MappingProxyType(merged))


def _get(raw: Any, key: str) -> Any:
    return raw.get(key) if isinstance(raw, dict) else None


def _check_target(ctx: Context, wait: WaitFor, nodes: dict[str, Node], path: YPath) -> None:
    target = nodes.get(wait.node)
    if target is None:
        ctx.add((*path, "node"), f"unknown node '{wait.node}'{suggest(wait.node, nodes)}")
    elif not kinds.get(target.kind).own_namespace:  # no lifecycle (bridge, host)
        ctx.add((*path, "node"), f"'{wait.node}' is a {target.kind} node: it has no stages")


def _block(ctx: Context, raw: Any, path: YPath) -> dict[str, tuple[StageSpec, YPath]]:
    """One ``stages:`` mapping: stage name -> (spec, its path)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping of stage names (got {show(raw)})")
        return {}
    out: dict[str, tuple[StageSpec, YPath]] = {}
    for stage, body in raw.items():
        here = (*path, stage)
        if stage not in STAGES:
            ctx.add(here, f"unknown stage '{stage}'{suggest(str(stage), STAGES)}"
                    f" (stages: {', '.join(STAGES)})")
            continue
        if body is None:
            continue
        if not isinstance(body, dict):
            ctx.add(here, f"expected a mapping with wait-for and exec (got {show(body)})")
            continue
        _unknown(ctx, body, here, _STAGE_KEYS)
        waits = tuple(w for k, item in enumerate(_list(ctx, body.get("wait-for"),
                                                       (*here, "wait-for")))
                      if (w := _wait(ctx, item, (*here, "wait-for", k))) is not None)
        execs = tuple(e for item, where in _execs(ctx, body.get("exec"), (*here, "exec"))
                      if (e := _exec(ctx, item, stage, where)) is not None)
        out[stage] = (StageSpec(waits, execs), here)
    return out


def _execs(ctx: Context, raw: Any, path: YPath) -> list[tuple[Any, YPath]]:
    """A stage's exec entries and their paths; the map form becomes one entry per command
    with its phase (containerlab's schema, definitions.stage-exec)."""
    if not isinstance(raw, dict):
        return [(item, (*path, k)) for k, item in enumerate(_list(ctx, raw, path))]
    _unknown(ctx, raw, path, _PHASES)
    out: list[tuple[Any, YPath]] = []
    for phase in _PHASES:
        for k, command in enumerate(_list(ctx, raw.get(phase), (*path, phase))):
            where = (*path, phase, k)
            if isinstance(command, str):
                out.append(({"command": command, "phase": phase}, where))
            else:
                ctx.add(where, f"expected a command (got {show(command)})")
    return out


def _unknown(ctx: Context, raw: dict[str, Any], path: YPath, known: tuple[str, ...]) -> None:
    for key in raw:
        if key not in known:
            ctx.add((*path, key), f"unknown key '{key}'{suggest(str(key), known)}")


def _list(ctx: Context, raw: Any, path: YPath) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        ctx.add(path, f"expected a list (got {show(raw)})")
        return []
    return raw


def _text(ctx: Context, raw: dict[str, Any], key: str, path: YPath) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dict | list):
        ctx.add((*path, key), f"expected a string (got {show(value)})")
        return None
    return ctx.text((*path, key), value)


def _wait(ctx: Context, raw: Any, path: YPath) -> WaitFor | None:
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping with node and stage (got {show(raw)})")
        return None
    _unknown(ctx, raw, path, _WAIT_KEYS)
    node = _text(ctx, raw, "node", path)
    stage = _text(ctx, raw, "stage", path) or "create"  # containerlab's default
    if not node:
        ctx.add(path, "wait-for needs a node")
        return None
    if stage not in STAGES:
        ctx.add((*path, "stage"), f"unknown stage '{stage}'{suggest(stage, STAGES)}")
        return None
    return WaitFor(node, cast(Stage, stage), format_path(path), ctx.doc.line(path))


def _exec(ctx: Context, raw: Any, stage: str, path: YPath) -> StageExec | None:
    if isinstance(raw, str):
        raw = {"command": raw}
    if not isinstance(raw, dict):
        ctx.add(path, f"expected a mapping with command, target and phase (got {show(raw)})")
        return None
    _unknown(ctx, raw, path, _EXEC_KEYS)
    command = _text(ctx, raw, "command", path)
    target = _text(ctx, raw, "target", path) or "container"
    phase = _text(ctx, raw, "phase", path) or "on-enter"
    ok = True
    if not command:
        ctx.add(path, "exec needs a command")
        ok = False
    if target not in _TARGETS:
        ctx.add((*path, "target"), f"unknown target '{target}' (container or host)")
        ok = False
    if phase not in _PHASES:
        ctx.add((*path, "phase"), f"unknown phase '{phase}' (on-enter or on-exit)")
        ok = False
    on_restart = raw.get("on-restart", False)
    if not isinstance(on_restart, bool):
        ctx.add((*path, "on-restart"), f"expected true or false (got {show(on_restart)})")
        ok = False
    elif on_restart and not (stage == "configure" or (stage == "create-links"
                                                      and phase == "on-exit")):
        ctx.add((*path, "on-restart"), "only hooks after the links (create-links on-exit, "
                "configure) can run again on restart")
        ok = False
    if ok and stage == "create" and phase == "on-enter" and target == "container":
        ctx.add(path, "nothing to run in yet: the node is created during this stage")
        ctx.hint("run it `on-exit` of `create`, or with `target: host`")
        ok = False
    if not ok or command is None:
        return None
    return StageExec(command, cast(Literal["container", "host"], target),
                     cast(Literal["on-enter", "on-exit"], phase), bool(on_restart))
