"""The ``netknit-cni`` process: read the call, dispatch on the config's ``type``, answer
on stdout (result or the spec's error JSON), log on stderr.

A call is a process: :func:`launch` is what the installed launchers run (see
:func:`netknit.cni.install.install_binaries`), and everything on the path of an
ADD/DEL imports only modules that cost next to nothing to load.
"""

from __future__ import annotations

import os
import sys

from .._errors import NetknitError
from . import _spec
from ._codec import dumps, loads
from ._spec import CniError, Env

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

    Handler = Callable[[Env, dict[str, Any]], "dict[str, Any] | None"]


def _handlers(kind: str) -> dict[str, Handler]:
    if kind == "netknit-host-device":
        from . import _hostdev as m
        return {"ADD": m.add, "DEL": m.delete, "CHECK": m.check, "GC": m.gc,
                "STATUS": m.status}
    if kind == "netknit":
        from . import _meta as mm
        return {"ADD": mm.add, "DEL": mm.delete, "CHECK": mm.check, "GC": mm.gc,
                "STATUS": mm.status}
    raise CniError(_spec.INVALID_CONFIG, f"unknown plugin type {kind!r}",
                   "netknit-cni implements 'netknit-host-device' and 'netknit'")


def run(command: str, stdin: bytes, environ: dict[str, str] | os._Environ[str]
        ) -> dict[str, Any] | None:
    """One CNI call; returns the JSON to print (None: print nothing). Raises CniError."""
    if command == "VERSION":
        # the spec: "cniVersion: the value of cniVersion specified on input", supported
        # or not; the runtime picks from supportedVersions
        asked: Any = "1.1.0"
        if stdin.strip():
            asked = _spec.parse_config(stdin).get("cniVersion") or asked
        return {"cniVersion": asked if isinstance(asked, str) else "1.1.0",
                "supportedVersions": list(_spec.SUPPORTED_VERSIONS)}
    env = Env.from_environ(environ)
    conf = _spec.parse_config(stdin)
    version = _spec.check_version(conf)
    if command in ("STATUS", "GC") and _spec.version_key(version) < (1, 1, 0):
        raise CniError(_spec.INCOMPATIBLE_VERSION,
                       f"{command} needs cniVersion 1.1.0, the config says {version}")
    for key in ("name", "type"):
        if not isinstance(conf.get(key), str) or not conf[key]:
            raise CniError(_spec.INVALID_CONFIG, f"the network configuration has no {key!r}")
    return _handlers(conf["type"])[command](env, conf)


def main() -> int:
    command = os.environ.get("CNI_COMMAND", "")
    version = "1.1.0"
    try:
        stdin = sys.stdin.buffer.read()
        try:
            given = loads(stdin).get("cniVersion") if stdin.strip() else None
            if given in _spec.SUPPORTED_VERSIONS:
                version = given
        except (ValueError, AttributeError):
            pass
        out = run(command, stdin, os.environ)
    except CniError as exc:
        error = exc
    except NetknitError as exc:
        error = CniError(_spec.KERNEL_FAILURE, exc.message, exc.hint or "")
    except Exception as exc:  # the runtime must get an error JSON whatever happened
        import traceback

        traceback.print_exc(file=sys.stderr)
        error = CniError(_spec.KERNEL_FAILURE, f"internal error: {exc!r}")
    else:
        if out is not None:
            sys.stdout.write(dumps(out) + "\n")
        return 0
    print(f"netknit-cni: {command} failed: {error.msg}"
          + (f" ({error.details})" if error.details else ""), file=sys.stderr)
    sys.stdout.write(dumps(error.to_json(version)) + "\n")
    return 1


def launch() -> NoReturn:
    """One CNI call as a process: :func:`main`, then exit without tearing the
    interpreter down (module and object cleanup would cost ~20 ms for nothing: the
    kernel closes every socket and namespace fd the call still holds). It does not go
    through a resident process (``netknit resident``): measured, that costs more than
    the few imports a call makes, since the launcher's interpreter starts anyway."""
    try:
        code = main()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:  # noqa: SIM105 - no contextlib on the plugin's path (import cost)
                stream.flush()
            except (OSError, ValueError):
                pass
    os._exit(code)
