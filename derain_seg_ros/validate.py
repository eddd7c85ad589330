"""Values checked where they enter: argparse types that refuse out-of-range numbers in one line.

A value that only fails deep inside (``--overlay-alpha 5`` after some outputs were written,
``--rate nan`` in the bag writer, ``--time-step -1`` as ``Infinity`` in a JSON file) is refused
before anything runs, with the range it takes. Each factory returns an argparse ``type``; its
``ArgumentTypeError`` becomes argparse's usual one-line ``error: argument --x: ...``. ``in_range``
does the same check for a value known only later (a rain process's number of steps).
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from derain_seg_ros.errors import DerainSegError


class ValueRangeError(DerainSegError, argparse.ArgumentTypeError, ValueError):
    """A number outside the range its option takes."""


def _range_text(low: float | None, high: float | None, kind: str) -> str:
    if low is not None and high is not None:
        return f"{kind} in [{low:g}, {high:g}]"
    if low is not None:
        return f"{kind} >= {low:g}"
    return f"{kind} <= {high:g}" if high is not None else kind


def number(low: float | None = None, high: float | None = None, *, integer: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number (a whole one with ``integer``) within [low, high]."""
    kind = "a whole number" if integer else "a number"

    def parse(text: str) -> float:
        try:
            value: float = int(text) if integer else float(text)
        except ValueError:
            raise ValueRangeError(f"expected {_range_text(low, high, kind)}, got {text!r}") from None
        in_range(value, low, high, what=None, integer=integer, shown=text)
        return value

    parse.__name__ = "int" if integer else "float"  # argparse names the type in some messages
    return parse


def in_range(
    value: float,
    low: float | None,
    high: float | None,
    what: str | None,
    *,
    integer: bool = False,
    shown: str | None = None,
) -> float:
    """``value`` if finite and within [low, high]; else a ``ValueRangeError`` naming ``what`` and the range."""
    kind = "a whole number" if integer else "a number"
    ok = math.isfinite(value) and (low is None or value >= low) and (high is None or value <= high)
    if not ok:
        prefix = f"{what} takes " if what else "expected "
        raise ValueRangeError(f"{prefix}{_range_text(low, high, kind)}, got {shown if shown is not None else value!r}")
    return value


POSITIVE_INT = number(1, integer=True)
NON_NEGATIVE_INT = number(0, integer=True)
UNIT_INTERVAL = number(0.0, 1.0)


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0 (a rate, a time)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueRangeError(f"expected a number > 0, got {text!r}")
    return value


def finite_number(text: str) -> float:
    """An argparse type: any finite number (a UNIX time)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueRangeError(f"expected a finite number, got {text!r}")
    return value
