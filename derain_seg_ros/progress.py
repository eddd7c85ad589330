"""Progress bars: tqdm's where it is installed (the ``tools`` extra), else a silent stand-in, so a
vehicle install (no tqdm) still runs ``infer`` and ``bench``."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

try:
    from tqdm import tqdm as progress
except ImportError:  # pragma: no cover - exercised by the vehicle-install test in a subprocess

    class progress:  # type: ignore[no-redef]  # noqa: N801 - stands in for tqdm's class
        """The parts of tqdm's interface this package uses, doing nothing."""

        def __init__(self, iterable: Iterable[Any] | None = None, **_: Any) -> None:
            self.iterable = iterable

        def __iter__(self) -> Iterator[Any]:
            return iter(self.iterable or ())

        def __enter__(self) -> progress:
            return self

        def __exit__(self, *_: object) -> None:
            return None

        def update(self, n: int = 1) -> None:
            return None

        def close(self) -> None:
            return None


__all__ = ["progress"]
