"""One rendered rainy frame and its layers, whichever renderer made it."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np


class RainFrame(NamedTuple):
    rainy: np.ndarray  # uint8 H x W x 3
    drop_mask: np.ndarray  # bool H x W: where drops cover the image (M > 0)
    streaks: np.ndarray | None  # float32: S (legacy: H x W grey added to every channel; car: H x W x 3, signed; None if not asked for)
    drops: np.ndarray  # float32 H x W x 3: R, the drops' appearance (premultiplied by M)
    info: dict[str, Any]  # the rain parameters of this frame, JSON-ready (recorded in the manifest)
    drop_alpha: np.ndarray | None = None  # float32 H x W: M, the drops' soft coverage in [0, 1] (car renderer)
    veil: np.ndarray | None = None  # float32 H x W x 3: V, the veil term (car renderer, None if not asked for), see rain/car.py
