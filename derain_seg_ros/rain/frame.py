"""One rendered rainy frame and its layers, whichever renderer made it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import numpy as np


class RainFrame(NamedTuple):
    rainy: np.ndarray  # uint8 H x W x 3
    drop_mask: np.ndarray  # bool H x W: where drops cover the image (M > 0)
    # float32: S (paper preset: H x W grey added to every channel; car: H x W x 3, signed; None if not asked for)
    streaks: np.ndarray | None
    drops: np.ndarray  # float32 H x W x 3: R, the drops' appearance (premultiplied by M)
    info: dict[str, Any]  # the rain parameters of this frame, JSON-ready (recorded in the manifest)
    drop_alpha: np.ndarray | None = None  # float32 H x W: M, the drops' soft coverage in [0, 1] (car renderer)
    # float32 H x W x 3: V, the veil term (car renderer, None if not asked for), see rain/car.py
    veil: np.ndarray | None = None


class ParamsRenderer:
    """What the rain presets share: fixed parameters (with ``num_steps``) and a render function of them,
    ``render_fn(clean, seed, time_step, params, layers)``. A preset names its parameters' class and function."""

    preset: ClassVar[str]
    default_params: ClassVar[Callable[[], Any]]
    render_fn: ClassVar[Callable[..., RainFrame]]

    def __init__(self, params: Any = None) -> None:
        self.params = params or self.default_params()
        self.num_steps: int = self.params.num_steps

    def render(self, clean: np.ndarray, seed: int, time_step: int, layers: bool = True) -> RainFrame:
        return type(self).render_fn(clean, seed, time_step, self.params, layers)
