"""Figures every bench script prints the same way: the median and the spread of its
repetitions, and the ratio against its baseline measured in the same run.

Standard library only (the scripts run under any python3).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stat:
    """The repetitions of one figure."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        return cls(tuple(v for v in values if v is not None))

    @property
    def median(self) -> float | None:
        return statistics.median(self.values) if self.values else None

    @property
    def low(self) -> float | None:
        return min(self.values) if self.values else None

    @property
    def high(self) -> float | None:
        return max(self.values) if self.values else None

    def show(self, unit: str = "s", scale: float = 1.0, digits: int = 3) -> str:
        """``median (min–max)``; only the median for a single value."""
        if not self.values:
            return "n/a"
        med = f"{self.median * scale:.{digits}f}"  # type: ignore[operator]
        if len(self.values) == 1:
            return f"{med} {unit}"
        return (f"{med} {unit} ({self.low * scale:.{digits}f}–"  # type: ignore[operator]
                f"{self.high * scale:.{digits}f})")  # type: ignore[operator]


def ratio(ours: Stat, baseline: Stat) -> float | None:
    """Median against median (both from the same run)."""
    if ours.median is None or not baseline.median:
        return None
    return ours.median / baseline.median


def show_ratio(ours: Stat, baseline: Stat, target: float | None = None,
               at_most: bool = True) -> str:
    """``1.23×``, with ``(target ≤ 1.5: met)`` when a target is given."""
    value = ratio(ours, baseline)
    if value is None:
        return "n/a"
    text = f"{value:.2f}×"
    if target is not None:
        met = value <= target if at_most else value >= target
        text += f" (target {'≤' if at_most else '≥'} {target:g}: {'met' if met else 'MISSED'})"
    return text


def line(name: str, ours: Stat, baseline_name: str, baseline: Stat, *,
         unit: str = "s", scale: float = 1.0, digits: int = 3, target: float | None = None,
         at_most: bool = True) -> str:
    """One summary line: both figures with their spread and the ratio."""
    return (f"{name}: {ours.show(unit, scale, digits)} vs {baseline_name}: "
            f"{baseline.show(unit, scale, digits)} -> "
            f"{show_ratio(ours, baseline, target, at_most)} (n={len(ours.values)})")
