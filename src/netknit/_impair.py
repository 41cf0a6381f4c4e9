"""Link impairment: what ``tools netem`` sets and the topology's ``impairment:`` asks for.

Units are containerlab's (``tools netem set``): delay and jitter are Go durations
(``10ms``, ``1.5s``), loss and corruption percentages, rate kbit/s (1000 bits). netknit
also reads a rate with a unit as tc writes it (``1mbit``, ``500kbit``, ``2mbps``).

A leaf module: the topology loader, the plan, the kernel layer and the CLI share it.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ._dataclass import dataclass

#: the keys of a topology ``impairment:`` mapping (and of ``tools netem show -f json``'s
#: view, there with containerlab's ``packet_loss``)
KEYS = ("delay", "jitter", "loss", "rate", "corruption")

_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
       "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
#: tc's rate units (``man tc``): bit and bps (bytes) with SI and IEC prefixes
_RATE_UNITS = {"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9, "tbit": 1e12,
               "kibit": 1024, "mibit": 1024**2, "gibit": 1024**3, "tibit": 1024**4,
               "bps": 8, "kbps": 8e3, "mbps": 8e6, "gbps": 8e9, "tbps": 8e12,
               "kibps": 8 * 1024, "mibps": 8 * 1024**2, "gibps": 8 * 1024**3,
               "tibps": 8 * 1024**4}
_RATE = re.compile(r"(\d+(?:\.\d*)?|\.\d+)\s*([a-z]*)")
#: the largest rate a netem or tbf qdisc holds (u64 bytes/s), in kbit/s
RATE_MAX = (2**64 - 1) * 8 // 1000


@dataclass(frozen=True, slots=True)
class Impairment:
    """What to do to the frames an interface sends (its egress). All zero: nothing."""

    delay: int = 0  # ns
    jitter: int = 0  # ns
    loss: float = 0.0  # percent
    rate: int = 0  # kbit/s; 0: not limited
    corruption: float = 0.0  # percent

    @property
    def netem(self) -> bool:
        """Does it need the netem qdisc (sch_netem)? A rate alone is tbf's."""
        return bool(self.delay or self.jitter or self.loss or self.corruption)

    def __bool__(self) -> bool:
        return self.netem or bool(self.rate)

    def words(self) -> str:
        """``delay 10ms, jitter 1ms, loss 0.5%, rate 1000 kbit, corruption 0.1%``."""
        parts = [f"delay {go_duration(self.delay)}" if self.delay else "",
                 f"jitter {go_duration(self.jitter)}" if self.jitter else "",
                 f"loss {self.loss:g}%" if self.loss else "",
                 f"rate {self.rate} kbit" if self.rate else "",
                 f"corruption {self.corruption:g}%" if self.corruption else ""]
        return ", ".join(p for p in parts if p) or "none"

    def to_json(self) -> dict[str, Any]:
        """The topology's spelling: the keys of :data:`KEYS`, units as written there."""
        return {"delay": go_duration(self.delay) if self.delay else "",
                "jitter": go_duration(self.jitter) if self.jitter else "",
                "loss": self.loss, "rate": self.rate, "corruption": self.corruption}

    @classmethod
    def from_json(cls, data: Any) -> Impairment:
        """From :meth:`to_json`'s mapping (or a topology's); ValueError naming the key."""
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping with {', '.join(KEYS)}")
        unknown = sorted(set(data) - set(KEYS))
        if unknown:
            raise ValueError(f"unknown key '{unknown[0]}' (known: {', '.join(KEYS)})")
        return make(delay=data.get("delay"), jitter=data.get("jitter"),
                    loss=data.get("loss"), rate=data.get("rate"),
                    corruption=data.get("corruption"))


def make(*, delay: Any = None, jitter: Any = None, loss: Any = None, rate: Any = None,
         corruption: Any = None) -> Impairment:
    """An impairment from values as a user writes them; ValueError (``key: why``) when
    one is not understood or out of range. None: not given (zero)."""
    imp = Impairment(
        delay=_field("delay", delay, parse_duration),
        jitter=_field("jitter", jitter, parse_duration),
        loss=_field("loss", loss, _percent),
        rate=_field("rate", rate, parse_rate),
        corruption=_field("corruption", corruption, _percent),
    )
    if imp.jitter and not imp.delay:
        raise ValueError("jitter: jitter cannot be set without setting delay")
    return imp


def _field(key: str, value: Any, parse: Any) -> Any:
    try:
        return parse(0 if value is None else value)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def _percent(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected a percentage like 0.1 (got {value!r})")
    try:
        number = float(str(value).strip().removesuffix("%"))
    except ValueError:
        raise ValueError(f"expected a percentage like 0.1 (got {value!r})") from None
    if not 0 <= number <= 100:
        raise ValueError(f"must be in the range between 0 and 100 (got {value!r})")
    return number


def parse_duration(value: Any) -> int:
    """A Go duration (``100ms``, ``1.5s``, ``1m30s``; a bare ``0``) in nanoseconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return 0
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 10ms or 1.5s (got {value!r})")
    text = value.strip()
    if text in ("0", ""):
        return 0
    pos, total = 0, 0.0
    for match in _DURATION.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _NS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(f"expected a duration like 10ms or 1.5s (got {value!r}); units: "
                         "ns, us, ms, s, m, h")
    if total >= 2**63:
        raise ValueError(f"too long (got {value!r})")
    return round(total)


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``, as containerlab prints delay and jitter."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 1_000:
        return f"{sign}{ns}ns"
    if ns < 1_000_000:
        return f"{sign}{_trim(ns, 1_000)}µs"
    if ns < 1_000_000_000:
        return f"{sign}{_trim(ns, 1_000_000)}ms"
    out = ""
    hours, ns = divmod(ns, 3_600_000_000_000)
    minutes, ns = divmod(ns, 60_000_000_000)
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    return f"{sign}{out}{_trim(ns, 1_000_000_000)}s"


def _trim(ns: int, unit: int) -> str:
    whole, frac = divmod(ns, unit)
    digits = len(str(unit)) - 1
    return f"{whole}.{frac:0{digits}d}".rstrip("0").rstrip(".") if frac else str(whole)


def parse_rate(value: Any) -> int:
    """A rate in kbit/s: a whole number (containerlab's ``--rate``: kbit) or a number
    with tc's unit (``1mbit``, ``500kbit``, ``2mbps``: bytes)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"expected kbit/s or a rate like 1mbit (got {value!r})")
    text = str(value).strip().lower()
    match = _RATE.fullmatch(text)
    if match is None or (match.group(2) and match.group(2) not in _RATE_UNITS):
        raise ValueError(f"expected kbit/s or a rate like 1mbit or 500kbit (got {value!r})")
    number = float(match.group(1))
    bits = number * (_RATE_UNITS[match.group(2)] if match.group(2) else 1000)
    kbit = math.ceil(bits / 1000) if bits else 0
    if kbit > RATE_MAX:
        raise ValueError(f"too high (got {value!r})")
    if bits and kbit < 8:
        raise ValueError(f"too low: at least 8 kbit/s (got {value!r})")
    return kbit
