"""JSON for a process-per-call plugin: the C half of the standard ``json`` module.

``import json`` costs ~10 ms on a small VM (it pulls in ``re``, and ``re`` pulls in
``enum``); every CNI call is a new process, so the plugin drives ``_json`` (the C
accelerator that ``json`` itself uses) directly. Same parser, same output as
``json.loads``/``json.dumps`` with their defaults, for the JSON a CNI call exchanges.
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_WS = " \t\n\r"


class _Context:
    """What ``_json.make_scanner`` reads from ``json.JSONDecoder`` (its defaults)."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = float  # NaN, Infinity, -Infinity, as json.loads accepts them


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]


def loads(data: bytes | str) -> Any:
    """``json.loads`` for UTF-8 input; raises ValueError (or UnicodeDecodeError)."""
    if isinstance(data, bytes | bytearray):
        # a BOM is skipped as the "utf-8-sig" codec would, without loading that codec
        # (its module costs ~0.2 ms per call); the "utf-8" one is loaded at start-up
        text = (data[3:] if data[:3] == b"\xef\xbb\xbf" else data).decode()
    else:
        text = data
    start = len(text) - len(text.lstrip(_WS))
    try:
        value, end = _scan(text, start)
    except StopIteration as exc:
        raise ValueError(f"expecting a JSON value at character {exc.value}") from None
    except SystemError:
        # the C scanner builds its error (json.decoder.JSONDecodeError) only if
        # json.decoder is loaded already, and fails without one otherwise: on this
        # error path, let the json module itself say what is wrong
        import json

        return json.loads(text)
    if text[end:].strip(_WS):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _unsupported(obj: object) -> object:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def dumps(obj: Any) -> str:
    """``json.dumps(obj)`` with its defaults (ASCII output, ", " and ": ")."""
    encode = _json.make_encoder({}, _unsupported, _json.encode_basestring_ascii, None,
                                ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))
