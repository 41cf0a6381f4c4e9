"""The command lines scripts run most, ``netknit deploy`` and ``netknit destroy``,
read without click.

Importing click and the definitions of every command costs ~15 ms of each start, about
as much as a 2-node deploy's kernel work (issue 18). :data:`SPEC` is click's own
definition of these two commands (:func:`netknit.cli.fast_spec`), written out here and
checked against it by ``tests/unit/test_fastargv.py``, which prints the new table when a
flag changes. :func:`parse` reads a command line only when click would read it the same
way and accept it; anything else gets None and goes to click: help, aliases, global
flags, ``--``, joined short flags, a flag given twice, a flag with a callback or a type
of its own, a value click would refuse, an environment variable click would read. Errors
and help are click's alone.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

#: per command: the positional parameter; each flag's parameter and what it takes
#: ("flag"; "text"; "texts", repeatable; ["choice", ...]; ["int", min, max], None:
#: unbounded); every parameter's value when not given; the environment variables click
#: reads for the command (given one, click reads the command line)
SPEC: dict[str, dict[str, Any]] = {
    "deploy": {
        "argument": "topo_arg",
        "flags": {
            "--dry-run": ["dry_run", "flag"],
            "--format": ["fmt", ["choice", "table", "json"]],
            "--graph": ["graph", "flag"],
            "--host": ["host", "text"],
            "--max-workers": ["max_workers", ["int", 1, 256]],
            "--network": ["network", "text"],
            "--node-filter": ["node_filter", "texts"],
            "--quiet": ["quiet", "flag"],
            "--reconfigure": ["reconfigure", "flag"],
            "--runtime": ["runtime", ["choice", "netns", "docker"]],
            "--sandbox-image": ["sandbox_image", "text"],
            "--skip-labdir-acl": ["skip_labdir_acl", "flag"],
            "--skip-post-deploy": ["skip_post_deploy", "flag"],
            "--topo": ["topo_opt", "text"],
            "-c": ["reconfigure", "flag"],
            "-f": ["fmt", ["choice", "table", "json"]],
            "-g": ["graph", "flag"],
            "-q": ["quiet", "flag"],
            "-r": ["runtime", ["choice", "netns", "docker"]],
            "-t": ["topo_opt", "text"],
        },
        "defaults": {
            "dry_run": False, "export_rendered": None, "export_template": None, "fmt": "table",
            "graph": False, "host": None, "ipv4_subnet": None, "ipv6_subnet": None,
            "max_workers": None, "network": None, "node_filter": (), "owner": None,
            "quiet": False, "reconfigure": False, "restore": (), "restore_all": None,
            "runtime": None, "sandbox_image": None, "skip_labdir_acl": False,
            "skip_post_deploy": False, "topo_arg": None, "topo_opt": None,
        },
        "environment": [
            "CLAB_DEBUG", "CLAB_DEPLOY_DEBUG", "CLAB_DEPLOY_DRY_RUN",
            "CLAB_DEPLOY_EXPORT_RENDERED", "CLAB_DEPLOY_EXPORT_TEMPLATE", "CLAB_DEPLOY_FMT",
            "CLAB_DEPLOY_GRAPH", "CLAB_DEPLOY_HOST", "CLAB_DEPLOY_IPV4_SUBNET",
            "CLAB_DEPLOY_IPV6_SUBNET", "CLAB_DEPLOY_LOG_LEVEL", "CLAB_DEPLOY_MAX_WORKERS",
            "CLAB_DEPLOY_NAME", "CLAB_DEPLOY_NETWORK", "CLAB_DEPLOY_NODE_FILTER",
            "CLAB_DEPLOY_OWNER", "CLAB_DEPLOY_QUIET", "CLAB_DEPLOY_RECONFIGURE",
            "CLAB_DEPLOY_RESTORE", "CLAB_DEPLOY_RESTORE_ALL", "CLAB_DEPLOY_RUNTIME",
            "CLAB_DEPLOY_SANDBOX_IMAGE", "CLAB_DEPLOY_SKIP_LABDIR_ACL",
            "CLAB_DEPLOY_SKIP_POST_DEPLOY", "CLAB_DEPLOY_TIMEOUT", "CLAB_DEPLOY_TOPO_OPT",
            "CLAB_DEPLOY_VARS", "CLAB_DEPLOY__CLICK_DEFAULT_HELP", "CLAB_LOG_LEVEL",
            "CLAB_NAME", "CLAB_RUNTIME", "CLAB_TIMEOUT", "CLAB_TOPO", "CLAB_VARS",
            "CLAB_VERSION", "CLAB__CLICK_DEFAULT_HELP", "_NETKNIT_COMPLETE",
        ],
    },
    "destroy": {
        "argument": "topo_arg",
        "flags": {
            "--all": ["all_labs", "flag"],
            "--cleanup": ["cleanup", "flag"],
            "--graceful": ["graceful", "flag"],
            "--keep-mgmt-net": ["keep_mgmt_net", "flag"],
            "--max-workers": ["max_workers", ["int", 0, None]],
            "--node-filter": ["node_filter", "texts"],
            "--quiet": ["quiet", "flag"],
            "--topo": ["topo_opt", "text"],
            "--yes": ["yes", "flag"],
            "-a": ["all_labs", "flag"],
            "-c": ["cleanup", "flag"],
            "-q": ["quiet", "flag"],
            "-t": ["topo_opt", "text"],
            "-y": ["yes", "flag"],
        },
        "defaults": {
            "all_labs": False, "cleanup": False, "graceful": False, "keep_mgmt_net": False,
            "max_workers": None, "node_filter": (), "quiet": False, "topo_arg": None,
            "topo_opt": None, "yes": False,
        },
        "environment": [
            "CLAB_DEBUG", "CLAB_DESTROY_ALL_LABS", "CLAB_DESTROY_CLEANUP", "CLAB_DESTROY_DEBUG",
            "CLAB_DESTROY_GRACEFUL", "CLAB_DESTROY_KEEP_MGMT_NET", "CLAB_DESTROY_LOG_LEVEL",
            "CLAB_DESTROY_MAX_WORKERS", "CLAB_DESTROY_NAME", "CLAB_DESTROY_NODE_FILTER",
            "CLAB_DESTROY_QUIET", "CLAB_DESTROY_RUNTIME", "CLAB_DESTROY_TIMEOUT",
            "CLAB_DESTROY_TOPO_OPT", "CLAB_DESTROY_VARS", "CLAB_DESTROY_YES",
            "CLAB_DESTROY__CLICK_DEFAULT_HELP", "CLAB_LOG_LEVEL", "CLAB_NAME", "CLAB_RUNTIME",
            "CLAB_TIMEOUT", "CLAB_TOPO", "CLAB_VARS", "CLAB_VERSION",
            "CLAB__CLICK_DEFAULT_HELP", "_NETKNIT_COMPLETE",
        ],
    },
}


def parse(argv: Sequence[str], environ: Mapping[str, str]
          ) -> tuple[str, dict[str, Any]] | None:
    """``(command, its parameters as click would pass them)``, or None: click reads it."""
    if not argv or argv[0] not in SPEC:
        return None
    spec = SPEC[argv[0]]
    if any(name in environ for name in spec["environment"]):
        return None
    flags: dict[str, list[Any]] = spec["flags"]
    params: dict[str, Any] = dict(spec["defaults"])
    given: set[str] = set()
    rest = list(argv[1:])
    while rest:
        token = rest.pop(0)
        if token == "-" or not token.startswith("-"):
            name = spec["argument"]
            value: Any = token
        else:
            flag, equals, attached = token.partition("=")
            if flag not in flags or (equals and not flag.startswith("--")):
                return None  # unknown here, joined short flags, -tFILE, --, -h
            name, takes = flags[flag]
            if takes == "flag":
                if equals:
                    return None
                value = True
            else:
                if not equals and not rest:
                    return None
                value = attached if equals else rest.pop(0)
                if takes == "texts":
                    params[name] = (*params[name], value)
                    continue
                if takes != "text":
                    value = _converted(value, takes)
                    if value is None:
                        return None
        if name is None or name in given:
            return None  # a second argument, or a flag given twice
        given.add(name)
        params[name] = value
    return argv[0], params


def _converted(text: str, takes: list[Any]) -> str | int | None:
    """``text`` as click passes it (a choice as it is, an int from its digits); None
    where click might refuse or read it otherwise."""
    if takes[0] == "choice":
        return text if text in takes[1:] else None
    low, high = takes[1], takes[2]
    if not (text.isascii() and text.isdigit()):
        return None
    number = int(text)
    in_range = (low is None or number >= low) and (high is None or number <= high)
    return number if in_range else None
